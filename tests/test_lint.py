"""lint: unsafe patterns in valid templates, one line each; exit 0 clean, 1 warnings, 2 invalid.

Each file in tests/lint_cases/ states what lint must say of it in ``# expect:`` lines
(``LINE PLACE: message start``); a file with none must draw no warning.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import REPO, wraprun, write

CASES = REPO / "tests" / "lint_cases"
LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<place>\S+): (?P<message>.+) \((?P<suggestion>.+)\)$")
EXPECT = re.compile(r"^# expect: (?P<line>\d+) (?P<place>\S+): (?P<message>.+)$")


def expected(path: Path) -> list[tuple[int, str, str]]:
    found = []
    for text in path.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(text)
        if match:
            found.append((int(match["line"]), match["place"], match["message"]))
    return found


def warnings(stdout: str) -> list[dict[str, str]]:
    """Every line of lint's output, parsed: each must have the one-line form."""
    parsed = []
    for text in stdout.splitlines():
        match = LINE.match(text)
        assert match, f"not FILE:LINE: PLACE: message (suggestion): {text!r}"
        parsed.append(match.groupdict())
    return parsed


def test_every_pattern_has_a_bad_case_and_good_cases() -> None:
    bad = [p for p in CASES.glob("*.yaml") if expected(p)]
    good = [p for p in CASES.glob("*.yaml") if not expected(p)]
    assert len(bad) >= 15 and len(good) >= 5


@pytest.mark.parametrize("case", sorted(CASES.glob("*.yaml")), ids=lambda p: p.stem)
def test_lint_finds_exactly_the_expected_warnings(case: Path) -> None:
    want = expected(case)
    result = wraprun("lint", str(case))
    assert result.stderr == ""
    assert result.returncode == (1 if want else 0), result.stdout
    got = warnings(result.stdout)
    assert all(w["file"] == str(case) for w in got)
    assert Counter((int(w["line"]), w["place"]) for w in got) == Counter(
        (line, place) for line, place, _ in want
    )
    for line, place, message in want:
        said = [w["message"] for w in got if (int(w["line"]), w["place"]) == (line, place)]
        assert any(text.startswith(message) for text in said), (message, said)


def test_shipped_templates_and_examples_are_clean() -> None:
    shipped = sorted((REPO / "templates").glob("*.yaml")) + sorted((REPO / "examples").glob("*.yaml"))
    assert len(shipped) >= 9
    result = wraprun("lint", *map(str, shipped))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_hook_that_forwards_what_lint_suggests_is_clean(tmp_path: Path) -> None:
    """The three drops-* cases, each with the field lint asked for added, draw no warning."""
    hook: dict[str, Any] = {"command": "docker", "args": ["exec", "ctr", "{{WrappedAction.Command}}"]}
    env = {
        "specificationVersion": "environment-2023-09",
        "extensions": ["WRAP_ACTIONS", "EXPR", "FEATURE_BUNDLE_1"],
        "environment": {
            "name": "E",
            "script": {"actions": dict.fromkeys(("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit"), hook)},
        },
    }
    dropped = wraprun("lint", str(write(tmp_path / "dropped.yaml", env)))
    assert dropped.returncode == 1
    assert {w["message"].split(":")[0] for w in warnings(dropped.stdout)} == {
        "drops WrappedAction.Environment",
        "drops WrappedAction.Timeout",
        "drops WrappedAction.Cancelation",
    }
    hook["args"][1:1] = ["{{ flatten([['-e', e] for e in WrappedAction.Environment]) }}"]
    hook["timeout"] = "{{WrappedAction.Timeout}}"
    hook["cancelation"] = {
        "mode": "{{WrappedAction.Cancelation.Mode}}",
        "notifyPeriodInSeconds": "{{WrappedAction.Cancelation.NotifyPeriodInSeconds}}",
    }
    fixed = wraprun("lint", str(write(tmp_path / "fixed.yaml", env)))
    assert (fixed.returncode, fixed.stdout) == (0, "")


def test_an_invalid_template_exits_2_as_check_reports_it(tmp_path: Path) -> None:
    invalid = write(tmp_path / "invalid.yaml", {"specificationVersion": "jobtemplate-2023-09", "name": "X"})
    bad = CASES / "sh-c-param.yaml"
    result = wraprun("lint", str(bad), str(invalid))
    assert result.returncode == 2
    assert result.stderr == wraprun("check", str(invalid)).stderr
    assert str(invalid) in result.stderr and len(result.stderr.splitlines()) == 1
    assert [w["file"] for w in warnings(result.stdout)] == [str(bad)]  # the valid file is still linted
    missing = wraprun("lint", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2 and "missing.yaml" in missing.stderr and missing.stdout == ""


def test_check_strict_adds_the_warnings(tmp_path: Path) -> None:
    bad, good = CASES / "python3-c.yaml", CASES / "good-quoted.yaml"
    plain = wraprun("check", str(bad))
    assert (plain.returncode, plain.stderr) == (0, "")
    strict = wraprun("check", "--strict", str(bad), str(good))
    assert strict.returncode == 1
    assert strict.stdout.splitlines() == [f"{bad}: valid job template", f"{good}: valid job template"]
    assert [w["place"] for w in warnings(strict.stderr)] == ["steps[0].script.actions.onRun.args[1]"]
    assert wraprun("check", "--strict", str(good)).returncode == 0
    invalid = write(tmp_path / "invalid.yaml", {"specificationVersion": "jobtemplate-2023-09"})
    assert wraprun("check", "--strict", str(bad), str(invalid)).returncode == 2
    document = wraprun("check", "--strict", "--output", "json", str(bad))
    assert document.returncode == 1
    assert json.loads(document.stdout)["status"] == "success"  # stdout stays check's document
    assert len(warnings(document.stderr)) == 1


# Rule 1 as a property: any string expression over a controlled value warns raw, and is
# silent inside the interpreter's own repr_* function or as a separate argument after the code.

INTERPRETERS = [
    ("sh", ["-c"], "repr_sh", True),
    ("/bin/bash", ["-ec"], "repr_sh", True),
    ("/usr/bin/env", ["LC_ALL=C", "bash", "-xc"], "repr_sh", True),
    ("python3", ["-I", "-c"], "repr_py", True),
    ("cmd.exe", ["/C"], "repr_cmd", False),
    ("pwsh", ["-NoProfile", "-Command"], "repr_pwsh", False),
]
SOURCES = ["Param.Name", "RawParam.Name", "RawParam.Out", "Task.Param.Who", "Task.RawParam.Who"]
TRANSFORMS = [
    "{}.upper()",
    "({} + '-x')",
    "('x-' + {})",
    "({} if Param.Loud else 'quiet')",
    "[{}, 'z'][0]",
    "{}.split(',')[0]",
]


def _compose(source: str, transforms: list[str]) -> str:
    for transform in transforms:
        source = transform.format(source)
    return source


expressions = st.builds(_compose, st.sampled_from(SOURCES), st.lists(st.sampled_from(TRANSFORMS), max_size=3))
literal = st.text(st.characters(codec="ascii", categories=["L", "N", "Zs"]), max_size=8)
"""Text around the interpolation (a code string that is one whole interpolation is the
program itself, by design, and draws no warning: see good-code-parameter.yaml)."""


def _step(name: str, command: str, args: list[str]) -> dict[str, Any]:
    space = {"taskParameterDefinitions": [{"name": "Who", "type": "STRING", "range": ["a"]}]}
    return {
        "name": name,
        "parameterSpace": space,
        "script": {"actions": {"onRun": {"command": command, "args": args}}},
    }


@settings(max_examples=12, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(INTERPRETERS), expressions, literal, literal), min_size=1, max_size=6)
)
def test_the_interpreters_quoting_function_silences_rule_1(cases: list[Any]) -> None:
    steps, raw = [], {}
    for index, ((command, flags, quoter, positional), expression, before, after) in enumerate(cases):
        code = len(flags)
        before = f"run {before}"
        steps.append(_step(f"Raw{index}", command, [*flags, f"{before}{{{{{expression}}}}}{after}"]))
        raw[f"steps[{len(steps) - 1}].script.actions.onRun.args[{code}]"] = expression
        steps.append(
            _step(f"Quoted{index}", command, [*flags, f"{before}{{{{{quoter}({expression})}}}}{after}"])
        )
        if positional:
            steps.append(
                _step(
                    f"Argument{index}", command, [*flags, f"{before}{after}", "$0", f"{{{{{expression}}}}}"]
                )
            )
    job = {
        "specificationVersion": "jobtemplate-2023-09",
        "extensions": ["EXPR"],
        "name": "Property",
        "parameterDefinitions": [
            {"name": "Name", "type": "STRING", "default": "n"},
            {"name": "Out", "type": "PATH", "default": "/tmp/o"},
            {"name": "Loud", "type": "BOOL", "default": False},
        ],
        "steps": steps,
    }
    with tempfile.TemporaryDirectory() as folder:
        result = wraprun("lint", str(write(Path(folder) / "job.yaml", job)))
    assert result.returncode == 1 and result.stderr == "", result.stderr
    got = warnings(result.stdout)
    assert {w["place"] for w in got} == set(raw)
    for w in got:
        source = next(s for s in SOURCES if re.search(rf"(?<![\w.]){re.escape(s)}\b", raw[w["place"]]))
        assert w["message"].startswith(f"{source} is interpolated raw into code run by "), w
