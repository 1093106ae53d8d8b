"""templates/python-venv.yaml: a venv cached by the SHA-256 of a requirements file.

``venv_job``, ``venv_params`` and ``venv_line`` are meant for reuse: run the
same job under a wrapping environment by putting its ``--env`` before
``venv_params(...)``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import sys
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .helpers import REPO, markers, wraprun, write

TEMPLATE = REPO / "templates" / "python-venv.yaml"

_LINE = re.compile(r"^wraprun-venv: (created|reused) venv ([0-9a-f]{12}) \(\S+\) at (.+)$", re.MULTILINE)


def venv_job(tmp: Path, imports: Sequence[str] = ()) -> Path:
    """An ordinary job whose task reports the Python it runs and the modules it imports.

    Prints ``M:prefix <sys.prefix>``, ``M:venv <$VIRTUAL_ENV>`` and, per module,
    ``M:import <name> <module file>``.
    """
    code = "\n".join(
        [
            "import importlib, os, sys",
            "print('M:prefix', sys.prefix)",
            "print('M:venv', os.environ.get('VIRTUAL_ENV', '-'))",
            "for name in sys.argv[1:]:",
            "    print('M:import', name, importlib.import_module(name).__file__)",
        ]
    )
    return write(
        tmp / "venv-job.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "VenvProbe",
            "steps": [
                {
                    "name": "Probe",
                    "script": {"actions": {"onRun": {"command": "python", "args": ["-c", code, *imports]}}},
                }
            ],
        },
    )


def venv_params(
    tmp: Path, requirements: Path | str, cache: Path | None = None, pip_args: str = ""
) -> list[str]:
    """``--env`` and ``-p`` arguments for the template; ``requirements`` is a path or the file's text."""
    if isinstance(requirements, str):
        text = requirements
        requirements = tmp / f"requirements-{hashlib.sha256(text.encode()).hexdigest()[:8]}.txt"
        requirements.write_text(text, encoding="utf-8")
    values = {
        "RequirementsFile": str(requirements),
        "VenvCacheDir": str(cache or tmp / "venvs"),
        "PipArgs": pip_args,
    }
    name = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()[:8]
    path = write(tmp / f"venv-params-{name}.yaml", values)
    return ["--env", str(TEMPLATE), "-p", f"file://{path}"]


def venv_line(output: str) -> tuple[str, str, str]:
    """(created|reused, hash prefix, venv path) from the template's one report line."""
    found = _LINE.findall(output)
    assert len(found) == 1, output
    verb, short, path = found[0]
    return verb, short, path


def probe(output: str) -> dict[str, str]:
    """The task's ``M:`` lines as {"prefix": ..., "venv": ..., "import six": ...}."""
    out = {}
    for line in markers(output):
        words = line[2:].split(" ")
        if words[0] == "import":
            out[f"import {words[1]}"] = " ".join(words[2:])
        else:
            out[words[0]] = " ".join(words[1:])
    return out


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_task_runs_in_the_venv_and_later_sessions_reuse_it(tmp_path: Path) -> None:
    job = venv_job(tmp_path)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# nothing to install\n", encoding="utf-8")

    first = wraprun("run", str(job), *venv_params(tmp_path, requirements))
    assert first.returncode == 0, first.stdout + first.stderr
    verb, short, venv = venv_line(first.stdout)
    assert (verb, short) == ("created", sha("# nothing to install\n")[:12])
    assert Path(venv).is_relative_to(tmp_path / "venvs")
    seen = probe(first.stdout)
    assert seen["prefix"] == seen["venv"] == venv
    assert seen["prefix"] != sys.base_prefix
    mtime = Path(venv).stat().st_mtime_ns

    again = wraprun("run", str(job), *venv_params(tmp_path, requirements))
    assert again.returncode == 0, again.stdout + again.stderr
    assert venv_line(again.stdout) == ("reused", short, venv)
    assert probe(again.stdout)["prefix"] == venv
    assert Path(venv).stat().st_mtime_ns == mtime

    requirements.write_text("# nothing to install, changed\n", encoding="utf-8")
    changed = wraprun("run", str(job), *venv_params(tmp_path, requirements))
    assert changed.returncode == 0, changed.stdout + changed.stderr
    verb, other_short, other = venv_line(changed.stdout)
    assert verb == "created" and other_short != short and other != venv
    assert probe(changed.stdout)["prefix"] == other
    assert Path(venv, "pyvenv.cfg").is_file()  # the first one stays cached


def test_two_racing_sessions_build_one_venv(tmp_path: Path) -> None:
    job = venv_job(tmp_path)
    params = venv_params(tmp_path, "# racing\n")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: wraprun("run", str(job), *params), range(2)))
    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr
    lines = [venv_line(result.stdout) for result in results]
    assert sorted(verb for verb, _, _ in lines) == ["created", "reused"]
    assert lines[0][2] == lines[1][2]
    assert [probe(result.stdout)["prefix"] for result in results] == [lines[0][2]] * 2
    assert len(list((tmp_path / "venvs" / ".builds").glob("*.venv-*"))) == 1


def _wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel, wraprun-venv-probe 0.1, written by hand (no build backend, no network)."""
    files = {
        "wraprun_venv_probe/__init__.py": "VALUE = 'probe-ok'\n",
        "wraprun_venv_probe-0.1.dist-info/METADATA": (
            "Metadata-Version: 2.1\nName: wraprun-venv-probe\nVersion: 0.1\n"
        ),
        "wraprun_venv_probe-0.1.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: wraprun-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("wraprun_venv_probe-0.1.dist-info/RECORD,,")
    files["wraprun_venv_probe-0.1.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir()
    path = folder / "wraprun_venv_probe-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_requirements_are_installed(tmp_path: Path) -> None:
    wheels = _wheel(tmp_path / "wheels").parent
    # six comes from pip's configured index; the probe package only from PipArgs' --find-links.
    params = venv_params(tmp_path, "six\nwraprun-venv-probe==0.1\n", pip_args=f"--find-links '{wheels}'")
    result = wraprun("run", str(venv_job(tmp_path, ["six", "wraprun_venv_probe"])), *params)
    assert result.returncode == 0, result.stdout + result.stderr
    verb, _, venv = venv_line(result.stdout)
    assert verb == "created"
    seen = probe(result.stdout)
    assert seen["prefix"] == venv
    assert Path(seen["import six"]).is_relative_to(venv)
    assert Path(seen["import wraprun_venv_probe"]).is_relative_to(venv)


def test_failed_install_fails_the_session_and_keeps_no_venv(tmp_path: Path) -> None:
    text = "wraprun-no-such-package-anywhere==1.0\n"
    params = venv_params(tmp_path, text, pip_args="--no-index")
    result = wraprun("run", str(venv_job(tmp_path)), *params)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"failed (exit code 1); no venv was kept for {sha(text)[:12]}" in result.stdout
    assert "M:prefix" not in result.stdout  # the task never ran
    cache = tmp_path / "venvs"
    assert not list(cache.glob(f"{sha(text)}*"))
    leftovers = [p.name for p in (cache / ".builds").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


# A wrapping environment that changes nothing: each hook announces itself and
# runs the wrapped action as it is, so the venv's onEnter runs through onWrapEnvEnter.
PASS_THROUGH = {
    "specificationVersion": "environment-2023-09",
    "extensions": ["WRAP_ACTIONS", "EXPR"],
    "environment": {
        "name": "PassThrough",
        "script": {
            "actions": {
                hook: {
                    "command": "sh",
                    "args": [
                        "-c",
                        'echo "M:wrapped $0"; exec "$@"',
                        hook,
                        "{{ [WrappedAction.Command] + WrappedAction.Args }}",
                    ],
                }
                for hook in ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")
            }
        },
    },
}


def test_venv_enter_runs_through_a_wrapping_environment(tmp_path: Path) -> None:
    wrapper = write(tmp_path / "pass-through.yaml", PASS_THROUGH)
    job = venv_job(tmp_path)
    params = venv_params(tmp_path, "# wrapped\n")
    result = wraprun("run", str(job), "--env", str(wrapper), *params)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    report = next(i for i, line in enumerate(lines) if line.startswith("wraprun-venv: created venv"))
    assert lines.index("M:wrapped onWrapEnvEnter") < report < lines.index("M:wrapped onWrapTaskRun")
    _, _, venv = venv_line(result.stdout)
    seen = probe(result.stdout)
    assert seen["prefix"] == seen["venv"] == venv

    again = wraprun("run", str(job), "--env", str(wrapper), *params)
    assert again.returncode == 0, again.stdout + again.stderr
    assert venv_line(again.stdout)[::2] == ("reused", venv)


def test_unreadable_requirements_file_is_a_clear_failure(tmp_path: Path) -> None:
    params = venv_params(tmp_path, tmp_path / "missing.txt")
    result = wraprun("run", str(venv_job(tmp_path)), *params)
    assert result.returncode == 1
    assert "wraprun-venv: error: cannot read the requirements file" in result.stdout
    assert not (tmp_path / "venvs").exists()


def test_hostile_paths_reach_the_script_unchanged(tmp_path: Path) -> None:
    """Paths with quotes, spaces, `$()`, globs and unicode: argv all the way, no shell re-reads them."""
    pwned = Path.home() / "wraprun-pwned"
    pwned.unlink(missing_ok=True)
    odd = tmp_path / "it's a \"dir\" $(cd; touch wraprun-pwned) `cd; touch wraprun-pwned` *?[x] ünï"
    odd.mkdir()
    requirements = odd / "req $HOME.txt"
    requirements.write_text("# nothing\n", encoding="utf-8")
    params = venv_params(tmp_path, requirements, cache=odd / "cache")
    result = wraprun("run", str(venv_job(tmp_path)), *params)
    assert result.returncode == 0, result.stdout + result.stderr
    verb, _, venv = venv_line(result.stdout)
    assert verb == "created" and Path(venv).is_relative_to(odd / "cache")
    assert probe(result.stdout)["prefix"] == venv
    assert not pwned.exists()
