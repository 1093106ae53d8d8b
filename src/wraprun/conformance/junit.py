"""JUnit XML: a testsuite per folder (per implementation and folder when comparing)."""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

from .models import Report, Result

# Characters XML 1.0 cannot carry at all (not even escaped); test output has
# them (terminal escapes, NULs), and one of them would make the file unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MAX_OUTPUT = 100_000


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def write_junit(report: Report, path: Path) -> None:
    comparing = len(report.impls) > 1
    root = ET.Element("testsuites", name="wraprun conformance")
    for impl in report.names:
        folders: dict[str, list[Result]] = {}
        for result in report.of(impl):
            folders.setdefault(result.case.folder, []).append(result)
        for folder, results in sorted(folders.items()):
            _suite(root, f"{impl}: {folder}" if comparing else folder, impl, results)
    for counter in ("tests", "failures", "skipped"):
        root.set(counter, str(sum(int(suite.get(counter, "0")) for suite in root)))
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _suite(root: ET.Element, name: str, impl: str, results: list[Result]) -> None:
    suite = ET.SubElement(
        root,
        "testsuite",
        name=name,
        tests=str(len(results)),
        failures=str(sum(r.status == "failed" for r in results)),
        errors="0",
        skipped=str(sum(r.status == "skipped" for r in results)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for result in sorted(results, key=lambda r: r.case.name):
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{impl}.{result.case.folder.replace('/', '.')}",
            name=result.case.path.name,
            file=str(result.case.path),
            time=f"{result.seconds:.3f}",
        )
        if result.status == "failed":
            failure = ET.SubElement(case, "failure", message=xml_text(result.reason))
            output = result.output[-MAX_OUTPUT:]
            failure.text = xml_text(f"$ {shlex.join(result.command)}\n\n{output}")
        elif result.status == "skipped":
            ET.SubElement(case, "skipped", message=xml_text(result.reason))
