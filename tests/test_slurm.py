"""templates/slurm.yaml against a real one-node Slurm cluster.

The cluster comes from scripts/test.sh (.ci/services/slurm.sh): munge, slurmctld
and slurmd on loopback, partition "debug", the node being this machine, so the
processes of a job step are visible here by pid.
"""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
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

TEMPLATE = REPO / "templates" / "slurm.yaml"
INNER_VALUE = "two  words 'q' \"dq\" $HOME * ; x"


@pytest.fixture(scope="module")
def slurm_conf() -> str:
    return require_service("SLURM_CONF", "slurm")


def active_jobs(name: str) -> list[str]:
    """Ids of the jobs named ``name`` that Slurm still holds (pending, running, completing...)."""
    out = subprocess.run(
        ["squeue", "-h", f"--name={name}", "-o", "%i"], capture_output=True, text=True, timeout=30, check=True
    )
    return out.stdout.split()


@pytest.fixture
def job_name(slurm_conf: str) -> Any:
    """A name no other test's allocation has; whatever is left under it is canceled, then fails the test."""
    name = f"wraprun-test-{uuid.uuid4().hex[:10]}"
    yield name
    left = active_jobs(name)
    if left:
        subprocess.run(["scancel", f"--name={name}"], timeout=30, check=False)
    assert left == [], f"the session left its allocation {left} behind"


def params(tmp: Path, name: str, **extra: Any) -> list[str]:
    values = {
        "SlurmPartition": "debug",
        "SlurmJobName": name,
        "SlurmTimeLimit": "5",
        "SlurmExtraArgs": ["--comment=wraprun test two words"],
        **extra,
    }
    return ["--env", str(TEMPLATE), "-p", f"file://{write(tmp / 'params.yaml', values)}"]


def job(tmp: Path, task: str, inner_exit: str = "", **action: Any) -> Path:
    """An ordinary job with an inner environment: nothing in it knows about Slurm.

    ``inner_exit`` runs first in the inner environment's onExit.
    """
    where = "echo M:$1 $SLURM_JOB_ID.$SLURM_STEP_ID $(cat /proc/$PPID/comm)"
    enter = f"{where}; printf '%s\\n' \"openjd_env: INNER=$0\""
    return unmodified_job(
        tmp,
        task,
        enter=enter,
        enter_args=[INNER_VALUE, "enter"],
        exit=inner_exit + where,
        exit_args=["sh", "exit"],
        **action,
    )


def allocation(output: str) -> str:
    """The job id the template's onEnter published."""
    line = next(line for line in output.splitlines() if line.startswith("openjd_env: WRAPRUN_SLURM_JOB_ID="))
    return line.split("=", 1)[1]


def test_every_action_runs_as_a_step_of_one_allocation(tmp_path: Path, job_name: str) -> None:
    task = (
        "echo M:task {{Task.Param.N}} $SLURM_JOB_ID.$SLURM_STEP_ID $(cat /proc/$PPID/comm) $(pwd); "
        "printf 'M:inner %s\\n' \"$INNER\"; "
        "echo M:job $(squeue -h -j $SLURM_JOB_ID -o '%j|%P|%l|%k')"
    )
    result = wraprun("run", str(job(tmp_path, task)), *params(tmp_path, job_name))
    assert result.returncode == 0, result.stdout + result.stderr
    jid = allocation(result.stdout)
    session_dir = next(m for m in markers(result.stdout) if m.startswith("M:task 1")).split()[-1]
    assert "/wraprun-session-" in session_dir
    assert markers(result.stdout) == [
        f"M:enter {jid}.0 slurmstepd",
        f"M:task 1 {jid}.1 slurmstepd {session_dir}",
        f"M:inner {INNER_VALUE}",
        f"M:job {job_name}|debug|5:00|wraprun test two words",
        f"M:task 2 {jid}.2 slurmstepd {session_dir}",
        f"M:inner {INNER_VALUE}",
        f"M:job {job_name}|debug|5:00|wraprun test two words",
        f"M:exit {jid}.3 slurmstepd",
    ]
    assert f"slurm: released allocation {jid}" in result.stdout
    assert active_jobs(job_name) == []


def test_a_failing_task_fails_the_session_and_teardown_runs(tmp_path: Path, job_name: str) -> None:
    result = wraprun("run", str(job(tmp_path, "echo M:task; exit 7")), *params(tmp_path, job_name))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Process exited with code: 7" in result.stdout
    assert markers(result.stdout)[-1].startswith("M:exit ")  # the inner onExit still ran as a step
    assert "slurm: released allocation" in result.stdout
    assert active_jobs(job_name) == []


def test_no_allocation_fails_the_session_before_any_task(tmp_path: Path, job_name: str) -> None:
    result = wraprun(
        "run",
        str(job(tmp_path, "echo M:task")),
        *params(tmp_path, job_name, SlurmPartition="no-such-partition"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "invalid partition" in result.stdout.lower()
    assert "slurm: salloc failed" in result.stdout
    assert markers(result.stdout) == []  # neither the inner environment nor a task ran
    assert "slurm: no allocation to release" in result.stdout


def test_hostile_arguments_arrive_exactly(tmp_path: Path, job_name: str) -> None:
    record = tmp_path / "argv.json"
    result = wraprun("run", str(argv_job(tmp_path / "job.yaml", str(record))), *params(tmp_path, job_name))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(record.read_text(encoding="utf-8")) == HOSTILE_ARGS
    assert not Path("/tmp/wraprun-pwned").exists()


def recording_task(pids: Path, *body: str) -> str:
    """Record the task's pid and a grandchild's, say M:ready once both are on disk, then ``body``."""
    return "\n".join(
        [
            f"echo $$ > {pids}/task.pid",
            f"sh -c 'sleep 326 & echo $! > {pids}/grandchild.tmp; wait' &",
            f"until [ -s {pids}/grandchild.tmp ]; do sleep 0.05; done",
            f"mv {pids}/grandchild.tmp {pids}/grandchild.pid",
            *body,
        ]
    )


def still_running(pids: Path) -> str:
    """Shell for the inner onExit: print ``M:alive`` and the recorded pids that still run
    (zombies aside) after waiting up to two seconds for them. It runs while the allocation
    still exists, so only stopping the step itself, not releasing the allocation, passes it."""
    return (
        "for _ in $(seq 40); do "
        f"alive=$(ps -o pid=,stat= -p $(cat {pids}/*.pid | paste -sd, -) | awk '$2 !~ /^Z/ {{print $1}}'); "
        '[ -z "$alive" ] && break; sleep 0.05; done; echo M:alive $alive; '
    )


def test_cancel_stops_the_step(tmp_path: Path, job_name: str) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    task = recording_task(pids, "echo M:ready", "sleep 327", "echo M:never")
    args = ["run", str(job(tmp_path, task, still_running(pids))), *params(tmp_path, job_name)]
    result = wraprun_until_line(args, "M:ready")
    assert result.returncode == 3, result.stdout
    assert "M:never" not in result.stdout
    assert markers(result.stdout)[-1].startswith("M:exit ")  # teardown ran, as a step
    assert "slurm: released allocation" in result.stdout
    assert len(list(pids.glob("*.pid"))) == 2
    assert markers(result.stdout)[-2] == "M:alive"  # the step ended before the allocation did
    assert survivors(pids) == []
    assert active_jobs(job_name) == []


def test_cancel_notifies_the_step_first(tmp_path: Path, job_name: str) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    # Slurm signals every process of the step, children first: the loop outlives a
    # killed `sleep` (a bare `wait` would return 0 once the children are gone).
    task = recording_task(
        pids,
        "trap 'echo M:got-TERM; sleep 1; echo M:cleaned-up; exit 5' TERM",
        "echo M:ready",
        "while :; do sleep 0.1; done",
    )
    cancel = {"cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 5}}
    args = ["run", str(job(tmp_path, task, still_running(pids), **cancel)), *params(tmp_path, job_name)]
    result = wraprun_until_line(args, "M:ready", sig=signal.SIGTERM)
    assert result.returncode == 3, result.stdout
    assert "M:got-TERM" in result.stdout and "M:cleaned-up" in result.stdout  # the notify period held
    assert "Process exited with code: 5" in result.stdout
    assert markers(result.stdout)[-2] == "M:alive"  # the step ended before the allocation did
    assert survivors(pids) == []
    assert active_jobs(job_name) == []


def test_timeout_stops_the_step(tmp_path: Path, job_name: str) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    step_limit = "echo M:limit $(squeue -h --steps=$SLURM_JOB_ID.$SLURM_STEP_ID -o %l)"
    task = recording_task(pids, step_limit, "echo M:ready", "sleep 329", "echo M:never")
    result = wraprun(
        "run", str(job(tmp_path, task, still_running(pids), timeout=2)), *params(tmp_path, job_name)
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "timed out after 2 s" in result.stdout + result.stderr
    assert "M:limit 1:00" in result.stdout  # Slurm's own limit for the step: 2 s, in whole minutes
    assert "M:ready" in result.stdout and "M:never" not in result.stdout
    assert len(list(pids.glob("*.pid"))) == 2
    assert markers(result.stdout)[-2] == "M:alive"  # the step ended before the allocation did
    assert survivors(pids) == []
    assert active_jobs(job_name) == []
