"""conformance reports: JUnit XML, the HTML page, the text matrix."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from wraprun.conformance.discover import discover
from wraprun.conformance.html_report import render_html
from wraprun.conformance.junit import write_junit
from wraprun.conformance.models import Impl, Report, Result, TestCase
from wraprun.conformance.report import failure_line, grouped, matrix_text, section_key, tail

from .conformance_helpers.cli import small_suite
from .conformance_helpers.paths import PUBLIC_2023

NASTY = "line <b>&</b>\x1b[31mred\x1b[0m\x00 nul \ufffe end\n"


@pytest.fixture
def cases(tmp_path: Path) -> dict[str, TestCase]:
    return {Path(c.name).name: c for c in discover([small_suite(tmp_path / "suite")])}


def result(case: TestCase, impl: str, status: str, reason: str = "", output: str = "") -> Result:
    return Result.model_validate(
        {
            "case": case,
            "impl": impl,
            "status": status,
            "reason": reason,
            "command": ["impl", "run", "x y"],
            "output": output,
        }
    )


def two_impls(cases: dict[str, TestCase]) -> Report:
    results = []
    for name, case in cases.items():
        results.append(result(case, "alpha", "passed"))
        if name == "1.1--prints.test.yaml":
            results.append(result(case, "beta", "failed", "missing expected line 'OUT_A'", NASTY))
        elif name == "wrap-forbidden.test.yaml":
            results.append(result(case, "beta", "skipped", "not for posix"))
        else:
            results.append(result(case, "beta", "passed"))
    impls = [Impl(name="alpha", command=["alpha"]), Impl(name="beta", command=["/opt/b", "--x"])]
    return Report(impls=impls, results=results)


def test_summaries_count_per_implementation(cases: dict[str, TestCase]) -> None:
    report = two_impls(cases)
    assert report.summary("alpha") == "5 passed, 0 failed, 0 skipped"
    assert report.summary("beta") == "3 passed, 1 failed, 1 skipped"


def test_failure_lines_and_tails(cases: dict[str, TestCase]) -> None:
    failed = result(cases["1.1--prints.test.yaml"], "beta", "failed", "missing expected line 'OUT_A'")
    assert failure_line(failed, with_impl=False) == (
        "FAILED 2023-09/DEMO/jobs/1.1--prints.test.yaml: missing expected line 'OUT_A'"
    )
    assert failure_line(failed, with_impl=True).startswith("FAILED [beta] 2023-09/DEMO/")
    long = "\n".join(f"line {i}" for i in range(100))
    assert tail(long).splitlines() == [f"    | line {i}" for i in range(70, 100)]
    assert tail("") == "    | (no output)"


def test_junit_is_well_formed_with_a_suite_per_folder(cases: dict[str, TestCase], tmp_path: Path) -> None:
    report = two_impls(cases)
    single = Report(impls=report.impls[1:], results=report.of("beta"))
    write_junit(single, tmp_path / "j.xml")
    root = ET.parse(tmp_path / "j.xml").getroot()  # parses despite NUL and escape codes in the output
    assert root.tag == "testsuites" and (root.get("tests"), root.get("failures"), root.get("skipped")) == (
        "5",
        "1",
        "1",
    )
    suites = {s.get("name", ""): s for s in root.iter("testsuite")}
    assert sorted(suites) == ["2023-09/DEMO/job_templates", "2023-09/DEMO/jobs"]
    jobs = suites["2023-09/DEMO/jobs"]
    assert (jobs.get("tests"), jobs.get("failures"), jobs.get("skipped")) == ("3", "1", "1")
    [failure] = list(jobs.iter("failure"))
    assert failure.get("message") == "missing expected line 'OUT_A'"
    assert failure.text is not None and "$ impl run 'x y'" in failure.text and "<b>&</b>" in failure.text
    assert "\x00" not in failure.text and "\x1b" not in failure.text
    [skipped] = list(jobs.iter("skipped"))
    assert skipped.get("message") == "not for posix"
    assert {c.get("name") for c in jobs.iter("testcase")} == {
        "1.1--prints.test.yaml",
        "2--bad-job.invalid.test.yaml",
        "wrap-forbidden.test.yaml",
    }


def test_junit_of_a_comparison_names_suites_per_implementation(
    cases: dict[str, TestCase], tmp_path: Path
) -> None:
    write_junit(two_impls(cases), tmp_path / "j.xml")
    names = [s.get("name") for s in ET.parse(tmp_path / "j.xml").getroot().iter("testsuite")]
    assert names == [
        "alpha: 2023-09/DEMO/job_templates",
        "alpha: 2023-09/DEMO/jobs",
        "beta: 2023-09/DEMO/job_templates",
        "beta: 2023-09/DEMO/jobs",
    ]


class Cells(HTMLParser):
    """Collects the text of every cell, and fails on unbalanced table markup."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("table", "tbody", "thead", "tr", "td", "th", "pre", "details"):
            self.open.append(tag)
            if tag in ("td", "th"):
                self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("table", "tbody", "thead", "tr", "td", "th", "pre", "details"):
            assert self.open.pop() == tag

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] in ("td", "th"):
            self.cells[-1] += data


def test_html_groups_by_folder_and_section_and_shows_failures(cases: dict[str, TestCase]) -> None:
    page = render_html(two_impls(cases))
    parser = Cells()
    parser.feed(page)
    assert parser.open == []
    cells = [c.strip() for c in parser.cells]
    # Header, then folder rows, section rows in numeric order, sectionless tests last.
    matrix = cells[cells.index("test") :]
    assert matrix[:3] == ["test", "alpha", "beta"]
    assert (
        matrix.index("2023-09/DEMO/job_templates") < matrix.index("section 1.1") < matrix.index("section 1.2")
    )
    jobs = matrix.index("2023-09/DEMO/jobs")
    order = [
        matrix.index(x, jobs) for x in ("section 1.1", "section 2", "2023-09/DEMO/jobs (no section number)")
    ]
    assert order == sorted(order)
    row = matrix.index("1.1--prints.test.yaml", jobs)
    assert matrix[row + 1 : row + 3] == ["passed", "failed"]
    # The failure: template source, the command, the output (escaped, not markup).
    assert "[beta] 2023-09/DEMO/jobs/1.1--prints.test.yaml" in page
    assert "OUT_A" in page and "impl run &#39;x y&#39;" in page
    assert "line &lt;b&gt;&amp;&lt;/b&gt;" in page and "<b>&</b>" not in page
    assert "<script" not in page and "http" not in page.split("<body>")[1]  # self-contained


def test_html_without_failures_says_so(cases: dict[str, TestCase]) -> None:
    report = two_impls(cases)
    page = render_html(Report(impls=report.impls[:1], results=report.of("alpha")))
    assert "<p>None.</p>" in page and "5 passed, 0 failed, 0 skipped" in page


def test_text_matrix_has_a_column_per_implementation(cases: dict[str, TestCase]) -> None:
    lines = matrix_text(two_impls(cases)).splitlines()
    assert lines[0].split() == ["test", "alpha", "beta"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["2023-09/DEMO/jobs/1.1--prints.test.yaml"] == ["pass", "FAIL"]
    assert rows["2023-09/DEMO/jobs/wrap-forbidden.test.yaml"] == ["pass", "skip"]


def test_sections_sort_naturally_and_public_wrap_tests_group_by_folder() -> None:
    assert sorted(["4.10", "", "4.9", "4", "10", "4.2"], key=section_key) == [
        "4",
        "4.2",
        "4.9",
        "4.10",
        "10",
        "",
    ]
    folders = dict(grouped(discover([PUBLIC_2023 / "WRAP_ACTIONS"])))
    jobs = dict(folders["2023-09/WRAP_ACTIONS/jobs"])
    assert list(jobs) == [""] and len(jobs[""]) > 30  # wrap-... bundles carry no number
    assert list(dict(folders["2023-09/WRAP_ACTIONS/env_templates"])) == ["4", "4.2", "4.3"]
