"""``wraprun conformance`` end to end: the suites pass, failures read well, comparisons, exit codes."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from wraprun.conformance.discover import discover

from .conformance_helpers.cli import conformance, small_suite
from .conformance_helpers.paths import OWN_SUITE, PUBLIC_2023
from .helpers import REPO, on_a_terminal

CLOSING = re.compile(r"(\d+) passed, (\d+) failed, (\d+) skipped")


def closing(out: str) -> tuple[int, int, int]:
    last = out.rstrip("\n").split("\n")[-1]
    match = CLOSING.fullmatch(last)
    assert match, f"last line is not the summary: {last!r}"
    passed, failed, skipped = map(int, match.groups())
    return passed, failed, skipped


def test_own_suite_passes(tmp_path: Path) -> None:
    done = conformance("--junit", str(tmp_path / "own.xml"), "--html", str(tmp_path / "own.html"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert closing(done.stdout) == (len(discover([OWN_SUITE])), 0, 0)
    assert "\r" not in done.stdout  # piped: plain lines only
    root = ET.parse(tmp_path / "own.xml").getroot()
    assert root.get("failures") == "0" and int(root.get("tests", "0")) == len(discover([OWN_SUITE])) > 40
    assert 'id="matrix"' in (tmp_path / "own.html").read_text()


def listed_contradictions() -> set[str]:
    """The fixtures the README lists as contradicting their suite or the shared engine."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Public fixtures wraprun does not pass", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(\w+/jobs/[^`]+)` \|", section, re.MULTILINE))


def test_public_suite_passes_but_for_the_listed_contradictions() -> None:
    done = conformance(str(PUBLIC_2023))
    passed, failed, skipped = closing(done.stdout)
    failures = set(re.findall(r"^FAILED 2023-09/(\S+?):", done.stdout, re.MULTILINE))
    listed = listed_contradictions()
    assert failures == listed and len(listed) == failed == 7, done.stdout[-3000:]
    assert passed + failed + skipped == len(discover([PUBLIC_2023])) > 250


def test_own_suite_location_can_be_configured(tmp_path: Path) -> None:
    suite = small_suite(tmp_path / "elsewhere")
    done = conformance(env={"WRAPRUN_CONFORMANCE_DIR": str(suite)})
    assert (done.returncode, closing(done.stdout)) == (0, (5, 0, 0)), done.stdout + done.stderr


def test_failures_get_a_line_each_with_the_reason(tmp_path: Path) -> None:
    suite = small_suite(tmp_path / "suite")
    done = conformance(str(suite), "--impl", "true")  # accepts everything, prints nothing
    assert done.returncode == 1
    # One line per failure, in the order they finished, then the summary.
    assert sorted(done.stdout.splitlines()[:-1]) == [
        "FAILED 2023-09/DEMO/job_templates/1.2--broken.invalid.yaml: accepted an invalid template",
        "FAILED 2023-09/DEMO/jobs/1.1--prints.test.yaml: missing expected line 'OUT_A'",
        "FAILED 2023-09/DEMO/jobs/2--bad-job.invalid.test.yaml: accepted an invalid template",
        "FAILED 2023-09/DEMO/jobs/wrap-forbidden.test.yaml: missing expected line 'OUT_B'",
    ]
    assert closing(done.stdout) == (1, 4, 0)
    rejecting = conformance(str(suite), "--impl", "false", "-k", "*/1.1--*")
    assert sorted(rejecting.stdout.splitlines()[:-1]) == [
        "FAILED 2023-09/DEMO/job_templates/1.1--hello.yaml: rejected a valid template (exit code 1)",
        "FAILED 2023-09/DEMO/jobs/1.1--prints.test.yaml: run failed with exit code 1",
    ]


def test_verbose_shows_the_output_tail(tmp_path: Path) -> None:
    suite = small_suite(tmp_path / "suite")
    impl = f"{sys.executable} -c \"print('line one'); print('FROM THE IMPL')\""
    done = conformance(str(suite), "-k", "1.1--prints*", "--impl", impl, "-v")
    assert done.stdout.splitlines()[1:3] == ["    | line one", "    | FROM THE IMPL"]
    quiet = conformance(str(suite), "-k", "1.1--prints*", "--impl", impl)
    assert "FROM THE IMPL" not in quiet.stdout


def test_a_terminal_gets_a_live_progress_line(tmp_path: Path) -> None:
    suite = small_suite(tmp_path / "suite")
    _, screen = on_a_terminal("conformance", str(suite), "-k", "*/job_templates/*")
    assert screen.startswith("1/2 done, ") and "\r\x1b[K2/2 done, 2 passed, 0 failed" in screen
    assert screen.rstrip().endswith("2 passed, 0 failed, 0 skipped")


def test_compare_shows_a_matrix_and_judges_the_first(tmp_path: Path) -> None:
    suite = small_suite(tmp_path / "suite")
    html = tmp_path / "cmp.html"
    done = conformance(
        str(suite), "--compare", "--impl", "wraprun", "--impl", "yes-man=true", "--html", str(html)
    )
    assert done.returncode == 0, done.stdout + done.stderr  # wraprun, the first, failed nothing
    lines = done.stdout.splitlines()
    assert "FAILED [yes-man] 2023-09/DEMO/jobs/1.1--prints.test.yaml: missing expected line 'OUT_A'" in lines
    header = next(i for i, line in enumerate(lines) if line.startswith("test "))
    assert lines[header].split() == ["test", "wraprun", "yes-man"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 1 : header + 6]}
    assert rows["2023-09/DEMO/jobs/1.1--prints.test.yaml"] == ["pass", "FAIL"]
    assert rows["2023-09/DEMO/job_templates/1.1--hello.yaml"] == ["pass", "pass"]
    assert lines[-3:] == [
        "wraprun: 5 passed, 0 failed, 0 skipped",
        "yes-man: 1 passed, 4 failed, 0 skipped",
        "5 passed, 0 failed, 0 skipped",
    ]
    assert "<th>wraprun</th><th>yes-man</th>" in html.read_text()
    swapped = conformance(str(suite), "--compare", "--impl", "yes-man=true", "--impl", "wraprun")
    assert swapped.returncode == 1 and closing(swapped.stdout) == (1, 4, 0)


def test_compare_with_one_impl_adds_wraprun(tmp_path: Path) -> None:
    suite = small_suite(tmp_path / "suite")
    done = conformance(str(suite), "-k", "*hello*", "--impl", "true", "--compare")
    assert done.stdout.splitlines()[-3:-1] == [
        "true: 1 passed, 0 failed, 0 skipped",
        "wraprun: 1 passed, 0 failed, 0 skipped",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{suite}/nope"], "no such suite"),
        (["{suite}", "-k", "*nothing*"], "no tests found matching '*nothing*'"),
        (["{suite}", "--impl", "true", "--impl", "false"], "several --impl need --compare"),
        (["{suite}", "--impl", "   "], "no command"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    suite = small_suite(tmp_path / "suite")
    done = conformance(*[a.format(suite=suite) for a in args])
    assert done.returncode == 2 and message in done.stderr
