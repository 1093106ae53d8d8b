"""templates/bubblewrap.yaml with a real bubblewrap (.ci/services/bwrap.sh installs it)."""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterator
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
    write,
)

TEMPLATE = REPO / "templates" / "bubblewrap.yaml"


@pytest.fixture(scope="module", autouse=True)
def bwrap() -> None:
    require_tool("bwrap", "bubblewrap")


@pytest.fixture
def outside() -> Iterator[Path]:
    """A host directory outside /tmp that the sandbox is not given."""
    path = Path(tempfile.mkdtemp(prefix="wraprun-bwrap-test-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path)


def params(tmp: Path, **extra: Any) -> list[str]:
    path = write(tmp / "params.yaml", extra)
    return ["--env", str(TEMPLATE), "-p", f"file://{path}"]


def job(tmp: Path, task: str, **action: Any) -> Path:
    """An ordinary job: nothing in it knows about bubblewrap."""
    enter = (
        "echo M:enter $(head -c 5 /proc/1/cmdline); "
        "echo openjd_env: INNER=from-inner-enter; "
        "echo 'openjd_env: TRICKY=a=b  c $HOME'"
    )
    return unmodified_job(tmp, task, enter=enter, **action)


def test_unmodified_job_runs_in_the_sandbox(tmp_path: Path) -> None:
    task = 'echo M:task {{Task.Param.N}} $INNER "[$TRICKY]" $(head -c 5 /proc/1/cmdline) $(pwd)'
    result = wraprun("run", str(job(tmp_path, task)), *params(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    found = markers(result.stdout)
    assert found[0] == "M:enter bwrap"  # pid 1 of the sandbox's own pid namespace
    assert found[1].startswith("M:task 1 from-inner-enter [a=b  c $HOME] bwrap /tmp/wraprun-session-")
    assert found[2].startswith("M:task 2 from-inner-enter [a=b  c $HOME] bwrap /tmp/wraprun-session-")
    assert found[3] == "M:exit"


def test_only_the_session_directory_is_writable(tmp_path: Path, outside: Path) -> None:
    private = f"wraprun-bwrap-private-{secrets.token_hex(4)}"
    task = (
        f"touch {outside}/f && echo M:wrote-outside; "
        f"touch {tmp_path}/f && echo M:wrote-test-dir; "
        "touch /etc/wraprun-bwrap-test && echo M:wrote-etc; "
        "mount -o remount,rw / 2>/dev/null && echo M:remounted; "
        "echo hi > in-session && echo M:wrote-session; "
        f"echo hi > /tmp/{private} && echo M:wrote-tmp; "
        'echo "M:tmp $(ls -A /tmp | tr "\\n" " ")"'
    )
    result = wraprun("run", "--preserve", str(job(tmp_path, task)), *params(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    found = markers(result.stdout)
    assert "M:wrote-outside" not in found and not (outside / "f").exists()
    assert "M:wrote-test-dir" not in found and not (tmp_path / "f").exists()
    assert "M:wrote-etc" not in found and not Path("/etc/wraprun-bwrap-test").exists()
    assert "M:remounted" not in found
    assert "M:wrote-session" in found and "M:wrote-tmp" in found
    # The private /tmp holds the session directory and what the job wrote, nothing of the host's.
    session = next(line for line in result.stdout.splitlines() if "working directory kept" in line)
    session_dir = Path(session.split(": ", 1)[1].strip())
    try:
        assert (session_dir / "in-session").read_text() == "hi\n"
        tmp_lines = [line for line in found if line.startswith("M:tmp")]
        assert tmp_lines[0].split()[1:] == sorted([session_dir.name, private])
        assert not Path("/tmp", private).exists()
    finally:
        shutil.rmtree(session_dir)


def test_extra_writable_paths(tmp_path: Path, outside: Path) -> None:
    task = f"echo {{{{Task.Param.N}}}} >> {outside}/f && echo M:wrote-outside"
    result = wraprun("run", str(job(tmp_path, task)), *params(tmp_path, BwrapWritablePaths=[str(outside)]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (outside / "f").read_text() == "1\n2\n"


def test_no_network_unless_asked(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        probe = (
            'echo "M:ifaces $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort | tr "\\n" " ")"; '
            f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 5)' "
            "2>/dev/null && echo M:connected || echo M:no-connection"
        )
        closed = wraprun("run", str(job(tmp_path, probe)), *params(tmp_path))
        opened = wraprun("run", str(job(tmp_path, probe)), *params(tmp_path, BwrapNetwork=True))
    assert closed.returncode == 0, closed.stdout + closed.stderr
    found = markers(closed.stdout)
    assert found[1] == "M:ifaces lo " and found[2] == "M:no-connection"
    assert opened.returncode == 0, opened.stdout + opened.stderr
    assert "M:connected" in markers(opened.stdout)


def test_hostile_args_arrive_unchanged(tmp_path: Path) -> None:
    record = tmp_path / "argv.json"
    argv = argv_job(tmp_path / "job.yaml", str(record))
    result = wraprun("run", str(argv), *params(tmp_path, BwrapWritablePaths=[str(tmp_path)]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(record.read_text(encoding="utf-8")) == HOSTILE_ARGS
    assert not Path("/tmp/wraprun-pwned").exists()


def test_exit_codes_propagate(tmp_path: Path) -> None:
    result = wraprun("run", str(job(tmp_path, "echo M:task; exit 7")), *params(tmp_path))
    assert result.returncode == 1
    codes = [line for line in result.stdout.splitlines() if "exited with code:" in line]
    assert "Process exited with code: 7" in codes
    assert markers(result.stdout)[-1] == "M:exit"


def test_cancel_leaves_nothing_running(tmp_path: Path) -> None:
    token = f"wraprun-bwrap-{secrets.token_hex(6)}"
    task = f"echo M:ready; sh -c 'sleep 321; echo M:never' {token}; echo M:never"
    result = wraprun_until_line(["run", str(job(tmp_path, task)), *params(tmp_path)], "M:ready")
    assert result.returncode == 3, result.stdout
    assert "M:never" not in result.stdout
    assert markers(result.stdout)[-1] == "M:exit"
    assert gone(token)


def test_notify_then_terminate_reaches_the_sandboxed_process(tmp_path: Path) -> None:
    token = f"wraprun-bwrap-{secrets.token_hex(6)}"
    task = f"trap 'echo M:got-TERM; exit 5' TERM; echo M:ready; sh -c 'sleep 321' {token} & wait"
    cancel = {"cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 20}}
    result = wraprun_until_line(["run", str(job(tmp_path, task, **cancel)), *params(tmp_path)], "M:ready")
    assert result.returncode == 3, result.stdout
    assert "M:got-TERM" in markers(result.stdout)
    assert "Process exited with code: 5" in result.stdout  # the action's own exit, after the notice
    assert gone(token)


def test_timeout_is_forwarded(tmp_path: Path) -> None:
    token = f"wraprun-bwrap-{secrets.token_hex(6)}"
    task = f"echo M:ready; sh -c 'sleep 321' {token}; echo M:never"
    result = wraprun("run", str(job(tmp_path, task, timeout=2)), *params(tmp_path))
    assert result.returncode == 1
    assert "timed out after 2 s" in result.stdout
    assert "M:never" not in result.stdout
    assert gone(token)


def test_a_sandbox_that_cannot_be_built_fails_before_the_job(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"
    result = wraprun(
        "run", str(job(tmp_path, "echo M:task")), *params(tmp_path, BwrapWritablePaths=[str(missing)])
    )
    assert result.returncode == 1
    assert f"Can't find source path {missing}" in result.stdout
    assert markers(result.stdout) == []
