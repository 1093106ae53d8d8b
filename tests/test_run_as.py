"""Run-as user, for real: a POSIX user is created and a session's actions run as it through sudo.

Needs root (CI runs as root) and sudo; without them this is a failure in CI, a skip elsewhere.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from wraprun.nonblocking import ActionState, ActionStatus, NonBlockingSession
from wraprun.templates import load

from .helpers import missing, require_tool, write

USER = "wraprun-job"


@pytest.fixture(scope="module")
def job_user() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        missing("running actions as another user needs root")
    require_tool("sudo", "running actions as another user")
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
        return pwd.getpwnam(USER)


def _job(tmp_path: Path, run: str, **action: object) -> object:
    template = write(
        tmp_path / "job.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "RunAs",
            "jobEnvironments": [{"name": "Env", "variables": {"FROM_ENV": "env value with 'quotes'"}}],
            "steps": [
                {
                    "name": "S",
                    "script": {
                        "actions": {"onRun": {"command": "{{Task.File.Run}}", **action}},
                        "embeddedFiles": [{"name": "Run", "type": "TEXT", "runnable": True, "data": run}],
                    },
                }
            ],
        },
    )
    return load(template, "job").job


def _session(tmp_path: Path, statuses: list[ActionStatus], lines: list[str]) -> NonBlockingSession:
    from wraprun import events

    def on_event(event: events.Event) -> None:
        if isinstance(event, events.ActionOutput):
            lines.extend(event.data.decode().splitlines())

    # The default root, the system's temporary directory, is one the user can reach.
    return NonBlockingSession(
        session_id="run-as",
        callback=lambda _id, status: statuses.append(status),
        user=USER,
        on_event=on_event,
    )


def test_actions_run_as_the_user_and_what_they_write_is_theirs(
    tmp_path: Path, job_user: pwd.struct_passwd
) -> None:
    job = _job(tmp_path, '#!/bin/sh\nid -un\necho "env=$FROM_ENV"\necho made > made.txt\npwd\n')
    statuses: list[ActionStatus] = []
    lines: list[str] = []
    with _session(tmp_path, statuses, lines) as session:
        session.enter_environment(environment=job.job_environments[0])
        session.wait(30)
        session.run_task(step_script=job.steps[0].script, step_name="S")
        last = session.wait(30)
        made = session.working_directory / "made.txt"
        assert last is not None and last.state is ActionState.SUCCESS, (last, lines)
        assert made.stat().st_uid == job_user.pw_uid
        assert lines[:2] == [USER, "env=env value with 'quotes'"]
        assert lines[2] == str(session.working_directory)
    assert not made.exists()  # cleaned up, files of the other user too


def test_cancel_kills_the_users_whole_tree(tmp_path: Path, job_user: pwd.struct_passwd) -> None:
    run = (
        "#!/bin/sh\n"
        "trap 'echo got-term; exit 3' TERM\n"
        "setsid sleep 1000 & echo $! > pids\n"
        "sh -c 'sleep 1000' & echo $! >> pids\n"
        "echo ready\n"
        "wait\n"
    )
    job = _job(tmp_path, run, cancelation={"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 30})
    statuses: list[ActionStatus] = []
    lines: list[str] = []
    with _session(tmp_path, statuses, lines) as session:
        session.run_task(step_script=job.steps[0].script, step_name="S")
        pids_file = session.working_directory / "pids"
        deadline = time.monotonic() + 30
        while "ready" not in lines:
            assert time.monotonic() < deadline, lines
            time.sleep(0.02)
        pids = [int(p) for p in pids_file.read_text().split()]
        assert all(psutil.Process(p).username() == USER for p in pids)
        session.cancel_action()
        last = session.wait(60)
        assert last is not None and last.state is ActionState.CANCELED
        assert "got-term" in lines  # the notice reached the action itself, through sudo
        assert last.exit_code == 3
        gone, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=10)
        assert not alive
