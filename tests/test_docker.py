"""wrappers.docker and templates/docker.yaml against a real dockerd.

The daemon comes from scripts/test.sh (.ci/services/docker.sh): a private
socket, no network, and a busybox image built locally.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from wraprun.wrappers.docker import IDLE_COMMAND, gone

from .helpers import REPO, markers, require_service, unmodified_job, wraprun, wraprun_until_line, write

TEMPLATE = REPO / "templates" / "docker.yaml"


@pytest.fixture(scope="module")
def docker_host() -> str:
    return require_service("WRAPRUN_DOCKER_HOST", "dockerd")


@pytest.fixture(scope="module")
def client(docker_host: str) -> Any:
    import docker

    return docker.DockerClient(base_url=docker_host)


@pytest.fixture(autouse=True)
def no_leftover_containers(client: Any) -> Any:
    yield
    # A `--rm` container (the RFC pattern's) is removed by the daemon once it stops, maybe
    # while we look: it may vanish between listing and inspection, and is not left behind.
    left = client.containers.list(all=True, filters={"label": "wraprun=session"}, ignore_removed=True)
    behind = [c.short_id for c in left if c.status == "running" or not c.attrs["HostConfig"]["AutoRemove"]]
    for container in left:
        remove(container)
    assert behind == [], "a session left its container behind"


def remove(container: Any) -> None:
    """Remove a container, which may already be gone or going (404, 409 'already in progress')."""
    import docker.errors

    try:
        container.remove(force=True)
    except docker.errors.APIError as exc:
        if not gone(exc):
            raise


def params(tmp: Path, docker_host: str, **extra: str) -> list[str]:
    image = os.environ.get("WRAPRUN_TEST_IMAGE", "wraprun-test:busybox")
    path = write(tmp / "params.yaml", {"DockerImage": image, "DockerHost": docker_host, **extra})
    return ["--env", str(TEMPLATE), "-p", f"file://{path}"]


def job(tmp: Path, task: str, **action: Any) -> Path:
    """An ordinary job: nothing in it knows about Docker."""
    enter = "echo M:enter $(cat /etc/wraprun-test-image); echo openjd_env: INNER=from-inner-enter"
    return unmodified_job(tmp, task, enter=enter, **action)


def sleepers() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "321"]]


def test_job_runs_inside_the_container(tmp_path: Path, docker_host: str) -> None:
    task = "echo M:task {{Task.Param.N}} $INNER $(cat /etc/wraprun-test-image) $(pwd)"
    result = wraprun("run", str(job(tmp_path, task)), *params(tmp_path, docker_host))
    assert result.returncode == 0, result.stdout + result.stderr
    found = markers(result.stdout)
    assert found[0] == "M:enter inside-wraprun-test-image"  # a file only the image has
    assert found[1].startswith("M:task 1 from-inner-enter inside-wraprun-test-image /tmp/wraprun-session-")
    assert found[2].startswith("M:task 2 from-inner-enter")
    assert found[3] == "M:exit"
    assert "Removed container" in result.stdout


def test_exit_codes_propagate(tmp_path: Path, docker_host: str) -> None:
    result = wraprun("run", str(job(tmp_path, "echo M:task; exit 7")), *params(tmp_path, docker_host))
    assert result.returncode == 1
    codes = [line for line in result.stdout.splitlines() if "exited with code:" in line]
    assert "Process exited with code: 7" in codes
    assert markers(result.stdout)[-1] == "M:exit"  # teardown still ran inside the container


def test_cancel_stops_the_process_in_the_container(tmp_path: Path, docker_host: str) -> None:
    task = "echo M:ready; sleep 321; echo M:never"
    result = wraprun_until_line(["run", str(job(tmp_path, task)), *params(tmp_path, docker_host)], "M:ready")
    assert result.returncode == 3, result.stdout
    assert "M:never" not in result.stdout
    assert markers(result.stdout)[-1] == "M:exit"
    assert "Removed container" in result.stdout and "still running" not in result.stdout
    assert sleepers() == []


def test_notify_then_terminate_reaches_the_process(tmp_path: Path, docker_host: str) -> None:
    task = "trap 'echo M:got-TERM; exit 5' TERM; echo M:ready; sleep 321 & wait"
    cancel = {"cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 5}}
    result = wraprun_until_line(
        ["run", str(job(tmp_path, task, **cancel)), *params(tmp_path, docker_host)], "M:ready"
    )
    assert result.returncode == 3
    assert "M:got-TERM" in result.stdout
    assert sleepers() == []


def test_timeout_is_enforced_in_the_container(tmp_path: Path, docker_host: str) -> None:
    result = wraprun(
        "run",
        str(job(tmp_path, "echo M:ready; sleep 321; echo M:never", timeout=2)),
        *params(tmp_path, docker_host),
    )
    assert result.returncode == 1
    assert "timeout reached" in result.stdout + result.stderr
    assert "M:never" not in result.stdout
    assert sleepers() == []


def test_daemon_down_is_a_substrate_failure(tmp_path: Path) -> None:
    result = wraprun(
        "run", str(job(tmp_path, "echo M:task")), *params(tmp_path, f"unix://{tmp_path}/no-daemon.sock")
    )
    assert result.returncode == 1
    assert "cannot reach the Docker daemon" in result.stdout + result.stderr
    assert "Process exited with code: 125" in result.stdout
    assert "M:task" not in result.stdout


def test_missing_image_is_a_substrate_failure(tmp_path: Path, docker_host: str) -> None:
    result = wraprun(
        "run",
        str(job(tmp_path, "echo M:task")),
        *params(tmp_path, docker_host, DockerImage="wraprun-test:no-such-tag"),
    )
    assert result.returncode == 1
    assert "is not available" in result.stdout + result.stderr
    assert "Process exited with code: 125" in result.stdout


# The RFC's own Basic Example pattern (bash + `docker container exec`), kept to
# document why the helper exists: canceling the exec client leaves the work running.
RFC_PATTERN = {
    "specificationVersion": "environment-2023-09",
    "extensions": ["WRAP_ACTIONS", "EXPR"],
    "parameterDefinitions": [
        {"name": "DockerImage", "type": "STRING"},
        {"name": "DockerHost", "type": "STRING"},
    ],
    "environment": {
        "name": "RfcDocker",
        "variables": {"DOCKER_HOST": "{{Param.DockerHost}}"},
        "script": {
            "actions": {
                "onEnter": {
                    "command": "bash",
                    "args": [
                        "-c",
                        (
                            "set -euo pipefail; id=$(docker container run --rm --detach --network none "
                            "--mount type=bind,src={{Session.WorkingDirectory}},"
                            "dst={{Session.WorkingDirectory}} --label wraprun=session "
                            "{{repr_sh(Param.DockerImage)}} sh -c 'while :; do sleep 3600; done'); "
                            "echo openjd_env: DOCKER_CONTAINER_ID=$id"
                        ),
                    ],
                },
                **{
                    hook: {
                        "command": "bash",
                        "args": [
                            "-c",
                            'exec docker container exec "$DOCKER_CONTAINER_ID" "$@"',
                            "wrap",
                            "{{WrappedAction.Command}}",
                            "{{WrappedAction.Args}}",
                        ],
                    }
                    for hook in ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")
                },
                "onExit": {
                    "command": "bash",
                    "args": [
                        "-c",
                        (
                            'echo "M:top $(docker container top "$DOCKER_CONTAINER_ID" -o pid,args '
                            '| tr "\\n" " ")"; '
                            'docker container stop -t 1 "$DOCKER_CONTAINER_ID" >/dev/null'
                        ),
                    ],
                },
            }
        },
    },
}


def test_rfc_exec_pattern_leaks_on_cancel(tmp_path: Path, docker_host: str) -> None:
    env = write(tmp_path / "rfc.yaml", RFC_PATTERN)
    image = os.environ.get("WRAPRUN_TEST_IMAGE", "wraprun-test:busybox")
    p = write(tmp_path / "p.yaml", {"DockerImage": image, "DockerHost": docker_host})
    task = "echo M:ready; sleep 321; echo M:never"
    result = wraprun_until_line(
        ["run", str(job(tmp_path, task)), "--env", str(env), "-p", f"file://{p}"],
        "M:ready",
        sig=signal.SIGTERM,
    )
    assert result.returncode == 3
    top = next(line for line in result.stdout.splitlines() if line.startswith("M:top"))
    assert "sleep 321" in top  # the canceled task still runs in the container: the leak


def image() -> str:
    return os.environ.get("WRAPRUN_TEST_IMAGE", "wraprun-test:busybox")


def idle_container(client: Any, **options: Any) -> Any:
    options.update(detach=True, network_mode="none", labels={"wraprun": "session"})
    return client.containers.run(image(), IDLE_COMMAND, **options)


def test_cleanup_accepts_a_container_already_gone(client: Any) -> None:
    container = idle_container(client)
    client.containers.get(container.id).remove(force=True)  # someone else got there first
    remove(container)  # the stale handle: NotFound, which is what the fixture met


def test_stop_accepts_a_container_already_gone(client: Any, docker_host: str) -> None:
    import docker.errors

    container = idle_container(client, auto_remove=True)
    container.stop(timeout=1)  # auto_remove: the daemon removes it on its own, as `--rm` does
    result = wraprun_docker("--host", docker_host, "stop", "--container", container.id)
    assert result.returncode == 0, result.stderr  # removed by us, already gone, or going: all fine
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            client.containers.get(container.id)
        except docker.errors.NotFound:
            break
        time.sleep(0.1)
    again = wraprun_docker("--host", docker_host, "stop", "--container", container.id)
    assert again.returncode == 0 and "already gone" in again.stdout, again.stdout + again.stderr


def test_a_bad_option_value_is_a_usage_error(docker_host: str) -> None:
    for option in ("cpu_count=many", "mem_limit=lots"):
        result = wraprun_docker("--host", docker_host, "start", "--image", image(), "--option", option)
        assert result.returncode == 2, (option, result.stderr)
        assert result.stderr.count("\n") == 1 and "--option" in result.stderr
        assert "Traceback" not in result.stderr


def wraprun_docker(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "wraprun.wrappers.docker", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)
