"""Run one conformance test against an implementation, the way the public runner does.

``IMPL check FILE`` for a template. For a bundle, in a fresh temporary folder
TMP: ``IMPL run TMP/template.yaml [-p file://TMP/parameters.yaml]
[--env TMP/envN.yaml ...] [--path-mapping-rules file://TMP/pathmapping.json]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pydantic
import yaml

from ..process import kill_tree
from .expect import OS_NAME, judge_check, judge_run, runs_here
from .models import Bundle, Impl, Result, Status, TestCase

DEFAULT_TIMEOUT = 300.0


def child_env() -> dict[str, str]:
    """UTF-8 everywhere (as the public runner sets), and this interpreter's folder first
    on PATH, so the ``python`` that bundles call is one that exists."""
    env = dict(os.environ, PYTHONUTF8="1")
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def run_case(case: TestCase, impl: Impl, timeout: float = DEFAULT_TIMEOUT) -> Result:
    started = time.monotonic()
    command: list[str] = []
    output = ""
    try:
        if case.kind == "check":
            command = [*impl.command, "check", str(case.path)]
            returncode, output = check_here(case.path) if impl.in_process else spawn(command, timeout)
            reason = _timed_out(timeout) if returncode is None else judge_check(case.invalid, returncode)
        else:
            bundle = load_bundle(case.path)
            if not runs_here(bundle.run_on):
                return Result(case=case, impl=impl.name, status="skipped", reason=f"not for {OS_NAME}")
            with tempfile.TemporaryDirectory(prefix="wraprun-conformance-") as tmp:
                command = bundle_command(bundle, Path(tmp), impl.command)
                returncode, output = spawn(command, timeout, cwd=tmp)
            if returncode is None:
                reason = _timed_out(timeout)
            else:
                reason = judge_run(case.invalid, bundle.expected, returncode, output)
    except (OSError, yaml.YAMLError, pydantic.ValidationError) as exc:
        reason = f"could not run the test: {exc}"
    status: Status = "failed" if reason else "passed"
    return Result(
        case=case,
        impl=impl.name,
        status=status,
        reason=reason,
        command=command,
        output=output,
        seconds=time.monotonic() - started,
    )


def check_here(path: Path) -> tuple[int, str]:
    """``wraprun check PATH`` without starting an interpreter: the same exit code and lines."""
    from ..check import EXIT_INTERNAL, check_lines, internal_error

    try:
        returncode, lines = check_lines([str(path)])
    except Exception as exc:  # noqa: BLE001 - as the CLI reports a bug: an exit code, not a crash
        return EXIT_INTERNAL, internal_error(exc) + "\n"
    return returncode, "".join(line + "\n" for _, line in lines)


def _timed_out(timeout: float) -> str:
    return f"timeout (still running after {timeout:g} s)"


def load_bundle(path: Path) -> Bundle:
    return Bundle.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def bundle_command(bundle: Bundle, tmp: Path, impl: list[str]) -> list[str]:
    def dump(name: str, document: Any) -> Path:
        path = tmp / name
        path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    command = [*impl, "run", str(dump("template.yaml", bundle.template))]
    if bundle.parameters is not None:
        command += ["-p", f"file://{dump('parameters.yaml', bundle.parameters)}"]
    for index, environment in enumerate(bundle.environments):
        command += ["--env", str(dump(f"env{index}.yaml", environment))]
    if bundle.path_mapping is not None:
        rules = {"version": "pathmapping-1.0", "path_mapping_rules": bundle.path_mapping}
        mapping = tmp / "pathmapping.json"
        mapping.write_text(json.dumps(rules), encoding="utf-8")
        command += ["--path-mapping-rules", f"file://{mapping}"]
    return command


def spawn(command: list[str], timeout: float, cwd: str | None = None) -> tuple[int | None, str]:
    """Exit code (None on timeout) and stdout followed by stderr.

    On timeout the whole process tree is killed: an implementation's actions
    may sit in sessions of their own and would otherwise hold the pipes open.
    """
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        returncode: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # a stray grandchild still holds a pipe
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            proc.wait()
            out, err = b"", b""
        returncode = None
    return returncode, (out + err).decode("utf-8", errors="replace")
