"""conformance.execute: the exact command line of the public runner contract, and timeouts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wraprun.conformance.discover import discover
from wraprun.conformance.execute import run_case
from wraprun.conformance.models import Impl
from wraprun.conformance.suite import default_impl

from .conformance_helpers.cli import job, write
from .conformance_helpers.paths import OWN_SUITE, PUBLIC_2023
from .helpers import survivors_of

# An "implementation" that reports how it was called: argv, the files it was
# handed (by their content), its working directory and environment.
RECORDER = r"""
import json, os, sys
args = sys.argv[1:]
files = {}
for i, arg in enumerate(args):
    path = arg[len("file://"):] if arg.startswith("file://") else arg
    if i > 0 and os.path.isfile(path):
        files[str(i)] = open(path, encoding="utf-8").read()
print(json.dumps({"args": args, "files": files, "cwd": os.getcwd(), "utf8": os.environ.get("PYTHONUTF8")}))
"""


def recorder(tmp_path: Path) -> Impl:
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    return Impl(name="recorder", command=[sys.executable, str(script)])


def test_bundle_files_and_flags_are_laid_out_as_the_public_runner_does(tmp_path: Path) -> None:
    bundle = {
        "template": job("X"),
        "environments": [
            {
                "specificationVersion": "environment-2023-09",
                "environment": {"name": "E0", "variables": {"A": "1"}},
            },
            {
                "specificationVersion": "environment-2023-09",
                "environment": {"name": "E1", "variables": {"B": "é"}},
            },
        ],
        "parameters": {"P": "v"},
        "pathMapping": [{"source_path_format": "POSIX", "source_path": "/a", "destination_path": "/b"}],
    }
    path = write(tmp_path / "s" / "2023-09" / "C" / "jobs" / "x.test.yaml", bundle)
    [case] = discover([path])
    result = run_case(case, recorder(tmp_path))
    assert result.status == "passed", result.reason
    seen = json.loads(result.output)
    args, files = seen["args"], seen["files"]
    tmp = Path(args[1]).parent
    assert args == [
        "run",
        str(tmp / "template.yaml"),
        "-p",
        f"file://{tmp / 'parameters.yaml'}",
        "--env",
        str(tmp / "env0.yaml"),
        "--env",
        str(tmp / "env1.yaml"),
        "--path-mapping-rules",
        f"file://{tmp / 'pathmapping.json'}",
    ]
    assert "name: J" in files["1"] and "P: v" in files["3"]
    assert "name: E0" in files["5"] and "B: é" in files["7"]  # in order, UTF-8 kept
    assert json.loads(files["9"]) == {
        "version": "pathmapping-1.0",
        "path_mapping_rules": bundle["pathMapping"],
    }
    assert seen["utf8"] == "1" and Path(seen["cwd"]) == tmp
    assert result.command[len(recorder(tmp_path).command) :] == args
    assert not tmp.exists()  # cleaned up


def test_optional_parts_are_left_out(tmp_path: Path) -> None:
    path = write(tmp_path / "2023-09" / "C" / "jobs" / "x.test.yaml", {"template": job("X")})
    [case] = discover([path])
    args = json.loads(run_case(case, recorder(tmp_path)).output)["args"]
    assert args[0] == "run" and args[1].endswith("/template.yaml") and len(args) == 2


def test_templates_are_checked_by_path(tmp_path: Path) -> None:
    path = write(tmp_path / "2023-09" / "C" / "env_templates" / "e.invalid.yaml", {"x": 1})
    [case] = discover([path])
    result = run_case(case, recorder(tmp_path))
    assert json.loads(result.output)["args"] == ["check", str(path)]
    assert (result.status, result.reason) == ("failed", "accepted an invalid template")  # it exited 0


def test_checking_in_process_gives_what_the_cli_gives() -> None:
    """The built-in implementation checks templates in the runner's process: same verdicts,
    same lines, as ``python -m wraprun check`` in a process of its own."""
    cases = [c for c in discover([PUBLIC_2023, OWN_SUITE]) if c.kind == "check"]
    assert len(cases) >= 10
    here = default_impl()
    spawned = here.model_copy(update={"in_process": False})
    assert here.in_process
    for case in cases:
        ours, theirs = run_case(case, here), run_case(case, spawned)
        assert (ours.status, ours.reason) == (theirs.status, theirs.reason), case.path
        assert ours.output.splitlines() == theirs.output.splitlines(), case.path


def test_run_on_other_systems_is_skipped_without_running(tmp_path: Path) -> None:
    path = write(
        tmp_path / "2023-09" / "C" / "jobs" / "w.test.yaml", {"template": job("X"), "runOn": ["windows"]}
    )
    [case] = discover([path])
    result = run_case(case, Impl(name="none", command=["/nonexistent/impl"]))
    assert (result.status, result.reason, result.command) == ("skipped", "not for posix", [])


def test_a_malformed_bundle_fails_with_the_reason(tmp_path: Path) -> None:
    path = write(tmp_path / "2023-09" / "C" / "jobs" / "m.test.yaml", {"template": job("X"), "expect": {}})
    [case] = discover([path])
    result = run_case(case, recorder(tmp_path))
    assert (
        result.status == "failed"
        and result.reason.startswith("could not run the test")
        and "expect" in result.reason
    )


def test_a_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    # The grandchild sits in a session of its own and holds the output pipes, as a
    # runtime's actions do; the runner must not wait for it.
    script = tmp_path / "hang.py"
    script.write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '3600'], start_new_session=True)\n"
        "open(sys.argv[-1] + '.pid', 'w').write(str(child.pid))\n"
        "time.sleep(3600)\n"
    )
    path = write(tmp_path / "2023-09" / "C" / "job_templates" / "t.yaml", job("X"))
    [case] = discover([path])
    result = run_case(case, Impl(name="hang", command=[sys.executable, str(script)]), timeout=3)
    assert (result.status, result.reason) == ("failed", "timeout (still running after 3 s)")
    grandchild = int(Path(f"{path}.pid").read_text())
    # Gone long before its hour: killed, so the runner did not wait on the pipes it held.
    # (SIGKILL is sent, not awaited: on a loaded machine it can take a moment to land.)
    assert survivors_of([grandchild]) == []
