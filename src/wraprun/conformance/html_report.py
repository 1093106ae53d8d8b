"""A self-contained HTML report: the result matrix grouped by folder and spec section,
then every failure with its template, command and output."""

from __future__ import annotations

import shlex
from pathlib import Path

import jinja2

from .models import Report
from .report import grouped, matrix

MAX_OUTPUT = 100_000

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em; color: #1d1d1f; }
table { border-collapse: collapse; margin: 1em 0 2em; }
th, td { border: 1px solid #ccc; padding: 3px 10px; text-align: left; }
thead th { background: #333; color: #fff; }
tr.folder th { background: #dde3ea; font-size: 15px; }
tr.section th { background: #f2f4f7; font-weight: 600; padding-left: 22px; }
td.name { padding-left: 34px; font-family: ui-monospace, monospace; font-size: 12.5px; }
td.passed { background: #d9f2d9; } td.failed { background: #f7cfcf; font-weight: 700; }
td.skipped { background: #ececec; color: #666; } td.missing { color: #999; }
pre { background: #f6f6f6; border: 1px solid #e0e0e0; padding: 8px; overflow-x: auto;
      max-height: 32em; white-space: pre-wrap; word-break: break-all; }
details { margin: .6em 0; } summary { cursor: pointer; }
.reason { color: #a00; }
</style></head><body>
<h1>{{ title }}</h1>
<table id="summary"><thead><tr><th>implementation</th><th>command</th><th>result</th></tr></thead>
{% for impl in impls %}<tr><td>{{ impl.name }}</td><td><code>{{ impl.command }}</code></td>
<td>{{ impl.summary }}</td></tr>
{% endfor %}</table>

<h2>Results</h2>
<table id="matrix">
<thead><tr><th>test</th>{% for impl in impls %}<th>{{ impl.name }}</th>{% endfor %}</tr></thead>
{% for folder, sections in folders %}<tbody>
<tr class="folder"><th colspan="{{ impls|length + 1 }}">{{ folder }}</th></tr>
{% for section, rows in sections %}<tr class="section"><th colspan="{{ impls|length + 1 }}">
{%- if section %}section {{ section }}{% else %}{{ folder }} (no section number){% endif %}</th></tr>
{% for name, statuses in rows %}<tr><td class="name">{{ name }}</td>
{% for status in statuses %}<td class="{{ status or 'missing' }}">{{ status or '-' }}</td>{% endfor %}</tr>
{% endfor %}{% endfor %}</tbody>
{% endfor %}</table>

<h2>Failures</h2>
{% for f in failures %}<details{% if loop.index <= 20 %} open{% endif %}>
<summary>[{{ f.impl }}] {{ f.name }}: <span class="reason">{{ f.reason }}</span></summary>
<h4>Template (the test file)</h4><pre>{{ f.source }}</pre>
<h4>Command</h4><pre>{{ f.command }}</pre>
<h4>Output</h4><pre>{{ f.output }}</pre>
</details>
{% else %}<p>None.</p>{% endfor %}
</body></html>
"""

_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(_PAGE)


def render_html(report: Report) -> str:
    rows = dict((case.name, statuses) for case, statuses in matrix(report))
    folders = [
        (folder, [(section, [(c.path.name, rows[c.name]) for c in cases]) for section, cases in sections])
        for folder, sections in grouped(report.cases())
    ]
    impls = [
        {"name": impl.name, "command": shlex.join(impl.command), "summary": report.summary(impl.name)}
        for impl in report.impls
    ]
    failures = [
        {
            "impl": r.impl,
            "name": r.case.name,
            "reason": r.reason,
            "source": r.case.path.read_text(encoding="utf-8", errors="replace"),
            "command": shlex.join(r.command),
            "output": _cut(r.output),
        }
        for r in report.results
        if r.status == "failed"
    ]
    title = "OpenJD conformance: " + " vs ".join(report.names)
    return _TEMPLATE.render(title=title, impls=impls, folders=folders, failures=failures)


def write_html(report: Report, path: Path) -> None:
    path.write_text(render_html(report), encoding="utf-8")


def _cut(output: str) -> str:
    if len(output) <= MAX_OUTPUT:
        return output
    return f"[... first {len(output) - MAX_OUTPUT} characters cut ...]\n" + output[-MAX_OUTPUT:]
