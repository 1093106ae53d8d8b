"""``wraprun lint``: patterns openjd-model accepts but RFC 0008 warns about.

Three rules, over a template openjd-model has already validated:

1. A value a user or a job controls (``Param.*``, ``RawParam.*``, ``Task.Param.*``,
   ``Task.RawParam.*``, ``WrappedAction.Command/Args/Environment``, ``WrappedEnv.Name``,
   ``WrappedStep.Name``) interpolated raw into code a shell or interpreter parses:
   the code string of ``sh -c``, ``python -c``, ``cmd /c``, ``pwsh -Command``, or an
   embedded script such an action runs. Raw means not inside the quoting function of
   that interpreter (``repr_sh``, ``repr_py``, ``repr_cmd``, ``repr_pwsh``).
2. A wrap hook that drops the wrapped action's environment, timeout or cancelation.
3. ``WrappedAction.Args`` or ``WrappedAction.Environment`` (lists) inside a larger
   string, where they render as ``["a", "b"]``.

Modules: ``invocations`` (how a command line reaches an interpreter), ``expressions``
(what an expression reads, and how quoted), ``document`` (the template's scripts and
lines), ``rules`` (the three rules). This module is what the CLI calls.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ..templates import Template, TemplateError, load, parse_extensions
from .rules import Finding, Linter

__all__ = ["Finding", "lint_command", "lint_lines", "lint_template", "strict_command"]


def lint_lines(
    files: Sequence[str], extensions: Sequence[str] | None = None
) -> tuple[int, list[tuple[bool, str]]]:
    """The exit code of linting ``files`` and (is an error, line) for each line to print:
    0 clean, 1 warnings, 2 a file is not a valid template (its problems, as ``check`` says them)."""
    from ..check import EXIT_FAILED, EXIT_INVALID, EXIT_OK

    invalid = warned = False
    lines: list[tuple[bool, str]] = []
    for name in files:
        try:
            template = load(name, extensions=extensions)
        except TemplateError as exc:
            lines += [(True, problem) for problem in exc.problems]
            invalid = True
            continue
        shown = name if Path(name) == template.path else str(template.path)
        findings = lint_template(template, shown)
        lines += [(False, str(finding)) for finding in findings]
        warned = warned or bool(findings)
    return (EXIT_INVALID if invalid else EXIT_FAILED if warned else EXIT_OK), lines


def lint_command(files: Sequence[str]) -> int:
    """``wraprun lint``: warnings on stdout, a file that is no valid template on stderr."""
    status, lines = lint_lines(files)
    for error, line in lines:
        print(line, file=sys.stderr if error else sys.stdout)
    return status


def strict_command(files: Sequence[str], extensions: str | None, checked: int) -> int:
    """``wraprun check --strict``, after ``check`` said ``checked``: the warnings, on stderr
    beside check's problems (stdout keeps check's own output, a document with --output)."""
    from ..check import EXIT_OK

    if checked != EXIT_OK:
        return checked
    status, lines = lint_lines(files, parse_extensions(extensions))
    for _, line in lines:
        print(line, file=sys.stderr)
    return status


def lint_template(template: Template, shown: str | None = None) -> list[Finding]:
    """Every warning about one valid template, in document order, each once."""
    linter = Linter(template, shown or str(template.path))
    linter.run()
    unique = dict.fromkeys(linter.findings)
    return sorted(unique, key=lambda f: (f.line or 0, f.place, f.message))
