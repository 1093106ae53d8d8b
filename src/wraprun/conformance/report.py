"""Reports of a conformance run: terminal lines, JUnit XML, a self-contained HTML page."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import jinja2

from .execute import Result


def summary_line(results: Sequence[Result]) -> str:
    counts = {s: sum(1 for r in results if r.status == s) for s in ("passed", "failed", "skipped")}
    return f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"


def failure_line(result: Result, with_impl: bool) -> str:
    who = f"[{result.impl}] " if with_impl else ""
    return f"FAILED {who}{result.case.name}: {result.reason}"


def matrix(results: Sequence[Result], impls: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Rows of (test name, status per implementation in ``impls`` order)."""
    table: dict[str, dict[str, str]] = {}
    for result in results:
        table.setdefault(result.case.name, {})[result.impl] = result.status
    return [(name, [row.get(impl, "-") for impl in impls]) for name, row in sorted(table.items())]


def matrix_text(results: Sequence[Result], impls: Sequence[str]) -> str:
    rows = matrix(results, impls)
    width = max((len(name) for name, _ in rows), default=4)
    lines = ["test".ljust(width) + "  " + "  ".join(f"{i:>8}" for i in impls)]
    marks = {"passed": "pass", "failed": "FAIL", "skipped": "skip"}
    for name, statuses in rows:
        lines.append(name.ljust(width) + "  " + "  ".join(f"{marks.get(s, s):>8}" for s in statuses))
    return "\n".join(lines)


def write_junit(results: Sequence[Result], path: Path) -> None:
    root = ET.Element("testsuites", name="openjd-conformance")
    by_folder = itertools.groupby(
        sorted(results, key=lambda r: (r.impl, r.case.folder)), key=lambda r: (r.impl, r.case.folder)
    )
    for (impl, folder), group in by_folder:
        cases = list(group)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=f"{impl}:{folder}",
            tests=str(len(cases)),
            failures=str(sum(r.status == "failed" for r in cases)),
            skipped=str(sum(r.status == "skipped" for r in cases)),
        )
        for result in cases:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{impl}.{folder}",
                name=Path(result.case.name).name,
                time=f"{result.seconds:.3f}",
            )
            if result.status == "failed":
                failure = ET.SubElement(case, "failure", message=result.reason)
                failure.text = " ".join(result.command) + "\n\n" + result.output
            elif result.status == "skipped":
                ET.SubElement(case, "skipped", message=result.reason)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


_PAGE = jinja2.Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OpenJD conformance report</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }
.passed { background: #dff5df; } .failed { background: #f9d6d6; } .skipped { background: #eee; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; max-height: 30em; }
h2 { margin-top: 1.5em; }
</style></head><body>
<h1>OpenJD conformance report</h1>
<p id="summary">{% for impl, line in summaries %}<b>{{ impl }}</b>: {{ line }}<br>{% endfor %}</p>
<h2>Matrix</h2>
<table id="matrix"><tr><th>test</th>{% for impl in impls %}<th>{{ impl }}</th>{% endfor %}</tr>
{% for folder, rows in folders %}<tr><th colspan="{{ impls|length + 1 }}">{{ folder }}</th></tr>
{% for section, name, statuses in rows %}<tr><td title="section {{ section }}">{{ name }}</td>
{% for status in statuses %}<td class="{{ status }}">{{ status }}</td>{% endfor %}</tr>
{% endfor %}{% endfor %}</table>
<h2>Failures</h2>
{% for r in failures %}<details><summary>[{{ r.impl }}] {{ r.case.name }}: {{ r.reason }}</summary>
<p>Command:</p><pre>{{ r.command|join(" ") }}</pre>
<p>Test file:</p><pre>{{ sources[r.case.name] }}</pre>
<p>Output:</p><pre>{{ r.output }}</pre></details>
{% else %}<p>None.</p>{% endfor %}
</body></html>
""",
    autoescape=True,
)


def write_html(results: Sequence[Result], impls: Sequence[str], path: Path) -> None:
    """One page: a matrix grouped by folder (rows ordered by spec section), then every failure."""
    statuses = dict(((r.case.name, r.impl), r.status) for r in results)
    cases = {r.case.name: r.case for r in results}
    folders = []
    ordered = sorted(cases.values(), key=lambda c: (c.folder, c.section, c.name))
    for folder, group in itertools.groupby(ordered, key=lambda c: c.folder):
        rows = [
            (c.section, Path(c.name).name, [statuses.get((c.name, i), "-") for i in impls]) for c in group
        ]
        folders.append((folder, rows))
    failures = [r for r in results if r.status == "failed"]
    sources = {r.case.name: r.case.path.read_text(encoding="utf-8", errors="replace") for r in failures}
    summaries = [(impl, summary_line([r for r in results if r.impl == impl])) for impl in impls]
    page = _PAGE.render(impls=impls, folders=folders, failures=failures, sources=sources, summaries=summaries)
    path.write_text(page, encoding="utf-8")
