"""wraprun beside the official OpenJD runtime (openjd-cli 0.8 over openjd-sessions 0.14).

Every bundle -- our corpus in tests/differential/*.yaml, every valid job bundle of the
public conformance suite and of our own (conformance/), and every example job alone and
under every example environment -- runs through both CLIs with identical inputs, laid out
as the public conformance runner lays them out. Compared: overall success (exit 0 or
not) and the ordered marker lines the actions printed: for our corpus the lines that
start with ``OUT:``; for suite bundles the ``expected``/``forbidden`` strings each
output line contains; for the examples every line. Session working directories are
normalized to ``<SESSION>``, the bundle's folder (the current directory of both runs) to
``<BUNDLE>``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from wraprun.conformance.execute import bundle_command
from wraprun.conformance.models import Bundle

from .conformance_helpers.official import official_openjd
from .helpers import PUBLIC_SUITE, REPO

CORPUS = Path(__file__).parent / "differential"
EXAMPLES = REPO / "examples"
ALL_LINES = ["<every line>"]
"""needles() for the examples: they print no markers, so every action line is compared."""


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    return document


def _suite(root: Path, prefix: str) -> dict[str, Path]:
    """The valid job bundles of a conformance suite in the public layout."""
    return {
        f"{prefix}{p.parents[1].name}/{p.name.removesuffix('.test.yaml')}": p
        for p in sorted(root.glob("*/jobs/*.test.yaml"))
        if ".invalid." not in p.name
    }


def _examples() -> dict[str, dict[str, Any]]:
    """Every example job alone, and under every example environment template."""
    documents = {p.stem: _load(p) for p in sorted(EXAMPLES.glob("*.yaml"))}
    jobs = {k: v for k, v in documents.items() if v["specificationVersion"].startswith("jobtemplate")}
    envs = {k: v for k, v in documents.items() if v["specificationVersion"].startswith("environment")}
    bundles = {f"examples/{name}": {"template": job} for name, job in jobs.items()}
    for name, job in jobs.items():
        for env_name, env in envs.items():
            bundles[f"examples/{name}+{env_name}"] = {"template": job, "environments": [env]}
    return bundles


PATHS: dict[str, Path] = {
    **{f"differential/{p.stem}": p for p in sorted(CORPUS.glob("*.yaml"))},
    **_suite(PUBLIC_SUITE, ""),
    **_suite(REPO / "conformance" / "2023-09", "own/"),
}
BUNDLES: dict[str, dict[str, Any]] = {**{name: _load(path) for name, path in PATHS.items()}, **_examples()}

# Bundle name -> the spec sentence that makes wraprun right where the two differ.
INTENDED_DIFFERENCES: dict[str, str] = {
    "WRAP_ACTIONS/wrap-openjd-env-task-grand-child-visible-next-task": (
        "RFC 0008, Stdout forwarding and macro propagation: WrappedAction.Environment includes "
        "'any openjd_env-defined variable emitted by any earlier action in the same session'; "
        "openjd-sessions drops those a task's onRun emits."
    ),
    "differential/wrap-openjd-env-from-task": (
        "RFC 0008, Stdout forwarding and macro propagation: WrappedAction.Environment includes "
        "'any openjd_env-defined variable emitted by any earlier action in the same session'; "
        "openjd-sessions drops those a task's onRun emits."
    ),
    "base/2.2--path-value-relative-joined-with-cwd": (
        "Template Schemas 2.2, as the public bundle states it: 'a relative submitted PATH value is joined "
        "with the current working directory and lexically normalized'; openjd-cli 0.8 leaves 'sub/../other' "
        "unnormalized."
    ),
    **dict.fromkeys(
        [
            "EXPR/2.12--list-path-default-walkup-within-template-dir",
            "EXPR/2.12--list-path-default-within-template-dir",
            "EXPR/2.12--list-path-param-mapping",
            "EXPR/2.12--list-path-param-mapping-posix",
            "EXPR/2.12--list-path-param-runtime",
            "EXPR/2.12--list-path-param-runtime-posix",
            "EXPR/2.12--list-path-value-relative-joined-with-cwd",
        ],
        "Template Schemas 2.12: each element of a LIST[PATH] follows the PATH rules of 2.2: a relative "
        "default is joined with the job template's directory, an absolute default is an error, a relative "
        "submitted value is joined with the current directory; openjd-cli 0.8 keeps LIST[PATH] elements "
        "as written. (The -param-mapping/-runtime bundles contradict the rule and are listed in README.)",
    ),
    "own/WRAP_ACTIONS/4.3--second-wrap-layer-in-step-env-rejected-before-any-enter": (
        "RFC 0008, Wrap ordering with multiple environments: schedulers 'MUST reject sessions whose stack "
        "contains two or more environments that define any wrap hook, before entering any environment'; "
        "openjd-sessions enters the outer environments before it notices the step's second wrap layer."
    ),
    "own/WRAP_ACTIONS/4.8--long-line-and-unterminated-last-line-through-wrap-script": (
        "RFC 0008, Stdout forwarding and macro propagation: 'OpenJD session runtimes MUST scan the wrap "
        "script's stdout for OpenJD stdout macros'; openjd-sessions cuts lines at 64,000 characters, so a "
        "100,000-character openjd_env line never sets its variable."
    ),
    "differential/task-parameter-values": (
        "Template Schemas 3.4.1.1.1: 'The elements of the range expression are combined to form a list "
        "of values in increasing order', so '3-1:-1' is [1, 2, 3] and the associative '(I, L)' pairs "
        "I=1 with L=3; openjd-sessions iterates 3, 2, 1. Also 3.4.1.2: a FLOAT task parameter is "
        "'floating point valued', so the YAML integer 2 is the float 2.0; openjd-sessions keeps the text '2'."
    ),
}

# Bundle name -> a wraprun bug the bundle shows. Strict xfail: fixing the bug fails the test until the
# entry goes.
KNOWN_BUGS: dict[str, str] = {
}

SESSION_DIR = re.compile(re.escape(tempfile.gettempdir()) + r"/(?:OpenJD/|wraprun-session-)[\w.-]+")
STAMP = re.compile(r"\d+:\d\d:\d\d(?:\.\d+)?")
OFFICIAL_EXIT = re.compile(r"Process pid \d+ exited with code")
WRAPRUN_FRAMING = ("==> ", "<== ", "Process exited with code:", "Session ", "Running job '")
RUN_TIMEOUT = 120


@dataclass(frozen=True)
class Run:
    succeeded: bool
    markers: list[str]
    output: str


def official_action_lines(stdout: str) -> list[str]:
    """Lines the actions printed: openjd-cli logs them as `H:MM:SS.f<TAB>line` between
    `Output:` and `Process pid N exited with code: ...`."""
    lines: list[str] = []
    inside = False
    for raw in stdout.splitlines():
        stamp, tab, message = raw.partition("\t")
        if not tab or not STAMP.fullmatch(stamp):
            inside = False
        elif message == "Output:":
            inside = True
        elif OFFICIAL_EXIT.match(message):
            inside = False
        elif inside:
            lines.append(message)
    return lines


def wraprun_action_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if not line.startswith(WRAPRUN_FRAMING)]


def needles(name: str, bundle: dict[str, Any]) -> list[str] | None:
    """The strings a suite bundle's expectations look for; None for our corpus (OUT: lines)."""
    if name.startswith("examples/"):
        return ALL_LINES
    expected = bundle.get("expected")
    if expected is None:
        return None
    found: list[str] = []
    for key in ("output", "output_posix", "forbidden", "forbidden_posix"):
        for item in expected.get(key) or []:
            found += [str(a) for a in item["anyOf"]] if isinstance(item, dict) else [str(item)]
    return found


def markers(lines: list[str], wanted: list[str] | None, folder: Path) -> list[str]:
    lines = [SESSION_DIR.sub("<SESSION>", line).replace(str(folder), "<BUNDLE>") for line in lines]
    if wanted is None:
        return [line for line in lines if line.startswith("OUT:")]
    if wanted is ALL_LINES:
        return lines
    return [needle for line in lines for needle in wanted if needle in line]


def command(bundle: dict[str, Any], folder: Path, runtime: list[str]) -> list[str]:
    """The public conformance runner's command and layout, as `wraprun conformance` builds them."""
    keys = ("template", "environments", "parameters", "pathMapping")
    inputs = {k: v for k, v in bundle.items() if k in keys}
    return bundle_command(Bundle.model_validate(inputs), folder, runtime)


def run_both(name: str, official: Path) -> tuple[Run, Run]:
    bundle = BUNDLES[name]
    wanted = needles(name, bundle)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    runs = []
    with tempfile.TemporaryDirectory(prefix="wraprun-differential-") as tmp:
        for runtime, action_lines in (
            ([sys.executable, "-m", "wraprun"], wraprun_action_lines),
            ([str(official)], official_action_lines),
        ):
            done = subprocess.run(
                command(bundle, Path(tmp), runtime),
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=RUN_TIMEOUT,
            )
            found = markers(action_lines(done.stdout), wanted, Path(tmp))
            runs.append(Run(done.returncode == 0, found, done.stdout + done.stderr))
    return runs[0], runs[1]


@pytest.fixture(scope="module")
def official() -> Path:
    return official_openjd()


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest, official: Path) -> dict[str, Any]:
    """Runs every selected bundle at once, on a thread pool: each run mostly waits on processes."""
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if item.module is sys.modules[__name__] and hasattr(item, "callspec")
    }
    with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1))) as pool:
        return {name: pool.submit(run_both, name, official) for name in sorted(selected)}


def describe(ours: Run, theirs: Run) -> str:
    return (
        f"wraprun: succeeded={ours.succeeded} markers={json.dumps(ours.markers, indent=1)}\n"
        f"official: succeeded={theirs.succeeded} markers={json.dumps(theirs.markers, indent=1)}\n"
        f"--- wraprun output ---\n{ours.output}\n--- official output ---\n{theirs.output}"
    )


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name]))
        if name in KNOWN_BUGS
        else name
        for name in sorted(BUNDLES)
    ],
)
def test_same_as_the_official_runtime(name: str, results: dict[str, Any]) -> None:
    if "posix" not in BUNDLES[name].get("runOn", ["posix"]):
        pytest.skip("not for POSIX")
    ours, theirs = results[name].result()
    same = ours.succeeded == theirs.succeeded and ours.markers == theirs.markers
    if name in INTENDED_DIFFERENCES:
        assert not same, f"{name} is listed as an intended difference but both now agree"
        return
    assert same, describe(ours, theirs)
    if name.startswith("differential/"):
        assert theirs.markers, f"{name} printed no OUT: lines: a broken bundle\n{theirs.output}"
