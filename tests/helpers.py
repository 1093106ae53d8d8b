"""Shared test helpers: write templates, run the CLI the way users do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PUBLIC_SUITE = SHARED / "openjd-conformance" / "2023-09"


def write(path: Path, document: Any) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def wraprun(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wraprun", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def wraprun_then_signal(
    args: list[str], ready: Path, sig: int = signal.SIGTERM, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Start wraprun, wait until ``ready`` exists, send ``sig``, return what it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wraprun", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    end = time.monotonic() + timeout
    while not ready.exists():
        if time.monotonic() > end or proc.poll() is not None:
            proc.kill()
            out = proc.communicate()[0]
            raise AssertionError(f"never became ready; output:\n{out}")
        time.sleep(0.05)
    proc.send_signal(sig)
    out = proc.communicate(timeout=timeout)[0]
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def unmodified_job(
    tmp: Path,
    task: str,
    *,
    enter: str,
    enter_args: Sequence[str] = (),
    exit: str = "echo M:exit",
    exit_args: Sequence[str] = (),
    env_name: str = "Inner",
    tasks: str | None = "1-2",
    **action: Any,
) -> Path:
    """An ordinary job with nothing in it about any wrapper: one job environment whose
    onEnter/onExit run ``sh -c ENTER [ARGS...]`` / ``sh -c EXIT [ARGS...]``, and one step
    whose tasks (``N`` over ``tasks``; one task when None) run ``sh -c TASK`` with the
    extra action fields ``action`` (timeout, cancelation)."""
    step: dict[str, Any] = {"name": "S"}
    if tasks is not None:
        step["parameterSpace"] = {"taskParameterDefinitions": [{"name": "N", "type": "INT", "range": tasks}]}
    step["script"] = {"actions": {"onRun": {"command": "sh", "args": ["-c", task], **action}}}
    actions = {
        "onEnter": {"command": "sh", "args": ["-c", enter, *enter_args]},
        "onExit": {"command": "sh", "args": ["-c", exit, *exit_args]},
    }
    return write(
        tmp / "job.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Unmodified",
            "jobEnvironments": [{"name": env_name, "script": {"actions": actions}}],
            "steps": [step],
        },
    )


def leftovers(token: str) -> list[psutil.Process]:
    """Processes whose command line mentions ``token``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(token in arg for arg in proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def gone(token: str, wait: float = 3.0) -> bool:
    """True when no process mentions ``token`` within ``wait`` seconds; kills what is left."""
    end = time.monotonic() + wait
    while leftovers(token) and time.monotonic() < end:
        time.sleep(0.05)
    left = leftovers(token)
    for proc in left:
        proc.kill()
    return left == []


def markers(output: str, prefix: str = "M:") -> list[str]:
    """The marker lines a test's actions printed, in order."""
    return [line for line in output.splitlines() if line.startswith(prefix)]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def survivors(pid_dir: Path, wait: float = 3.0) -> list[int]:
    """Processes whose pid files are in ``pid_dir`` and still alive after ``wait`` seconds."""
    return survivors_of([int(p.read_text()) for p in pid_dir.glob("*.pid")], wait)


def survivors_of(pids: list[int], wait: float = 3.0) -> list[int]:
    """Those of ``pids`` still alive after ``wait`` seconds (then killed)."""
    end = time.monotonic() + wait
    while time.monotonic() < end and any(alive(p) for p in pids):
        time.sleep(0.05)
    left = [p for p in pids if alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    return left


def wraprun_until_line(
    args: list[str], line: str, sig: int = signal.SIGTERM, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Start wraprun, wait for ``line`` in its output, send ``sig``, return all it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wraprun", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    seen: list[str] = []
    end = time.monotonic() + timeout
    for text in proc.stdout:
        seen.append(text)
        if line in text:
            break
        if time.monotonic() > end:
            break
    else:
        proc.wait()
        raise AssertionError(f"never printed {line!r}:\n{''.join(seen)}")
    proc.send_signal(sig)
    rest = proc.communicate(timeout=timeout)[0]
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(seen) + rest, "")


def missing(message: str) -> None:
    """Something the test needs is absent: a failure in CI, a skip elsewhere."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_service(variable: str, what: str) -> str:
    """A service's address from the environment (services.env, written by scripts/test.sh)."""
    value = os.environ.get(variable, "")
    if not value:
        missing(f"{what} is not running ({variable} unset; scripts/test.sh starts it)")
    return value


def require_tool(command: str, what: str) -> str:
    """A tool's path, found on PATH (or given as one)."""
    import shutil

    found = shutil.which(command)
    if found is None:
        missing(f"{what} is not installed ({command} not found; scripts/test.sh installs it)")
    return found or command


# Arguments that break naive command-line rebuilding: quotes, substitutions, globs,
# separators, unicode, empty strings, leading dashes, backslashes, a tab and a newline.
HOSTILE_ARGS = [
    "",
    "plain",
    "two words",
    "it's",
    'say "hi"',
    "$(touch /tmp/wraprun-pwned)",
    "`id`",
    "$HOME",
    "${PATH}",
    "*",
    "/etc/*",
    "?[a-z]",
    "a;b",
    "a && b",
    "a|b",
    "> out",
    "-n",
    "--flag=value",
    "back\\slash",
    "tab\there",
    "new\nline",
    "ünïcödé ✓ 日本",
    "'",
    '"',
    "~",
    "!bang",
    "",
]


def argv_job(path: Path, record: str) -> Path:
    """An unmodified job whose one task writes the argv it received, as JSON, to ``record``.

    Template text may not hold control characters, so an argument with a tab or a
    newline comes in through a job parameter's default, the way a user would pass it.
    """
    code = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"
    args = ["-c", code, record]
    definitions = []
    for position, value in enumerate(HOSTILE_ARGS):
        if any(ord(char) < 32 for char in value):
            definitions.append({"name": f"Arg{position}", "type": "STRING", "default": value})
            args.append(f"{{{{Param.Arg{position}}}}}")
        else:
            args.append(value)
    on_run = {"command": "python3", "args": args}
    return write(
        path,
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Argv",
            "parameterDefinitions": definitions,
            "steps": [{"name": "Argv", "script": {"actions": {"onRun": on_run}}}],
        },
    )


def assert_no_secret(out: bytes, secrets: Sequence[bytes]) -> None:
    """No secret occurs in ``out`` unless it overlaps a mask (possible only for a
    secret that itself holds '*': text beside a mask can complete it)."""
    for secret in secrets:
        at = out.find(secret)
        while at >= 0:
            context = out[max(0, at - 40) : at + 80]
            assert b"*" in secret and b"*" in out[at : at + len(secret)], (secret, context)
            at = out.find(secret, at + 1)


def on_a_terminal(*args: str) -> tuple[int, str]:
    """Run ``wraprun ARGS`` with a pseudo-terminal as stdout and stderr: its exit code and screen."""
    import pty

    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "wraprun", *args], stdout=terminal, stderr=terminal)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the run ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return proc.wait(timeout=60), b"".join(chunks).decode()


def require_module(name: str, extra: str) -> None:
    """A package a test needs (an optional extra): a failure in CI, a skip elsewhere."""
    import importlib.util

    import pytest

    if importlib.util.find_spec(name) is not None:
        return
    message = f"{name} is not installed: pip install 'wraprun[{extra}]'"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)
