"""wraprun-docker's command line: usage errors are one line and exit 2, with no daemon.

Every case points --host at a socket nobody listens on: a usage error must be found
before the daemon is asked anything, or it would come out as a substrate failure (125).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from wraprun.wrappers.docker import CONTAINER_VAR, gone

USAGE_ERRORS = [
    (["start", "--image", "img", "--option", "user"], "--option 'user': expected KEY=VALUE"),
    (["start", "--image", "img", "--option", "=1000"], "expected KEY=VALUE"),
    (["start", "--image", "img", "--option", "no_such_keyword=1"], "--option 'no_such_keyword'"),
    (["start", "--image", "img", "--option", "network=host"], "--option 'network'"),  # conflicts
    (["start", "--image", "img", "--option", "detach=false"], "--option 'detach'"),  # start's own
    (["start", "--image", "img", "--no-such-flag"], "unrecognized arguments"),
    (["start", "--mount", "/tmp"], "required: --image"),
    (["start", "--image"], "expected one argument"),
    (["exec", "--", "true"], f"set {CONTAINER_VAR}"),
    (["exec", "--container", "c"], "no command given"),
    (["exec", "--container", "c", "--"], "no command given"),
    (["exec", "--container", "c", "--timeout", "soon", "--", "true"], "--timeout"),
    (["exec", "--container", "c", "--mode", "NOPE", "--", "true"], "--mode"),
    (["stop"], f"set {CONTAINER_VAR}"),
    (["no-such-command"], "invalid choice"),
    ([], "required: command"),
]


def wraprun_docker(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", CONTAINER_VAR)}
    command = [sys.executable, "-m", "wraprun.wrappers.docker", "--host", f"unix://{tmp}/none.sock", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


IDS = [" ".join(args) or "nothing" for args, _ in USAGE_ERRORS]


@pytest.mark.parametrize(("args", "says"), USAGE_ERRORS, ids=IDS)
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], says: str) -> None:
    result = wraprun_docker(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("wraprun-docker"), result.stderr
    assert says in result.stderr
    assert result.stdout == ""


def test_help_still_exits_0(tmp_path: Path) -> None:
    result = wraprun_docker(tmp_path, "start", "--help")
    assert result.returncode == 0 and "--option KEY=VALUE" in result.stdout


def test_a_valid_command_line_reaches_the_daemon(tmp_path: Path) -> None:
    options = ["--option", "user=1000", "--option", "shm_size="]
    result = wraprun_docker(tmp_path, "start", "--image", "img", *options)
    assert result.returncode == 125 and "cannot reach the Docker daemon" in result.stderr


def api_error(status: int, explanation: str) -> Any:
    import docker.errors

    response = requests.Response()
    response.status_code = status
    error_class = docker.errors.NotFound if status == 404 else docker.errors.APIError
    return error_class("failed", response=response, explanation=explanation)


@pytest.mark.parametrize(
    ("status", "explanation", "expected"),
    [
        (404, "No such container: abc", True),
        (409, "removal of container abc is already in progress", True),
        (409, "You cannot remove a running container abc", False),
        (500, "removal of container abc is already in progress", False),
        (500, "driver failed", False),
    ],
)
def test_gone_accepts_only_a_container_removed_or_being_removed(
    status: int, explanation: str, expected: bool
) -> None:
    assert gone(api_error(status, explanation)) is expected
