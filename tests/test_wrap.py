"""wrap: the pure RFC 0008 transform, and argv fidelity through a shell-rebuilding hook."""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openjd import _openjd_rs as rs

from wraprun import wrap
from wraprun.actions import ResolvedAction
from wraprun.templates import load

from .helpers import wraprun, write


def env_template(tmp: Path, name: str, hooks: bool) -> object:
    actions: dict[str, object] = {"onEnter": {"command": "true"}}
    if hooks:
        for hook in wrap.HOOKS:
            actions[hook] = {"command": "true"}
    path = write(
        tmp / f"{name}.yaml",
        {
            "specificationVersion": "environment-2023-09",
            "extensions": ["WRAP_ACTIONS", "EXPR"],
            "environment": {"name": name, "script": {"actions": actions}},
        },
    )
    return load(path).model.environment


def test_find_wrapper_at_any_position(tmp_path: Path) -> None:
    plain, wrapping = env_template(tmp_path, "A", False), env_template(tmp_path, "W", True)
    assert wrap.find_wrapper([("a", plain), ("w", wrapping), ("b", plain)]) == 1
    assert wrap.find_wrapper([("a", plain)]) is None


def test_two_wrappers_are_rejected_naming_both(tmp_path: Path) -> None:
    first, second = env_template(tmp_path, "W1", True), env_template(tmp_path, "W2", True)
    with pytest.raises(wrap.WrapError, match=r"'W1' \(--env x\) and 'W2' \(job environment\)"):
        wrap.find_wrapper([("--env x", first), ("job environment", second)])


def test_wrapped_symbols_types_and_nulls() -> None:
    inner = ResolvedAction(("cmd", "a b", ""), None, 300, None, None)
    values = wrap.wrapped_symbols(inner, ["K=v"], step_name="S")
    assert values["WrappedAction.Args"].item() == ["a b", ""]
    assert str(values["WrappedAction.Args"].type) == "list[string]"
    assert values["WrappedAction.Timeout"].is_null  # the default 300 is not the declared timeout
    assert values["WrappedAction.Cancelation.Mode"].is_null
    assert values["WrappedAction.Cancelation.NotifyPeriodInSeconds"].is_null
    assert values["WrappedStep.Name"].item() == "S" and "WrappedEnv.Name" not in values


def test_notify_period_only_for_notify_then_terminate() -> None:
    notify = ResolvedAction(("c",), 10, 10, "NOTIFY_THEN_TERMINATE", 120)
    values = wrap.wrapped_symbols(notify, [], env_name="E")
    assert values["WrappedAction.Cancelation.NotifyPeriodInSeconds"].item() == 120
    assert values["WrappedAction.Timeout"].item() == 10
    terminate = ResolvedAction(("c",), None, None, "TERMINATE", None)
    assert wrap.wrapped_symbols(terminate, [])["WrappedAction.Cancelation.NotifyPeriodInSeconds"].is_null


def test_symbols_work_with_expr_functions() -> None:
    values = wrap.wrapped_symbols(ResolvedAction(("echo", "it's"), None, None, None, None), ["A=1"])
    table = rs.SymbolTable(values)
    profile = rs.ModelProfile.from_strings(rs.SpecificationRevision.v2023_09, ["EXPR"]).to_expr_profile(
        rs.HostContext.none()
    )
    line = rs.FormatString("{{repr_sh([WrappedAction.Command] + WrappedAction.Args)}}")
    assert shlex.split(line.resolve_string(table, profile=profile)) == ["echo", "it's"]
    fallback = rs.FormatString("{{WrappedAction.Timeout or 7}}")
    assert fallback.resolve_string(table, profile=profile) == "7"


# --- argv fidelity through `sh -c "{{repr_sh(...)}}"` ----------------------------------------

RECORD = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
ARGV_TEXT = st.text(st.characters(blacklist_characters="\x00\n", blacklist_categories=("Cs",)), max_size=40)


@pytest.fixture(scope="module")
def shell_wrap(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("argv")
    hook = {"command": "sh", "args": ["-c", "{{ repr_sh([WrappedAction.Command] + WrappedAction.Args) }}"]}
    env = write(
        tmp / "wrap.yaml",
        {
            "specificationVersion": "environment-2023-09",
            "extensions": ["WRAP_ACTIONS", "EXPR"],
            "environment": {
                "name": "Shell",
                "script": {"actions": {"onWrapEnvEnter": hook, "onWrapTaskRun": hook, "onWrapEnvExit": hook}},
            },
        },
    )
    job = write(
        tmp / "job.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "extensions": ["EXPR"],
            "name": "Argv",
            "parameterDefinitions": [
                {"name": "Out", "type": "STRING"},
                {"name": "Args", "type": "LIST[STRING]", "minLength": 0},
            ],
            "steps": [
                {
                    "name": "S",
                    "script": {
                        "actions": {
                            "onRun": {
                                "command": sys.executable,
                                "args": ["-c", RECORD, "{{Param.Out}}", "{{Param.Args}}"],
                            }
                        }
                    },
                }
            ],
        },
    )
    return job, env


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ARGV_TEXT, max_size=6))
@example(
    ["", "'", '"', "$(touch pwned)", "`touch pwned`", "*", "-n", "--", "a b", "\\", "ünï ✓", "$HOME", ";ls"]
)
def test_hostile_argv_arrives_byte_identical(
    shell_wrap: tuple[Path, Path], tmp_path: Path, args: list[str]
) -> None:
    job, env = shell_wrap
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    out = work / "argv.json"
    params = work / "params.json"
    params.write_text(json.dumps({"Out": str(out), "Args": args}), encoding="utf-8")
    result = wraprun("run", str(job), "--env", str(env), "-p", f"file://{params}", cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(out.read_text()) == args
    assert sorted(p.name for p in work.iterdir()) == ["argv.json", "params.json"]  # nothing else ran
