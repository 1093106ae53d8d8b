"""The official OpenJD runtime (openjd-cli over openjd-sessions) and a headless Chromium.

Both are tools from outside the project. In CI a missing one is a failure;
elsewhere the test that needs it is skipped, saying why.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..helpers import missing, require_tool
from ..official_runtime import official_openjd as install_official_openjd


def official_openjd() -> Path:
    """The official CLI (installed in its own venv when missing), or fail/skip."""
    try:
        return install_official_openjd()
    except (OSError, subprocess.SubprocessError) as exc:
        missing(f"the official openjd CLI could not be set up: {exc}")
        raise  # not reached: missing() always raises


def chromium() -> str:
    """Debian's Chromium (scripts/test.sh installs it)."""
    return require_tool("chromium", "Chromium")


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
