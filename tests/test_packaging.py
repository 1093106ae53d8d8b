"""What a user gets from `pip install .`: a small core that runs jobs, extras named when missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .helpers import REPO


def test_a_plain_install_runs_a_job_and_names_the_missing_extras(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, str(REPO)], check=True, capture_output=True, timeout=600)
    wraprun = str(venv / "bin" / "wraprun")
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout.lower()
    # (pydantic comes with openjd-model itself)
    assert "jinja2" not in listed and "docker" not in listed

    done = subprocess.run(
        [wraprun, "run", str(REPO / "examples" / "hello.yaml")], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0 and "Session succeeded: 3 task(s) run." in done.stdout, done.stderr

    suite = subprocess.run([wraprun, "conformance"], capture_output=True, text=True, cwd=tmp_path)
    assert suite.returncode == 2 and suite.stderr.splitlines() == [
        "wraprun conformance needs jinja2: pip install 'wraprun[conformance]'"
    ]

    docker_start = [str(venv / "bin" / "wraprun-docker"), "start", "--image", "busybox"]
    helper = subprocess.run(docker_start, capture_output=True, text=True)
    assert helper.returncode == 2 and "pip install 'wraprun[docker]'" in helper.stderr


def test_the_own_suite_travels_in_the_wheel(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("wraprun-*.whl")
    names = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True
    ).stdout
    suite = sorted((REPO / "conformance").rglob("*.yaml"))
    assert len(suite) > 40
    for path in suite:
        assert f"wraprun/conformance_suite/{path.relative_to(REPO / 'conformance')}" in names
