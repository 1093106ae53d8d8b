"""The official OpenJD runtime (openjd-cli over openjd-sessions), in a venv of its own.

Its pins lag openjd-model 0.14, so the libraries are installed first and the
CLI with --no-deps. Benchmarks and the differential test share it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

VERSIONS = ("openjd-model==0.14.0", "openjd-sessions==0.14.0")
CLI = "openjd-cli==0.8.0"


def official_openjd() -> Path:
    venv = Path(os.environ.get("WRAPRUN_OFFICIAL_VENV", "/opt/ojd"))
    executable = venv / "bin" / "openjd"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *VERSIONS], check=True)
        subprocess.run([*pip, "--no-deps", CLI], check=True)
    return executable
