"""templates/ssh.yaml against a real sshd.

The server comes from scripts/test.sh (.ci/services): sshd on 127.0.0.1 with a
throwaway key and an ssh_config whose Host alias is in WRAPRUN_SSH_HOST. The
"remote" host is this machine, so the tests can look at the remote processes
with psutil and share the session directory at the same path.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    HOSTILE_ARGS,
    REPO,
    argv_job,
    markers,
    require_service,
    survivors,
    unmodified_job,
    wraprun,
    wraprun_until_line,
    write,
)

TEMPLATE = REPO / "templates" / "ssh.yaml"
PWNED = Path("/tmp/wraprun-pwned")
# An environment value that a remote shell would mangle or run if it were not quoted.
TRICKY = "two  words 'q' \"dq\" $(touch /tmp/wraprun-pwned) `id` * ; $HOME"


@pytest.fixture(scope="module")
def ssh_host() -> str:
    return require_service("WRAPRUN_SSH_HOST", "sshd")


def params(tmp: Path, ssh_host: str, **extra: Any) -> list[str]:
    """The template's parameters, by the test ssh_config's Host alias."""
    values = {"SshHost": ssh_host, "SshConfig": os.environ.get("WRAPRUN_SSH_CONFIG", ""), **extra}
    path = write(tmp / "params.yaml", values)
    return ["--env", str(TEMPLATE), "-p", f"file://{path}"]


def explicit_params(tmp: Path, **extra: Any) -> list[str]:
    """The template's parameters given one by one, without an ssh_config."""
    values = {
        "SshHost": os.environ.get("WRAPRUN_SSH_HOSTNAME", "127.0.0.1"),
        "SshPort": int(os.environ.get("WRAPRUN_SSH_PORT", "22")),
        "SshUser": os.environ.get("WRAPRUN_SSH_USER", ""),
        "SshIdentityFile": os.environ.get("WRAPRUN_SSH_KEY", ""),
        "SshOptions": "StrictHostKeyChecking=no UserKnownHostsFile=/dev/null LogLevel=ERROR",
        **extra,
    }
    path = write(tmp / "params.yaml", values)
    return ["--env", str(TEMPLATE), "-p", f"file://{path}"]


def job(tmp: Path, task: str, **action: Any) -> Path:
    """An ordinary job: nothing in it knows about ssh."""
    enter = "echo M:enter ${SSH_CONNECTION:+over-ssh}; printf 'openjd_env: INNER=%s\\n' \"$1\""
    return unmodified_job(tmp, task, enter=enter, enter_args=["sh", TRICKY], **action)


def run_directory(output: str) -> Path:
    """The remote run directory the session's onEnter published."""
    found = re.search(r"^openjd_env: WRAPRUN_SSH_RUNDIR=(\S+)$", output, re.MULTILINE)
    assert found, output
    return Path(found.group(1))


def recording(pids: Path) -> str:
    """Shell that records the task's pid, its remote shell's, and a background grandchild's."""
    return (
        f"echo $$ > {pids}/task.pid; echo $PPID > {pids}/shell.pid; "
        f"sleep 300 & echo $! > {pids}/grandchild.pid; "
    )


def sleeping(pids: Path) -> str:
    """Shell that says M:ready and sleeps in a recorded child: every process of the task has a pid file."""
    return f"sleep 300 & echo $! > {pids}/sleep.pid; echo M:ready; wait $!"


@pytest.fixture
def no_pwned() -> Any:
    PWNED.unlink(missing_ok=True)
    yield
    assert not PWNED.exists(), "a wrapped value was run by a shell"


def test_job_runs_over_ssh(tmp_path: Path, ssh_host: str, no_pwned: None) -> None:
    task = 'echo M:task {{Task.Param.N}} ${SSH_CONNECTION:+over-ssh} $(pwd); printf "M:inner=%s\\n" "$INNER"'
    result = wraprun("run", str(job(tmp_path, task)), *params(tmp_path, ssh_host))
    assert result.returncode == 0, result.stdout + result.stderr
    found = markers(result.stdout)
    assert found[0] == "M:enter over-ssh"  # SSH_CONNECTION is set only in a process sshd started
    assert found[1].startswith("M:task 1 over-ssh /tmp/wraprun-session-")
    assert found[2] == f"M:inner={TRICKY}"  # the inner environment's openjd_env, byte-exact
    assert found[3].startswith("M:task 2 over-ssh")
    assert found[4] == f"M:inner={TRICKY}"
    assert found[5] == "M:exit"
    assert "Removed remote run directory" in result.stdout
    assert not run_directory(result.stdout).exists()


def test_exit_codes_propagate(tmp_path: Path, ssh_host: str) -> None:
    result = wraprun("run", str(job(tmp_path, "echo M:task; exit 7")), *params(tmp_path, ssh_host))
    assert result.returncode == 1
    codes = [line for line in result.stdout.splitlines() if "exited with code:" in line]
    assert "Process exited with code: 7" in codes
    assert markers(result.stdout)[-1] == "M:exit"  # teardown still ran over ssh


def test_hostile_arguments_arrive_exactly(tmp_path: Path, ssh_host: str, no_pwned: None) -> None:
    record = tmp_path / "argv.json"
    argv = argv_job(tmp_path / "job.yaml", str(record))
    result = wraprun("run", str(argv), *explicit_params(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(record.read_text(encoding="utf-8")) == HOSTILE_ARGS


def test_cancel_stops_the_remote_process_tree(tmp_path: Path, ssh_host: str) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    task = recording(pids) + sleeping(pids) + "; echo M:never"
    result = wraprun_until_line(["run", str(job(tmp_path, task)), *params(tmp_path, ssh_host)], "M:ready")
    assert result.returncode == 3, result.stdout
    assert len(list(pids.glob("*.pid"))) == 4
    assert survivors(pids) == []
    assert "M:never" not in result.stdout
    assert markers(result.stdout)[-1] == "M:exit"
    assert "Removed remote run directory" in result.stdout
    assert "killed leftover" not in result.stdout  # the hook stopped it, not onExit's sweep
    assert not run_directory(result.stdout).exists()


def test_notify_then_terminate_reaches_the_remote_process(tmp_path: Path, ssh_host: str) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    task = recording(pids) + "trap 'echo M:got-TERM; exit 5' TERM; " + sleeping(pids)
    cancel = {"cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 2}}
    result = wraprun_until_line(
        ["run", str(job(tmp_path, task, **cancel)), *params(tmp_path, ssh_host)], "M:ready"
    )
    assert result.returncode == 3, result.stdout
    assert "M:got-TERM" in result.stdout  # SIGTERM first, and its output still came back
    assert survivors(pids) == []  # what outlived SIGTERM got SIGKILL after the period


def test_timeout_is_enforced_on_the_remote_host(tmp_path: Path, ssh_host: str) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    task = recording(pids) + sleeping(pids) + "; echo M:never"
    result = wraprun("run", str(job(tmp_path, task, timeout=2)), *params(tmp_path, ssh_host))
    assert result.returncode == 1
    assert "timed out after 2 s" in result.stdout + result.stderr
    assert "M:never" not in result.stdout
    assert survivors(pids) == []
    assert markers(result.stdout)[-1] == "M:exit"


def test_unreachable_host_fails_plainly(tmp_path: Path, ssh_host: str) -> None:
    result = wraprun("run", str(job(tmp_path, "echo M:task")), *explicit_params(tmp_path, SshPort=1))
    assert result.returncode == 1
    host = os.environ.get("WRAPRUN_SSH_HOSTNAME", "127.0.0.1")
    assert f"cannot reach {host} over ssh" in result.stdout + result.stderr
    assert "M:task" not in result.stdout


# The obvious wrapper, `ssh HOST 'cd DIR && env ... CMD ARGS'` run in place of
# the action, kept to document why ssh.yaml does more: killing the ssh client
# does not reach the remote command (no pty, so no SIGHUP), and the work goes on.
PLAIN_SSH = {
    "specificationVersion": "environment-2023-09",
    "extensions": ["WRAP_ACTIONS", "EXPR"],
    "parameterDefinitions": [{"name": "SshHost", "type": "STRING"}, {"name": "SshConfig", "type": "STRING"}],
    "environment": {
        "name": "PlainSsh",
        "script": {
            "actions": {
                "onEnter": {"command": "true"},
                **{
                    hook: {
                        "command": "ssh",
                        "args": [
                            "-F",
                            "{{Param.SshConfig}}",
                            "{{Param.SshHost}}",
                            "cd {{repr_sh(Session.WorkingDirectory)}} && "
                            "{{repr_sh(['env'] + WrappedAction.Environment + [WrappedAction.Command]"
                            " + WrappedAction.Args)}}",
                        ],
                    }
                    for hook in ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")
                },
            }
        },
    },
}


def test_plain_ssh_pattern_leaks_on_cancel(tmp_path: Path, ssh_host: str) -> None:
    env = write(tmp_path / "plain.yaml", PLAIN_SSH)
    config = os.environ.get("WRAPRUN_SSH_CONFIG", "")
    p = write(tmp_path / "p.yaml", {"SshHost": ssh_host, "SshConfig": config})
    pids = tmp_path / "pids"
    pids.mkdir()
    task = recording(pids) + sleeping(pids)
    result = wraprun_until_line(
        ["run", str(job(tmp_path, task)), "--env", str(env), "-p", f"file://{p}"], "M:ready"
    )
    assert result.returncode == 3
    task_pids = {int((pids / name).read_text()) for name in ("task.pid", "grandchild.pid", "sleep.pid")}
    left = survivors(pids, wait=0.5)  # and kills them
    assert task_pids <= set(left)  # the canceled task still ran on the "remote" host
