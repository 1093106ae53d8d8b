"""runner: every row of RFC 0008's lifecycle table, under failure, cancel and timeout.

Each test runs a real session through the CLI: a wrapping environment ``W``
(given with --env), an inner job environment ``B`` and one task. Every action
prints a marker line; the tests assert the order of those lines, the exit
code, and that no process the session started is left running.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from .helpers import markers, survivors, wraprun, wraprun_then_signal, write

# A wrap hook that announces itself, runs the wrapped argv, and propagates its status.
HOOK = (
    "import subprocess, sys\n"
    "print('M:hook', sys.argv[1], sys.argv[2], flush=True)\n"
    "sys.exit(subprocess.run(sys.argv[3:]).returncode)\n"
)


def step_action(body: str) -> dict[str, Any]:
    return {"command": "python", "args": ["-c", body]}


def print_then(marker: str, then: str = "") -> str:
    return f"print('M:{marker}', flush=True)\n{then}"


def sleeper(marker: str, pid_dir: Path) -> str:
    # Writes its pid, then the ready file the test waits for, then sleeps.
    return print_then(
        marker,
        (
            "import os, time\n"
            f"open(os.path.join({str(pid_dir)!r}, str(os.getpid()) + '.pid'), 'w').write(str(os.getpid()))\n"
            f"open({str(pid_dir / 'ready')!r}, 'w').close()\n"
            "time.sleep(60)\n"
            "print('M:never', flush=True)\n"
        ),
    )


def wrapper(tmp: Path, *, enter: str = "", exit_: str = "", hook_extra: dict[str, Any] | None = None) -> Path:
    def hook(kind: str, name: str) -> dict[str, Any]:
        return {
            "command": "python",
            "args": ["-c", HOOK, kind, name, "{{WrappedAction.Command}}", "{{WrappedAction.Args}}"],
            **(hook_extra or {}),
        }

    return write(
        tmp / "wrap.yaml",
        {
            "specificationVersion": "environment-2023-09",
            "extensions": ["WRAP_ACTIONS", "EXPR", "FEATURE_BUNDLE_1"],
            "environment": {
                "name": "W",
                "script": {
                    "actions": {
                        "onEnter": step_action(enter or print_then("W-enter")),
                        "onWrapEnvEnter": hook("enter", "{{WrappedEnv.Name}}"),
                        "onWrapTaskRun": hook("task", "{{WrappedStep.Name}}"),
                        "onWrapEnvExit": hook("exit", "{{WrappedEnv.Name}}"),
                        "onExit": step_action(exit_ or print_then("W-exit")),
                    }
                },
            },
        },
    )


def job(
    tmp: Path,
    *,
    b_enter: str = "",
    b_exit: str = "",
    task: str = "",
    task_extra: dict[str, Any] | None = None,
    b_extra: dict[str, Any] | None = None,
) -> Path:
    return write(
        tmp / "job.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "extensions": ["FEATURE_BUNDLE_1"],
            "name": "Lifecycle",
            "jobEnvironments": [
                {
                    "name": "B",
                    "script": {
                        "actions": {
                            "onEnter": {**step_action(b_enter or print_then("B-enter")), **(b_extra or {})},
                            "onExit": step_action(b_exit or print_then("B-exit")),
                        }
                    },
                }
            ],
            "steps": [
                {
                    "name": "S",
                    "script": {
                        "actions": {
                            "onRun": {**step_action(task or print_then("task")), **(task_extra or {})}
                        }
                    },
                }
            ],
        },
    )


FULL_TEARDOWN = ["M:hook exit B", "M:B-exit", "M:W-exit"]


def test_happy_path_order(tmp_path: Path) -> None:
    result = wraprun("run", str(job(tmp_path)), "--env", str(wrapper(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert markers(result.stdout) == [
        "M:W-enter",
        "M:hook enter B",
        "M:B-enter",
        "M:hook task S",
        "M:task",
        *FULL_TEARDOWN,
    ]


def test_wrapped_enter_fails(tmp_path: Path) -> None:
    """Row 1: onWrapEnvEnter fails for B → onWrapEnvExit for B; the wrapper's onExit."""
    result = wraprun(
        "run",
        str(job(tmp_path, b_enter=print_then("B-enter", "raise SystemExit(5)"))),
        "--env",
        str(wrapper(tmp_path)),
    )
    assert result.returncode == 1
    assert markers(result.stdout) == ["M:W-enter", "M:hook enter B", "M:B-enter", *FULL_TEARDOWN]
    assert "Process exited with code: 5" in result.stdout


def test_wrapped_task_fails(tmp_path: Path) -> None:
    """Row 2: onWrapTaskRun fails → onWrapEnvExit for every inner env entered; wrapper's onExit."""
    result = wraprun(
        "run",
        str(job(tmp_path, task=print_then("task", "raise SystemExit(9)"))),
        "--env",
        str(wrapper(tmp_path)),
    )
    assert result.returncode == 1
    assert markers(result.stdout)[-4:] == ["M:task", *FULL_TEARDOWN]
    codes = [line for line in result.stdout.splitlines() if "exited with code:" in line]
    assert codes[2] == "Process exited with code: 9"  # W onEnter, B via hook, then the task


@pytest.mark.parametrize("mode", ["TERMINATE", "NOTIFY_THEN_TERMINATE"])
def test_wrapped_task_canceled(tmp_path: Path, mode: str) -> None:
    """Row 2 under cancel: SIGTERM to wraprun; teardown runs; nothing survives."""
    pids = tmp_path / "pids"
    pids.mkdir()
    hook_cancel = {
        "cancelation": {"mode": mode, **({"notifyPeriodInSeconds": 2} if mode != "TERMINATE" else {})}
    }
    result = wraprun_then_signal(
        [
            "run",
            str(job(tmp_path, task=sleeper("task", pids))),
            "--env",
            str(wrapper(tmp_path, hook_extra=hook_cancel)),
        ],
        pids / "ready",
    )
    assert result.returncode == 3, result.stdout
    assert markers(result.stdout)[-4:] == ["M:task", *FULL_TEARDOWN]
    assert "M:never" not in result.stdout
    assert survivors(pids) == []


def test_wrapped_task_times_out(tmp_path: Path) -> None:
    """Row 2 under timeout: the wrapped action's timeout forwarded to the hook and enforced."""
    pids = tmp_path / "pids"
    pids.mkdir()
    result = wraprun(
        "run",
        str(job(tmp_path, task=sleeper("task", pids), task_extra={"timeout": 1})),
        "--env",
        str(wrapper(tmp_path, hook_extra={"timeout": "{{WrappedAction.Timeout}}"})),
    )
    assert result.returncode == 1
    assert "TIMEOUT" in result.stdout
    assert markers(result.stdout)[-4:] == ["M:task", *FULL_TEARDOWN]
    assert survivors(pids) == []


def test_wrapped_enter_canceled(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    result = wraprun_then_signal(
        ["run", str(job(tmp_path, b_enter=sleeper("B-enter", pids))), "--env", str(wrapper(tmp_path))],
        pids / "ready",
    )
    assert result.returncode == 3
    assert markers(result.stdout) == ["M:W-enter", "M:hook enter B", "M:B-enter", *FULL_TEARDOWN]
    assert survivors(pids) == []


def test_wrapped_exit_fails_wrapper_exit_still_runs(tmp_path: Path) -> None:
    """Row 3: onWrapEnvExit fails → the wrapper's own onExit still runs."""
    result = wraprun(
        "run",
        str(job(tmp_path, b_exit=print_then("B-exit", "raise SystemExit(4)"))),
        "--env",
        str(wrapper(tmp_path)),
    )
    assert result.returncode == 1
    assert markers(result.stdout)[-3:] == FULL_TEARDOWN


def test_wrapper_enter_fails(tmp_path: Path) -> None:
    """Row 4: the wrapper's own onEnter fails → its onExit runs (and nothing inner starts)."""
    result = wraprun(
        "run",
        str(job(tmp_path)),
        "--env",
        str(wrapper(tmp_path, enter=print_then("W-enter", "raise SystemExit(2)"))),
    )
    assert result.returncode == 1
    assert markers(result.stdout) == ["M:W-enter", "M:W-exit"]


def test_second_signal_forces_stop(tmp_path: Path) -> None:
    """A second SIGTERM kills the running action at once and skips the remaining teardown."""
    pids = tmp_path / "pids"
    pids.mkdir()
    slow_exit = print_then("W-exit-start", "import time; time.sleep(60)")
    args = [
        "run",
        str(job(tmp_path, task=sleeper("task", pids))),
        "--env",
        str(wrapper(tmp_path, exit_=slow_exit)),
    ]
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "wraprun", *args], stdout=subprocess.PIPE, text=True)
    while not (pids / "ready").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.5)  # teardown reaches the slow onExit
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 3
    assert "M:W-exit-start" in out
    assert survivors(pids) == []


def test_unwrapped_failure_tears_down_too(tmp_path: Path) -> None:
    result = wraprun("run", str(job(tmp_path, task=print_then("task", "raise SystemExit(3)"))))
    assert result.returncode == 1
    assert markers(result.stdout) == ["M:B-enter", "M:task", "M:B-exit"]
