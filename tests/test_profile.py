"""templates/profile.yaml with the real GNU time (.ci/services/bwrap.sh installs it)."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    HOSTILE_ARGS,
    REPO,
    argv_job,
    gone,
    markers,
    require_tool,
    unmodified_job,
    wraprun,
    wraprun_until_line,
)

TEMPLATE = REPO / "templates" / "profile.yaml"
ENV = ["--env", str(TEMPLATE)]
PROFILE = re.compile(
    r"^profile: (?P<what>.+) wall=(?P<wall>\d+\.\d\d)s user=(?P<user>\d+\.\d\d)s sys=(?P<sys>\d+\.\d\d)s "
    r"maxrss=(?P<maxrss>\d+)KB (?P<outcome>exit=\d+|signal=\d+)$"
)


@pytest.fixture(scope="module", autouse=True)
def gnu_time() -> None:
    require_tool("/usr/bin/time", "GNU time")


def job(tmp: Path, task: str, **action: Any) -> Path:
    """An ordinary job: nothing in it knows about profiling."""
    enter = "echo M:enter; echo M:to-stderr >&2; echo openjd_env: INNER=yes"
    return unmodified_job(tmp, task, enter=enter, env_name="Inner Env", **action)


def profiles(output: str) -> list[dict[str, str]]:
    found = []
    for line in output.splitlines():
        if line.startswith("profile:"):
            match = PROFILE.match(line)
            assert match, f"a profile line that does not parse: {line!r}"
            found.append(match.groupdict())
    return found


def own_lines(output: str) -> list[str]:
    """What the actions printed and the runtime's exit lines, without the session's framing."""
    framing = ("==> ", "<== ", "Session ", "profile: ")
    return [line for line in output.splitlines() if not line.startswith(framing)]


def test_output_untouched_plus_one_line_per_action(tmp_path: Path) -> None:
    task = (
        "echo M:task {{Task.Param.N}} $INNER; printf 'M:%s\\n' printf; "
        "echo M:err >&2; echo; echo '  M:indented ünï ✓'; exit 0"
    )
    path = job(tmp_path, task)
    plain = wraprun("run", str(path))
    profiled = wraprun("run", str(path), *ENV)
    assert plain.returncode == 0 and profiled.returncode == 0, profiled.stdout + profiled.stderr
    assert own_lines(profiled.stdout) == own_lines(plain.stdout)
    assert "M:task 1 yes" in own_lines(profiled.stdout)
    found = profiles(profiled.stdout)
    assert [p["what"] for p in found] == [
        "environment 'Inner Env' onEnter",
        "step S onRun",
        "step S onRun",
        "environment 'Inner Env' onExit",
    ]
    assert all(p["outcome"] == "exit=0" and int(p["maxrss"]) > 0 for p in found)
    # Each summary comes after its action's output, before the runtime's exit line.
    lines = profiled.stdout.splitlines()
    first = lines.index("M:enter")
    assert lines[first + 1 : first + 3] == ["M:to-stderr", "openjd_env: INNER=yes"]
    assert lines[first + 3].startswith("profile: environment 'Inner Env' onEnter ")
    assert lines[first + 4] == "Process exited with code: 0"


def test_wall_time_is_measured(tmp_path: Path) -> None:
    result = wraprun("run", str(job(tmp_path, "sleep 0.5")), *ENV, "--step", "S", "-tp", "N=1")
    assert result.returncode == 0, result.stdout + result.stderr
    task = [p for p in profiles(result.stdout) if p["what"] == "step S onRun"]
    assert len(task) == 1 and 0.45 <= float(task[0]["wall"]) < 5


def test_failing_task_keeps_its_exit_code(tmp_path: Path) -> None:
    result = wraprun("run", str(job(tmp_path, "echo M:task; exit 7")), *ENV)
    assert result.returncode == 1
    assert "Process exited with code: 7" in result.stdout
    assert [p["outcome"] for p in profiles(result.stdout) if p["what"] == "step S onRun"] == ["exit=7"]
    assert markers(result.stdout)[-1] == "M:exit"


def test_killed_task_reports_the_signal(tmp_path: Path) -> None:
    path = job(tmp_path, "echo M:task; kill -9 $$")
    plain = wraprun("run", str(path))
    profiled = wraprun("run", str(path), *ENV)
    assert "Process exited with code: -9" in plain.stdout
    assert own_lines(profiled.stdout) == own_lines(plain.stdout)  # the same death, seen the same way
    assert [p["outcome"] for p in profiles(profiled.stdout) if p["what"] == "step S onRun"] == ["signal=9"]


def test_maxrss_counts_the_action(tmp_path: Path) -> None:
    task = "python3 -c \"data = b'x' * (60 * 1024 * 1024); print('M:allocated', len(data))\""
    result = wraprun("run", str(job(tmp_path, task)), *ENV, "--step", "S", "-tp", "N=1")
    assert result.returncode == 0, result.stdout + result.stderr
    task_profile = [p for p in profiles(result.stdout) if p["what"] == "step S onRun"]
    assert len(task_profile) == 1 and int(task_profile[0]["maxrss"]) >= 50000
    # The shell actions of the environment stay small: the number is the action's, not the wrapper's.
    enter = [p for p in profiles(result.stdout) if p["what"].endswith("onEnter")]
    assert int(enter[0]["maxrss"]) < 20000


def test_hostile_args_arrive_unchanged(tmp_path: Path) -> None:
    record = tmp_path / "argv.json"
    result = wraprun("run", str(argv_job(tmp_path / "job.yaml", str(record))), *ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(record.read_text(encoding="utf-8")) == HOSTILE_ARGS
    assert [p["outcome"] for p in profiles(result.stdout)] == ["exit=0"]
    assert not Path("/tmp/wraprun-pwned").exists()


def test_cancel_leaves_nothing_running(tmp_path: Path) -> None:
    token = f"wraprun-profile-{secrets.token_hex(6)}"
    task = f"echo M:ready; sh -c 'sleep 321' {token}; echo M:never"
    result = wraprun_until_line(["run", str(job(tmp_path, task)), *ENV], "M:ready")
    assert result.returncode == 3, result.stdout
    assert "M:never" not in result.stdout
    assert markers(result.stdout)[-1] == "M:exit"
    assert gone(token)


def test_notify_reaches_the_action_and_is_profiled(tmp_path: Path) -> None:
    token = f"wraprun-profile-{secrets.token_hex(6)}"
    task = f"trap 'echo M:got-TERM; exit 5' TERM; echo M:ready; sh -c 'sleep 321' {token} & wait"
    cancel = {"cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 20}}
    result = wraprun_until_line(["run", str(job(tmp_path, task, **cancel)), *ENV], "M:ready")
    assert result.returncode == 3, result.stdout
    assert "M:got-TERM" in markers(result.stdout)
    assert "Process exited with code: 5" in result.stdout  # the action's own exit, after the notice
    assert [p["outcome"] for p in profiles(result.stdout) if p["what"] == "step S onRun"] == ["exit=5"]
    assert gone(token)


def test_timeout_is_forwarded(tmp_path: Path) -> None:
    token = f"wraprun-profile-{secrets.token_hex(6)}"
    result = wraprun("run", str(job(tmp_path, f"sh -c 'sleep 321' {token}; echo M:never", timeout=2)), *ENV)
    assert result.returncode == 1
    assert "timed out after 2 s" in result.stdout
    assert "M:never" not in result.stdout
    assert gone(token)
