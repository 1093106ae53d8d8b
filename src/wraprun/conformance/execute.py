"""Run one conformance test against an implementation that follows the public runner contract.

The contract: ``IMPL check FILE`` for templates, and for a bundle
``IMPL run TEMPLATE -p file://P --env E ... --path-mapping-rules file://M``;
the failing action's code is read from the first ``exited with code: N`` line
with N non-zero.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from .discover import TestCase

OS_NAME = "windows" if sys.platform == "win32" else "posix"
EXIT_CODE_RE = re.compile(r"exited with code:\s*(-?\d+)")
TIMEOUT = 300.0


class Result(BaseModel):
    case: TestCase
    impl: str
    status: str
    """passed, failed or skipped."""
    reason: str = ""
    command: list[str] = []
    output: str = ""
    seconds: float = 0.0


def child_env() -> dict[str, str]:
    """Children see this interpreter's folder first on PATH, so bundles' ``python`` is ours."""
    env = dict(os.environ, PYTHONUTF8="1")
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def run_case(case: TestCase, impl_name: str, impl: list[str]) -> Result:
    started = time.monotonic()
    try:
        if case.kind == "check":
            result = _check(case, impl)
        else:
            result = _run_bundle(case, impl)
    except subprocess.TimeoutExpired as exc:
        result = ("failed", f"timed out after {TIMEOUT:.0f} s", list(map(str, exc.cmd)), "")
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        result = ("failed", f"could not run the test: {exc}", [], "")
    status, reason, command, output = result
    return Result(
        case=case,
        impl=impl_name,
        status=status,
        reason=reason,
        command=command,
        output=output,
        seconds=time.monotonic() - started,
    )


Outcome = tuple[str, str, list[str], str]


def _call(command: list[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=child_env(),
        timeout=TIMEOUT,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def _check(case: TestCase, impl: list[str]) -> Outcome:
    command = [*impl, "check", str(case.path)]
    done = _call(command)
    output = done.stdout + done.stderr
    accepted = done.returncode == 0
    if case.invalid and accepted:
        return "failed", "accepted an invalid template", command, output
    if not case.invalid and not accepted:
        return "failed", f"rejected a valid template (exit code {done.returncode})", command, output
    return "passed", "", command, output


def _run_bundle(case: TestCase, impl: list[str]) -> Outcome:
    bundle: dict[str, Any] = yaml.safe_load(case.path.read_text(encoding="utf-8"))
    run_on = bundle.get("runOn")
    if run_on is not None and OS_NAME not in run_on:
        return "skipped", f"not for {OS_NAME}", [], ""
    with tempfile.TemporaryDirectory(prefix="wraprun-conformance-") as tmp:
        command = _bundle_command(bundle, Path(tmp), impl)
        done = _call(command, cwd=tmp)
    output = done.stdout + done.stderr
    if case.invalid:
        if done.returncode == 0:
            return "failed", "ran an invalid job to success", command, output
        return "passed", "", command, output
    reason = judge(bundle.get("expected") or {}, done.returncode, output)
    return ("failed" if reason else "passed"), reason, command, output


def _bundle_command(bundle: dict[str, Any], tmp: Path, impl: list[str]) -> list[str]:
    def dump(name: str, data: Any) -> Path:
        path = tmp / name
        with open(path, "w", encoding="utf-8") as out:
            yaml.safe_dump(data, out, allow_unicode=True)
        return path

    command = [*impl, "run", str(dump("template.yaml", bundle["template"]))]
    if "parameters" in bundle:
        command += ["-p", f"file://{dump('parameters.yaml', bundle['parameters'])}"]
    for index, env in enumerate(bundle.get("environments") or []):
        command += ["--env", str(dump(f"env{index}.yaml", env))]
    if "pathMapping" in bundle:
        rules = tmp / "pathmapping.json"
        rules.write_text(
            json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": bundle["pathMapping"]})
        )
        command += ["--path-mapping-rules", f"file://{rules}"]
    return command


def first_failure_code(output: str) -> int | None:
    """The failing action's code: failures are terminal, so later codes belong to teardown."""
    for match in EXIT_CODE_RE.findall(output):
        if int(match) != 0:
            return int(match)
    return None


def judge(expected: dict[str, Any], returncode: int, output: str) -> str:
    """Why the run does not meet ``expected`` ('' when it does)."""
    failure = expected.get("taskFailure")
    if failure is not None:
        if returncode == 0:
            return "expected a task failure, but the run succeeded"
        want = failure.get("exitCode")
        if want is not None:
            got = first_failure_code(output)
            if got != want:
                return f"wrong exit code (expected {want}, got {got})"
    for line in (expected.get("output") or []) + (expected.get(f"output_{OS_NAME}") or []):
        if isinstance(line, dict) and "anyOf" in line:
            if not any(str(alt) in output for alt in line["anyOf"]):
                return f"missing expected line (none of {line['anyOf']})"
        elif str(line) not in output:
            return f"missing expected line {str(line)!r}"
    for line in (expected.get("forbidden") or []) + (expected.get(f"forbidden_{OS_NAME}") or []):
        if str(line) in output:
            return f"found forbidden line {str(line)!r}"
    return ""
