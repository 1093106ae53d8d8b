"""The official OpenJD runtime (openjd-cli over openjd-sessions) and a headless Chromium.

Both are tools from outside the project. In CI (``CI=true``) a missing one is a
failure; elsewhere the test that needs it is skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

VENV_ENV = "WRAPRUN_OFFICIAL_VENV"
LIBRARIES = ("openjd-model==0.14.0", "openjd-sessions==0.14.0")
# openjd-cli 0.8's pins lag openjd-model 0.14, so it goes in last, without dependencies.
CLI = "openjd-cli==0.8.0"


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def official_venv() -> Path:
    return Path(os.environ.get(VENV_ENV, "/opt/ojd"))


def ensure_official_openjd(venv: Path | None = None) -> Path:
    """``<venv>/bin/openjd``, creating the venv first when it is missing."""
    venv = venv or official_venv()
    executable = venv / "bin" / "openjd"
    if not executable.exists():
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        for step in (["python3", "-m", "venv", str(venv)], [*pip, *LIBRARIES], [*pip, "--no-deps", CLI]):
            subprocess.run(step, check=True, timeout=600)
    return executable


def official_openjd() -> Path:
    """The official CLI, or skip/fail (see the module docstring) when it cannot be had."""
    try:
        return ensure_official_openjd()
    except (OSError, subprocess.SubprocessError) as exc:
        unavailable(f"the official openjd CLI could not be set up in {official_venv()}: {exc}")
        raise  # not reached: unavailable() always raises


def chromium() -> str:
    """A Chromium binary; in CI, as root, Debian's package is installed when missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CI") == "true" and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
            subprocess.run(step, check=False, timeout=900, env=env, capture_output=True)
        found = shutil.which("chromium")
    if found is None:
        unavailable("chromium is not installed (apt-get install -y chromium)")
        raise AssertionError("not reached")
    return found


def chromium_flags(profile: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
