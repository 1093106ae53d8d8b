"""templates/trace.yaml: the exact argv and environment of every action, then the action (or not)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .helpers import HOSTILE_ARGS, REPO, argv_job, markers, unmodified_job, wraprun, write

TEMPLATE = REPO / "templates" / "trace.yaml"
ENV = ["--env", str(TEMPLATE)]
DRY_RUN = [*ENV, "-p", "TraceDryRun=true"]


def job(tmp: Path, task: str, **action: Any) -> Path:
    """An ordinary job: nothing in it knows about tracing."""
    enter = "echo M:enter; echo 'openjd_env: SPACED=a b=c'"
    return unmodified_job(tmp, task, enter=enter, tasks=None, **action)


def traced(output: str, kind: str) -> list[str]:
    prefix = f"trace: {kind} "
    return [line[len(prefix) :] for line in output.splitlines() if line.startswith(prefix)]


def test_each_action_is_printed_then_run(tmp_path: Path) -> None:
    result = wraprun("run", str(job(tmp_path, 'echo "M:task $SPACED"', timeout=30)), *ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [json.loads(argv) for argv in traced(result.stdout, "argv")] == [
        ["sh", "-c", "echo M:enter; echo 'openjd_env: SPACED=a b=c'"],
        ["sh", "-c", 'echo "M:task $SPACED"'],
        ["sh", "-c", "echo M:exit"],
    ]
    assert traced(result.stdout, "action") == [
        "environment Inner onEnter timeout=none cancelation=none",
        "step S onRun timeout=30 cancelation=none",
        "environment Inner onExit timeout=none cancelation=none",
    ]
    assert traced(result.stdout, "env") == ["SPACED=a b=c", "SPACED=a b=c"]  # none yet for onEnter
    assert markers(result.stdout) == ["M:enter", "M:task a b=c", "M:exit"]
    lines = result.stdout.splitlines()
    assert lines.index("trace: env SPACED=a b=c") < lines.index("M:task a b=c")


def test_cancelation_is_printed(tmp_path: Path) -> None:
    cancel = {"cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 45}}
    result = wraprun("run", str(job(tmp_path, "echo M:task", **cancel)), *ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    actions = traced(result.stdout, "action")
    assert "step S onRun timeout=none cancelation=NOTIFY_THEN_TERMINATE/45s" in actions


def test_hostile_argv_printed_and_run_exactly(tmp_path: Path) -> None:
    record = tmp_path / "argv.json"
    path = argv_job(tmp_path / "job.yaml", str(record))
    result = wraprun("run", str(path), *ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    code = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
    argv = traced(result.stdout, "argv")
    assert len(argv) == 1
    assert json.loads(argv[0]) == ["python3", "-c", code, str(record), *HOSTILE_ARGS]
    assert json.loads(record.read_text(encoding="utf-8")) == HOSTILE_ARGS
    assert not Path("/tmp/wraprun-pwned").exists()


def test_dry_run_prints_and_runs_nothing(tmp_path: Path) -> None:
    made = tmp_path / "made-by-task"
    task = f"echo M:task; touch {made}; exit 7"
    result = wraprun("run", str(job(tmp_path, task)), *DRY_RUN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert markers(result.stdout) == []
    assert not made.exists()
    assert len(traced(result.stdout, "argv")) == 3
    assert json.loads(traced(result.stdout, "argv")[1]) == ["sh", "-c", task]
    assert traced(result.stdout, "env") == []  # onEnter never ran, so it exported nothing


def test_exit_code_and_timeout_pass_through(tmp_path: Path) -> None:
    failed = wraprun("run", str(job(tmp_path, "echo M:task; exit 7")), *ENV)
    assert failed.returncode == 1
    assert "Process exited with code: 7" in failed.stdout
    timed = wraprun("run", str(job(tmp_path, "echo M:task; sleep 321; echo M:never", timeout=1)), *ENV)
    assert timed.returncode == 1
    assert "timed out after 1 s" in timed.stdout and "M:never" not in markers(timed.stdout)


def test_redacted_values_never_show(tmp_path: Path) -> None:
    # The value is assembled at run time, as one fetched from a vault would be: a value
    # spelled out in a template's args is in the template, and trace prints argv verbatim.
    task = 'test "$SECRET" = "hun""ter2" && echo M:task-has-it'
    document = yaml.safe_load(job(tmp_path, task).read_text(encoding="utf-8"))
    document["extensions"] = ["REDACTED_ENV_VARS"]
    enter = document["jobEnvironments"][0]["script"]["actions"]["onEnter"]
    enter["args"] = ["-c", "echo M:enter; echo openjd_redacted_env: SECRET=hunt''er2"]
    path = write(tmp_path / "secret.yaml", document)
    result = wraprun("run", str(path), *ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "SECRET=********" in traced(result.stdout, "env")
    assert "M:task-has-it" in markers(result.stdout)
