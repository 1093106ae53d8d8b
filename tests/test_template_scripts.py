"""The scripts embedded in the shipped templates and examples pass the linters.

They live in YAML because they must travel with the session directory: an
inner environment's script runs wherever its wrapper sends it (a container,
a remote host, a Slurm node), where wraprun itself is not installed. So the
tests take each one out and show it to the linter of its language: shellcheck
for `sh`/`bash`, ruff for Python.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .helpers import REPO, missing

SHIPPED = sorted((REPO / "templates").glob("*.yaml")) + sorted((REPO / "examples").glob("*.yaml"))
SHELLS = {"sh": "sh", "bash": "bash"}
PYTHONS = ("python", "python3", "{{Param.Python}}")


def scripts_of(template: Path) -> list[tuple[str, str, str]]:
    """(name, language, text) of each embedded file some action runs with a shell or Python."""
    document = yaml.safe_load(template.read_text(encoding="utf-8"))
    found = []
    for script in _scripts(document):
        commands: dict[str, str] = {}
        for action in (script.get("actions") or {}).values():
            for arg in action.get("args") or ():
                for name in re.findall(r"\{\{\s*(?:Env|Task)\.File\.(\w+)\s*\}\}", str(arg)):
                    commands.setdefault(name, str(action["command"]))
        for embedded in script.get("embeddedFiles") or ():
            command = commands.get(embedded["name"], "")
            language = SHELLS.get(command) or ("python" if command in PYTHONS else "")
            if language:
                found.append((embedded["name"], language, str(embedded.get("data", ""))))
    return found


def _scripts(document: dict[str, Any]) -> list[dict[str, Any]]:
    envs = [document.get("environment") or {}, *(document.get("jobEnvironments") or ())]
    steps = document.get("steps") or ()
    scripts = [env.get("script") for env in envs] + [step.get("script") for step in steps]
    scripts += [env.get("script") for step in steps for env in step.get("stepEnvironments") or ()]
    return [s for s in scripts if s]


CASES = [(t, name, language, text) for t in SHIPPED for name, language, text in scripts_of(t)]


def test_the_big_scripts_are_all_found() -> None:
    names = {(t.name, name) for t, name, _, _ in CASES}
    assert {("ssh.yaml", "Wrap"), ("slurm.yaml", "Step"), ("python-venv.yaml", "Enter")} <= names


@pytest.mark.parametrize("template, name, language, text", CASES, ids=[f"{c[0].stem}-{c[1]}" for c in CASES])
def test_each_embedded_script_passes_its_linter(
    tmp_path: Path, template: Path, name: str, language: str, text: str
) -> None:
    if language == "python":
        source = tmp_path / f"{name}.py"
        source.write_text(text, encoding="utf-8")
        ruff = [sys.executable, "-m", "ruff", "check", "--no-cache", "--line-length", "110", str(source)]
        done = subprocess.run(ruff, capture_output=True, text=True)
    else:
        if shutil.which("shellcheck") is None:
            missing("shellcheck is not installed (scripts/test.sh installs it)")
        source = tmp_path / f"{name}.sh"
        source.write_text(text, encoding="utf-8")
        # Warnings and errors; "info" holds SC2317, which misreads functions run by `trap`.
        check = ["shellcheck", "--severity=warning", "-s", language, str(source)]
        done = subprocess.run(check, capture_output=True, text=True)
    assert done.returncode == 0, f"{template.name}: {name}:\n{done.stdout}{done.stderr}"


def test_the_projects_own_shell_scripts_pass_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        missing("shellcheck is not installed (scripts/test.sh installs it)")
    scripts = [
        REPO / ".ci" / "run",
        REPO / "scripts" / "test.sh",
        *sorted((REPO / ".ci" / "services").glob("*.sh")),
    ]
    done = subprocess.run(
        ["shellcheck", "--severity=warning", "-x", *map(str, scripts)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout
