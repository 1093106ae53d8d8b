"""Plain-text reporting: failure lines, output tails, the comparison matrix, section order."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .models import Report, Result, Status, TestCase

MARKS: dict[Status | None, str] = {"passed": "pass", "failed": "FAIL", "skipped": "skip", None: "-"}


def failure_line(result: Result, with_impl: bool) -> str:
    who = f"[{result.impl}] " if with_impl else ""
    return f"FAILED {who}{result.case.name}: {result.reason}"


def tail(output: str, lines: int = 30, chars: int = 4000) -> str:
    """The end of an output, indented for the terminal; very long lines are cut from the left."""
    kept = output.rstrip("\n").splitlines()[-lines:]
    text = "\n".join(kept)[-chars:]
    return "\n".join("    | " + line for line in text.splitlines()) or "    | (no output)"


def matrix(report: Report) -> list[tuple[TestCase, list[Status | None]]]:
    """Rows of (test, its status for each implementation, in ``report.names`` order)."""
    statuses = {(r.case.name, r.impl): r.status for r in report.results}
    return [(case, [statuses.get((case.name, name)) for name in report.names]) for case in report.cases()]


def matrix_text(report: Report) -> str:
    rows = matrix(report)
    width = max([len(case.name) for case, _ in rows] + [4])
    columns = [max(len(name), 4) for name in report.names]
    lines = [
        "test".ljust(width) + "".join(f"  {name:>{w}}" for name, w in zip(report.names, columns, strict=True))
    ]
    for case, statuses in rows:
        cells = "".join(f"  {MARKS[s]:>{w}}" for s, w in zip(statuses, columns, strict=True))
        lines.append(case.name.ljust(width) + cells)
    return "\n".join(lines)


def section_key(section: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order, so 4.10 follows 4.9; sectionless tests ('') come last."""
    if not section:
        return ((2, ""),)
    parts = re.split(r"(\d+)", section)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def grouped(cases: Sequence[TestCase]) -> list[tuple[str, list[tuple[str, list[TestCase]]]]]:
    """Cases by folder, then by spec section within the folder (both in reading order)."""
    folders: dict[str, dict[str, list[TestCase]]] = {}
    for case in sorted(cases, key=lambda c: c.name):
        folders.setdefault(case.folder, {}).setdefault(case.section, []).append(case)
    return [
        (folder, sorted(sections.items(), key=lambda item: section_key(item[0])))
        for folder, sections in sorted(folders.items())
    ]
