"""conformance: discovery, judging a run, reports, and whole suites through the CLI."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from wraprun.conformance import report
from wraprun.conformance.discover import discover
from wraprun.conformance.execute import Result, first_failure_code, judge, run_case
from wraprun.conformance.runner import parse_impls

from .helpers import PUBLIC_SUITE, REPO, wraprun

WRAP = PUBLIC_SUITE / "WRAP_ACTIONS"


def test_discovery_kinds_names_and_sections() -> None:
    cases = discover([WRAP])
    by_name = {c.path.name: c for c in cases}
    template = by_name["4.3--wrap-only-onwrap-env-enter.invalid.yaml"]
    assert (template.kind, template.invalid, template.section) == ("check", True, "4.3")
    assert template.name == "2023-09/WRAP_ACTIONS/env_templates/4.3--wrap-only-onwrap-env-enter.invalid.yaml"
    bundle = by_name["wrap-no-wrap-control.test.yaml"]
    assert (bundle.kind, bundle.invalid, bundle.section) == ("run", False, "2023-09/WRAP_ACTIONS/jobs")


def test_discovery_filters_with_globs() -> None:
    assert {c.path.name for c in discover([WRAP], "*wrappedstep*")} == {
        "4--wrappedstep-name-in-onwrapenventer.invalid.yaml",
        "4--wrappedstep-name-in-onwrapenvexit.invalid.yaml",
        "wrap-two-steps-wrappedstep-name-per-step.test.yaml",
    }
    assert len(discover([WRAP], "control")) == 1  # a bare word matches as a substring


def test_judge_expectations() -> None:
    out = "Process exited with code: 0\nHELLO\nProcess exited with code: 3\nProcess exited with code: 1\n"
    assert judge({"output": ["HELLO"]}, 0, out) == ""
    assert "missing" in judge({"output": ["BYE"]}, 0, out)
    assert judge({"output": [{"anyOf": ["nope", "HELLO"]}]}, 0, out) == ""
    assert "forbidden" in judge({"forbidden": ["HELLO"]}, 0, out)
    assert "forbidden" in judge({"forbidden_posix": ["HELLO"]}, 0, out)
    assert "expected a task failure" in judge({"taskFailure": {}}, 0, out)
    assert judge({"taskFailure": {"exitCode": 3}}, 1, out) == ""  # the first non-zero code counts
    assert "expected 1, got 3" in judge({"taskFailure": {"exitCode": 1}}, 1, out)
    assert first_failure_code("exited with code: -9") == -9


def test_parse_impls() -> None:
    assert parse_impls([])[0][0] == "wraprun"
    assert parse_impls(["official=/opt/x/bin/openjd --flag"]) == [
        ("official", ["/opt/x/bin/openjd", "--flag"])
    ]
    assert parse_impls(["/usr/bin/openjd"]) == [("openjd", ["/usr/bin/openjd"])]


def results_for(tmp: Path) -> list[Result]:
    cases = discover([WRAP], "*wrappedstep*")
    rejecting = ["python", "-c", "import sys; sys.exit(1)"]
    return [run_case(c, "wraprun", parse_impls([])[0][1]) for c in cases] + [
        run_case(c, "rejector", rejecting) for c in cases
    ]


def test_reports(tmp_path: Path) -> None:
    results = results_for(tmp_path)
    mine = [r for r in results if r.impl == "wraprun"]
    assert report.summary_line(mine) == "3 passed, 0 failed, 0 skipped"
    rejector = [r for r in results if r.impl == "rejector"]
    assert report.summary_line(rejector) == "2 passed, 1 failed, 0 skipped"  # it can't run the valid job
    junit = tmp_path / "junit.xml"
    report.write_junit(results, junit)
    root = ET.parse(junit).getroot()
    assert sum(int(s.get("failures", "0")) for s in root.iter("testsuite")) == 1
    assert len(list(root.iter("testcase"))) == 6
    html = tmp_path / "report.html"
    report.write_html(results, ["wraprun", "rejector"], html)
    page = html.read_text()
    assert '<table id="matrix">' in page and "<th>rejector</th>" in page
    assert "expected a task failure" not in page and "could not" not in page
    assert "wrap-two-steps-wrappedstep-name-per-step" in page and "Command:" in page
    assert report.matrix(results, ["wraprun", "rejector"])[-1][1] == ["passed", "failed"]


def run_conformance(*args: str) -> tuple[int, str]:
    result = wraprun("conformance", *args, timeout=900)
    return result.returncode, result.stdout + result.stderr


def test_public_suite_passes_through_the_cli(tmp_path: Path) -> None:
    code, out = run_conformance(str(PUBLIC_SUITE), "--junit", str(tmp_path / "j.xml"))
    assert code == 0, out
    assert out.splitlines()[-1].endswith(" failed, 0 skipped") and " 0 failed" in out.splitlines()[-1]


def test_own_suite_passes_through_the_cli() -> None:
    assert (REPO / "conformance" / "2023-09").is_dir()
    code, out = run_conformance()
    assert code == 0, out
    assert ", 0 failed," in out.splitlines()[-1]


def test_failures_are_reported_with_reasons(tmp_path: Path) -> None:
    code, out = run_conformance(str(WRAP), "-k", "*onwrap-env-enter*", "--impl", "true")
    assert code == 1
    assert (
        "FAILED 2023-09/WRAP_ACTIONS/env_templates/4.3--wrap-only-onwrap-env-enter.invalid.yaml: "
        "accepted an invalid template" in out
    )
    assert out.splitlines()[-1] == "0 passed, 1 failed, 0 skipped"


def test_missing_suite_is_invalid_input(tmp_path: Path) -> None:
    code, out = run_conformance(str(tmp_path / "nope"))
    assert code == 2 and "no such suite" in out


@pytest.fixture(scope="module")
def official() -> Path:
    from .official_runtime import official_openjd

    return official_openjd()


def test_compare_with_the_official_runtime_renders_in_chromium(official: Path, tmp_path: Path) -> None:
    html = tmp_path / "compare.html"
    code, out = run_conformance(
        str(WRAP / "jobs"),
        "-k",
        "wrap-cancelation-mode*",
        "--impl",
        f"openjd={official}",
        "--compare",
        "wraprun",
        "--html",
        str(html),
    )
    assert "openjd: " in out and "wraprun: 3 passed, 0 failed, 0 skipped" in out, out
    chromium = _chromium()
    shot = tmp_path / "shot.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    import subprocess

    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1200,900", html.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.exists() and shot.stat().st_size > 10_000
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert 'id="matrix"' in dom and "<th>openjd</th>" in dom and "<th>wraprun</th>" in dom


def _chromium() -> str:
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (scripts/test.sh installs it)")
        pytest.skip("chromium is not installed")
    return found
