"""What ``wraprun check`` says, and the exit codes every face of wraprun shares.

Below the CLI and the conformance runner, which both check templates and
report a bug the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_CANCELED, EXIT_INTERNAL = 0, 1, 2, 3, 4
"""0 success · 1 an action failed · 2 invalid input · 3 canceled · 4 internal error (README)."""


def check_lines(files: Sequence[str]) -> tuple[int, list[tuple[bool, str]]]:
    """The exit code of checking ``files``, and (is a problem, line) for each, in order."""
    from .templates import TemplateError, load

    status = EXIT_OK
    lines: list[tuple[bool, str]] = []
    for name in files:
        try:
            template = load(name)
        except TemplateError as exc:
            lines += [(True, problem) for problem in exc.problems]
            status = EXIT_INVALID
            continue
        lines.append((False, f"{name}: valid {template.kind} template"))
    return status, lines


def internal_error(exc: BaseException) -> str:
    """The one line a bug is reported with."""
    return f"wraprun: internal error: {type(exc).__name__}: {exc}"
