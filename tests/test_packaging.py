"""What a user gets from the wheel: a small core that runs jobs, writes reports and runs the own
conformance suite; extras named when missing; the ready environment templates."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel`` builds from this checkout (built once for these tests)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("wraprun-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding that wheel, its dependencies from the package index, no extras."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, str(wheel)], check=True, capture_output=True, timeout=600)
    return venv


def test_a_plain_install_runs_a_job_and_names_the_missing_extras(venv: Path, tmp_path: Path) -> None:
    wraprun = str(venv / "bin" / "wraprun")
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout.lower()
    # jinja2 is core (the HTML reports); pydantic comes with openjd-model itself
    assert "jinja2" in listed and "pydantic" in listed and "docker" not in listed

    report = tmp_path / "r.html"
    done = subprocess.run(
        [wraprun, "run", str(REPO / "examples" / "hello.yaml"), "--report", str(report)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and "Session succeeded: 3 task(s) run." in done.stdout, done.stderr
    page = report.read_text(encoding="utf-8")  # the page's template travels in the wheel
    # A bar for Greeter's onEnter and one for each of the 3 tasks.
    assert page.startswith("<!DOCTYPE html>") and page.count('class="bar s-SUCCEEDED"') == 4

    # The own suite, shipped in the wheel, runs with no extra (one test of it: kept fast).
    suite = subprocess.run(
        [wraprun, "conformance", "-k", "onwraptaskrun-runs-for-every-task", "--html", "c.html"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert suite.returncode == 0 and "1 passed, 0 failed" in suite.stdout, suite.stdout + suite.stderr
    assert "onwraptaskrun-runs-for-every-task" in (tmp_path / "c.html").read_text(encoding="utf-8")

    docker_start = [str(venv / "bin" / "wraprun-docker"), "start", "--image", "busybox"]
    helper = subprocess.run(docker_start, capture_output=True, text=True)
    assert helper.returncode == 2 and "pip install 'wraprun[docker]'" in helper.stderr


def test_the_own_suite_travels_in_the_wheel(wheel: Path) -> None:
    names = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True
    ).stdout
    suite = sorted((REPO / "conformance").rglob("*.yaml"))
    assert len(suite) > 40
    for path in suite:
        assert f"wraprun/conformance_suite/{path.relative_to(REPO / 'conformance')}" in names


def test_the_ready_templates_travel_in_the_wheel_and_run_by_name(venv: Path, tmp_path: Path) -> None:
    """From a folder with no checkout: listed, shown as shipped, and a job runs through one by name."""
    wraprun = str(venv / "bin" / "wraprun")
    ready = sorted((REPO / "templates").glob("*.yaml"))
    listed = subprocess.run([wraprun, "templates"], capture_output=True, text=True, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [p.stem for p in ready]

    for path in ready:
        shown = subprocess.run(
            [wraprun, "templates", "show", path.stem], capture_output=True, text=True, cwd=tmp_path
        )
        assert shown.returncode == 0 and shown.stdout == path.read_text(encoding="utf-8"), shown.stderr
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "from wraprun import shipped; print(shipped.folder())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert not installed.startswith(str(REPO)) and (Path(installed) / "README.md").is_file()

    job = shutil.copy(REPO / "examples" / "hello.yaml", tmp_path / "hello.yaml")
    done = subprocess.run(
        [wraprun, "run", job, "--env", "trace"], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0 and "Session succeeded: 3 task(s) run." in done.stdout, done.stderr
    argv = [
        json.loads(line[len("trace: argv ") :])
        for line in done.stdout.splitlines()
        if line.startswith("trace: argv ")
    ]
    assert [a[0] for a in argv] == ["bash", "bash", "bash", "bash"]  # the job environment's onEnter, 3 tasks
