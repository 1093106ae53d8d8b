"""Judge what an implementation did against what a test expects (pure: no processes).

The rules are the public runner's: ``output``/``forbidden`` entries are
substrings of stdout+stderr (``{anyOf: [...]}`` needs one of them), per-OS
lists add to the common ones, and ``taskFailure.exitCode`` is the first
non-zero N in an ``exited with code: N`` line -- failures are terminal, so
later codes belong to teardown actions. One addition: a valid bundle that
expects no ``taskFailure`` must also exit 0.
"""

from __future__ import annotations

import re
import sys

from .models import AnyOf, Expected, Line

OS_NAME = "windows" if sys.platform == "win32" else "posix"
EXIT_CODE_RE = re.compile(r"exited with code:\s*(-?\d+)")


def runs_here(run_on: list[str] | None) -> bool:
    return run_on is None or OS_NAME in run_on


def first_failure_code(output: str) -> int | None:
    for match in EXIT_CODE_RE.findall(output):
        if int(match) != 0:
            return int(match)
    return None


def judge_check(invalid: bool, returncode: int) -> str:
    """Why ``IMPL check`` answered wrongly ('' when it answered right)."""
    if invalid and returncode == 0:
        return "accepted an invalid template"
    if not invalid and returncode != 0:
        return f"rejected a valid template (exit code {returncode})"
    return ""


def judge_run(invalid: bool, expected: Expected, returncode: int, output: str) -> str:
    """Why ``IMPL run`` did not do what the bundle expects ('' when it did)."""
    if invalid:
        return "accepted an invalid template" if returncode == 0 else ""
    failure = expected.task_failure
    if failure is None and returncode != 0:
        return f"run failed with exit code {returncode}"
    if failure is not None:
        if returncode == 0:
            return "expected a task failure, but the run succeeded"
        got = first_failure_code(output)
        if failure.exit_code is not None and got != failure.exit_code:
            return f"wrong exit code (expected {failure.exit_code}, got {got})"
    for line in expected.output + _for_os(expected, "output"):
        if not _found(line, output):
            return f"missing expected line {_show(line)}"
    for line in expected.forbidden + _for_os(expected, "forbidden"):
        if _found(line, output):
            return f"found forbidden line {_show(line)}"
    return ""


def _for_os(expected: Expected, kind: str) -> list[Line]:
    lines: list[Line] = getattr(expected, f"{kind}_{OS_NAME}")
    return lines


def _found(line: Line, output: str) -> bool:
    if isinstance(line, AnyOf):
        return any(alternative in output for alternative in line.any_of)
    return line in output


def _show(line: Line) -> str:
    if isinstance(line, AnyOf):
        return "anyOf " + " | ".join(repr(_short(a)) for a in line.any_of)
    return repr(_short(line))


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
