"""templates/python-venv.yaml, unchanged, inside every wrapping template of templates/.

The venv's onEnter is an inner environment action, so each wrapper runs it its own
way (in a sandbox, over ssh, as a Slurm step, under GNU time, traced); the task must
then run on the venv's Python, and a second session must reuse the venv.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .helpers import REPO, require_service, require_tool, wraprun, write
from .test_python_venv import probe, venv_job, venv_line, venv_params

TEMPLATES = REPO / "templates"


def bubblewrap(work: Path) -> list[str]:
    require_tool("bwrap", "bubblewrap")
    # The sandbox's /tmp is private: the venv cache lives in a path it is given.
    values = {"BwrapWritablePaths": [str(work)]}
    return ["--env", str(TEMPLATES / "bubblewrap.yaml"), "-p", f"file://{write(work / 'bwrap.yaml', values)}"]


def ssh(work: Path) -> list[str]:
    host = require_service("WRAPRUN_SSH_HOST", "sshd")
    values = {"SshHost": host, "SshConfig": os.environ.get("WRAPRUN_SSH_CONFIG", "")}
    return ["--env", str(TEMPLATES / "ssh.yaml"), "-p", f"file://{write(work / 'ssh.yaml', values)}"]


def slurm(work: Path) -> list[str]:
    require_service("SLURM_CONF", "slurm")
    values = {"SlurmPartition": "debug", "SlurmJobName": work.name, "SlurmTimeLimit": "5"}
    return ["--env", str(TEMPLATES / "slurm.yaml"), "-p", f"file://{write(work / 'slurm.yaml', values)}"]


def profile(work: Path) -> list[str]:
    require_tool("/usr/bin/time", "GNU time")
    return ["--env", str(TEMPLATES / "profile.yaml")]


def trace(work: Path) -> list[str]:
    return ["--env", str(TEMPLATES / "trace.yaml")]


WRAPPERS: dict[str, Callable[[Path], list[str]]] = {
    "bubblewrap": bubblewrap,
    "ssh": ssh,
    "slurm": slurm,
    "profile": profile,
    "trace": trace,
}


@pytest.fixture
def work() -> Iterator[Path]:
    """Outside /tmp (bubblewrap hides the host's /tmp); the name doubles as a Slurm job name."""
    path = Path(tempfile.mkdtemp(prefix=f"wraprun-venv-{uuid.uuid4().hex[:8]}-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
    if shutil.which("scancel"):
        subprocess.run(["scancel", f"--name={path.name}"], capture_output=True, timeout=30, check=False)


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_the_venv_environment_works_unchanged_under(wrapper: str, work: Path) -> None:
    wrap = WRAPPERS[wrapper](work)
    args = ["run", str(venv_job(work)), *wrap, *venv_params(work, "# nothing to install\n")]

    first = wraprun(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    verb, _, venv = venv_line(first.stdout)
    assert verb == "created"
    assert "via " in first.stdout  # the venv's onEnter ran through the wrapper's hook
    seen = probe(first.stdout)
    assert seen["prefix"] == venv and seen["venv"] == venv

    again = wraprun(*args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert venv_line(again.stdout)[::2] == ("reused", venv)
    assert probe(again.stdout)["prefix"] == venv
