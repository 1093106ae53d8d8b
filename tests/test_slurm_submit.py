"""``wraprun submit --slurm`` and ``wraprun status`` against a real one-node Slurm cluster.

The cluster comes from scripts/test.sh (.ci/services/slurm.sh): slurmctld and
slurmd on loopback, partition "debug", no accounting (so no sacct: state comes
from squeue and the elements' exit files). The node is this machine, so the
files the tasks write are visible here. Evidence of order and of "ran once"
is in those files, never in timings.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from wraprun import job
from wraprun.backends import Slice, StepWork
from wraprun.submit import ELEMENTS, _work

from .helpers import REPO, markers, require_service, survivors, wraprun, write

DOCKER = REPO / "templates" / "docker.yaml"


@pytest.fixture(scope="module")
def slurm_conf() -> str:
    return require_service("SLURM_CONF", "slurm")


def active(ids: list[str]) -> list[str]:
    """The elements of these job arrays Slurm still holds (pending, running, completing...)."""
    if not ids:
        return []
    out = subprocess.run(
        ["squeue", "-h", "-r", "-j", ",".join(ids), "-o", "%i %T"], capture_output=True, text=True, timeout=30
    )
    return out.stdout.split("\n")[:-1] if out.returncode == 0 else []


def left_after_cancel(ids: list[str], within: float = 60) -> list[str]:
    """What of these arrays Slurm still holds once a cancel has had time to finish: a canceled
    element passes through COMPLETING while its session tears down, so this waits (polling)
    until none is held, and returns what is still held at the deadline."""
    deadline = time.monotonic() + within
    while (held := active(ids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return held


def ended(array: str) -> list[str]:
    """``INDEX STATE REASON`` of each element of a job array, ended ones included, by index."""
    out = subprocess.run(
        ["squeue", "-h", "-r", "-t", "all", "-j", array, "-o", "%K %T %r"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return sorted(out.stdout.splitlines())


def manifest(stage: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((stage / "manifest.json").read_text(encoding="utf-8"))
    return document


def array_ids(stage: Path) -> list[str]:
    return [step["job_id"] for step in manifest(stage)["steps"]] if (stage / "manifest.json").exists() else []


@pytest.fixture
def stage(tmp_path: Path, slurm_conf: str) -> Any:
    """The stage directory of the test's submission; what it leaves in Slurm is canceled, then fails it."""
    path = tmp_path / "stage"
    yield path
    left = left_after_cancel(array_ids(path))
    if left:
        subprocess.run(["scancel", *array_ids(path)], timeout=30, check=False)
    assert left == [], f"the submission left {left} in Slurm"


def slurm(*args: str, stage: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return wraprun("submit", *args, "--slurm", "--stage-dir", str(stage), cwd=cwd)


def step(name: str, shell: str, *, tasks: str | None = None, after: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if tasks:
        out["parameterSpace"] = {"taskParameterDefinitions": [{"name": "N", "type": "INT", "range": tasks}]}
    if after:
        out["dependencies"] = [{"dependsOn": upstream} for upstream in after]
    out["script"] = {"actions": {"onRun": {"command": "sh", "args": ["-c", shell]}}}
    return out


def diamond(tmp: Path, a_task: str = "") -> Path:
    """A; B and C after A; D after B and C. Each task appends a line to a file named after it
    in the Out folder (PATH parameter, given relative); D's records what the folder held."""

    def record(name: str) -> str:
        return f"echo {name} >> {{{{Param.Out}}}}/{name}-{{{{Task.Param.N}}}}"

    return write(
        tmp / "diamond.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Diamond",
            "parameterDefinitions": [{"name": "Out", "type": "PATH"}],
            "steps": [
                step("A", a_task + record("A"), tasks="1-4"),
                step("B", record("B"), tasks="1-3", after=("A",)),
                step("C", record("C"), tasks="1-2", after=("A",)),
                step(
                    "D",
                    record("D") + "; ls {{Param.Out}} > {{Param.Out}}/D-seen",
                    tasks="1",
                    after=("B", "C"),
                ),
            ],
        },
    )


def test_a_diamond_runs_every_task_once_in_dependency_order(tmp_path: Path, stage: Path) -> None:
    (tmp_path / "out").mkdir()
    result = slurm(
        str(diamond(tmp_path)), "-p", "Out=out", "--chunk-size", "2", "--wait", stage=stage, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr

    expected = {f"A-{n}" for n in range(1, 5)} | {"B-1", "B-2", "B-3", "C-1", "C-2", "D-1"}
    written = {path.name: path.read_text().splitlines() for path in (tmp_path / "out").iterdir()}
    seen_by_d = written.pop("D-seen")
    assert set(written) == expected
    assert all(lines == [name.split("-")[0]] for name, lines in written.items())  # each task ran once
    assert expected - {"D-1"} <= set(seen_by_d)  # D started after every task of B and C had ended

    steps = manifest(stage)["steps"]
    assert [(s["step"], s["after"]) for s in steps] == [
        ("A", []),
        ("B", ["A"]),
        ("C", ["A"]),
        ("D", ["B", "C"]),
    ]
    assert [[(e["start"], e["stop"]) for e in s["elements"]] for s in steps] == [
        [(0, 2), (2, 4)],
        [(0, 2), (2, 3)],
        [(0, 2)],
        [(0, 1)],
    ]
    shown = [line for line in result.stdout.splitlines() if line.startswith("sbatch ")]
    assert shown == [shlex.join(s["sbatch"]) for s in steps]  # the exact command lines, before each ran
    ids = {s["step"]: s["job_id"] for s in steps}
    assert (
        f"--dependency=afterok:{ids['B']}:{ids['C']}" in shown[3] and "--kill-on-invalid-dep=yes" in shown[3]
    )
    assert "Submission 'Diamond' succeeded" in result.stdout
    log = (stage / "logs" / "B-2-3.log").read_text()
    assert "Running job 'Diamond'" in log and "<== Task B (N=3): SUCCEEDED" in log
    assert "(N=1)" not in log  # one slice: only its own tasks

    status = wraprun("status", str(stage))
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"Step D (job array {ids['D']}): 1/1 done" in status.stdout


def test_a_failing_task_fails_its_array_and_dependents_never_run(tmp_path: Path, stage: Path) -> None:
    (tmp_path / "out").mkdir()
    job_file = diamond(tmp_path, a_task="test {{Task.Param.N}} = 3 && exit 7; ")
    result = slurm(str(job_file), "-p", "Out=out", "--chunk-size", "2", "--wait", stage=stage, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    failed_log = stage / "logs" / "A-2-4.log"
    assert f"Slice A[2:4] failed (exit code 1): see {failed_log}" in result.stdout
    assert "Process exited with code: 7" in failed_log.read_text()
    # A[2:4]'s session stops at its failed task (A-4 never runs); nothing of B, C or D ran.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["A-1", "A-2"]
    assert left_after_cancel(array_ids(stage)) == []  # dropped, not left pending
    ids = dict(zip("ABCD", array_ids(stage), strict=True))
    assert f"Step A (job array {ids['A']}): 1/2 done, 1 failed" in result.stdout
    for dependent, slices in (("B", 2), ("C", 1), ("D", 1)):
        assert (
            f"Step {dependent} (job array {ids[dependent]}): 0/{slices} done, {slices} canceled"
            in result.stdout
        )
    # Slurm's own word, while it still holds the ended jobs (MinJobAge): A failed, the rest were dropped.
    assert ended(ids["A"]) == ["0 COMPLETED None", "1 FAILED NonZeroExitCode"]
    for dependent in "BCD":
        elements = ended(ids[dependent])
        assert elements and all(e.endswith(" CANCELLED DependencyNeverSatisfied") for e in elements), elements

    status = wraprun("status", str(stage))
    assert status.returncode == 1
    assert f"Slice A[2:4] failed (exit code 1): see {failed_log}" in status.stdout


def test_sigint_while_waiting_cancels_what_is_left(tmp_path: Path, stage: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    long_task = f"echo $$ > {pids}/{{{{Task.Param.N}}}}.pid; sleep 300 && echo M:never"
    job_file = write(
        tmp_path / "slow.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Slow",
            "steps": [
                step("A", long_task, tasks="1-4"),
                step("B", f"touch {tmp_path}/B-ran", after=("A",)),
            ],
        },
    )
    argv = [
        sys.executable,
        "-m",
        "wraprun",
        "submit",
        str(job_file),
        "--slurm",
        "--stage-dir",
        str(stage),
        "--wait",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not list(pids.glob("*.pid")):
            assert proc.poll() is None and time.monotonic() < deadline, "no task started"
            time.sleep(0.1)
        running = wraprun("status", str(stage))  # read from the stage while it runs
        assert running.returncode == 5, running.stdout + running.stderr
        assert "running" in running.stdout and "is not finished" in running.stdout
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=90)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, out
    ids = array_ids(stage)
    assert f"canceling the submission: scancel {' '.join(ids)}" in out
    assert "Submission 'Slow' was canceled." in out
    assert left_after_cancel(ids) == []
    assert survivors(pids) == []  # the running tasks' processes went with their elements
    assert not (tmp_path / "B-ran").exists()
    logs = list((stage / "logs").glob("A-*.log"))
    assert logs and all("M:never" not in log.read_text() for log in logs)


def test_a_wrapped_job_runs_in_containers_under_slurm(tmp_path: Path, slurm_conf: str) -> None:
    docker_host = require_service("WRAPRUN_DOCKER_HOST", "dockerd")
    image = os.environ.get("WRAPRUN_TEST_IMAGE", "wraprun-test:busybox")
    params = write(tmp_path / "params.yaml", {"DockerImage": image, "DockerHost": docker_host})
    task = "echo M:task {{Task.Param.N}} $(cat /etc/wraprun-test-image) net: $(ls /sys/class/net)"
    job_file = write(
        tmp_path / "wrapped.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Wrapped",
            "steps": [step("S", task, tasks="1-3")],
        },
    )
    # No --stage-dir: the default, a new folder under the submitting directory.
    result = wraprun(
        "submit",
        str(job_file),
        "--env",
        str(DOCKER),
        "-p",
        f"file://{params}",
        "--slurm",
        "--wait",
        cwd=tmp_path,
    )
    (stage,) = tmp_path.glob("wraprun-stage-Wrapped-*")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Staged in {stage}" in result.stdout
        assert sorted(p.name for p in (stage / "templates").iterdir()) == [
            "env-1-docker.yaml",
            "job-wrapped.yaml",
        ]
        staged_params = json.loads((stage / "parameters.json").read_text())
        assert staged_params["DockerHost"] == docker_host and staged_params["DockerNetwork"] == "none"
        found = sorted(m for log in (stage / "logs").glob("S-*.log") for m in markers(log.read_text()))
        # Three slices by default (min(tasks, 64)), each in its own container; the network is "none".
        assert found == [f"M:task {n} inside-wraprun-test-image net: lo" for n in (1, 2, 3)]
        for log in (stage / "logs").glob("S-*.log"):
            assert "via Docker.onWrapTaskRun" in log.read_text() and "Removed container" in log.read_text()
    finally:
        left = active(array_ids(stage))
        subprocess.run(["scancel", *array_ids(stage)], timeout=30, check=False)
        assert left == []


def test_bad_input_fails_before_anything_is_staged(tmp_path: Path) -> None:
    job_file = diamond(tmp_path)
    result = wraprun("submit", str(job_file), "--slurm", cwd=tmp_path)  # Out has no value
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "Out" in result.stderr
    assert list(tmp_path.glob("wraprun-stage-*")) == []
    assert wraprun("submit", str(job_file), "-p", "Out=x", cwd=tmp_path).returncode == 2  # no backend chosen
    missing = wraprun("status", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "not a wraprun submission" in missing.stderr


def test_sbatch_refusing_leaves_nothing_behind(tmp_path: Path, stage: Path) -> None:
    result = slurm(str(diamond(tmp_path)), "-p", "Out=out", "--partition", "no-such-partition", stage=stage)
    assert result.returncode == 2
    assert "sbatch failed" in result.stderr and "nothing of this submission is left" in result.stderr
    assert left_after_cancel(array_ids(stage)) == []


def test_a_refused_second_array_cancels_the_first(tmp_path: Path, stage: Path) -> None:
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30).stdout
    # MaxArraySize=M allows indices 0..M-1: a step of M + 1 one-task slices is refused.
    most = int(next(line.split("=")[1] for line in config.splitlines() if line.startswith("MaxArraySize")))
    job_file = write(
        tmp_path / "wide.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Wide",
            "steps": [
                step("First", "true", tasks="1"),
                step("Wide", "true", tasks=f"1-{most + 1}", after=("First",)),
            ],
        },
    )
    result = slurm(str(job_file), "--chunk-size", "1", stage=stage)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Invalid job array specification" in result.stderr
    (first,) = array_ids(stage)  # the manifest names what was submitted, then canceled
    assert left_after_cancel([first]) == []


def plan_of(tmp: Path, **request: Any) -> job.JobPlan:
    return job.plan_request(job.Request(diamond(tmp), parameters={"Out": str(tmp)}, **request))


def test_slices_follow_the_step_order_and_its_dependencies(tmp_path: Path) -> None:
    work, picks = _work(plan_of(tmp_path), None)
    assert work == [
        StepWork("A", tuple(Slice("A", n, n + 1) for n in range(4))),  # min(tasks, 64) elements
        StepWork("B", tuple(Slice("B", n, n + 1) for n in range(3)), ("A",)),
        StepWork("C", (Slice("C", 0, 1), Slice("C", 1, 2)), ("A",)),
        StepWork("D", (Slice("D", 0, 1),), ("B", "C")),
    ]
    assert picks == {}
    chunked, _ = _work(plan_of(tmp_path, step="A", part=(1, 4)), 2)
    assert chunked == [StepWork("A", (Slice("A", 1, 3), Slice("A", 3, 4)))]  # --slice positions kept
    picked, picks = _work(plan_of(tmp_path, step="B", tasks=[{"N": 3}, {"N": 1}]), 1)
    assert picked == [StepWork("B", (Slice("B", 0, 1), Slice("B", 1, 2)))]  # positions in the selection
    assert [pick.tasks for pick in picks.values()] == [[{"N": "3"}], [{"N": "1"}]]
    assert ELEMENTS == 64
