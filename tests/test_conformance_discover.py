"""conformance.discover: the public layout, every way of naming a root, ``-k`` filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from wraprun.conformance.discover import discover

from .conformance_helpers.cli import small_suite
from .conformance_helpers.paths import PUBLIC_2023

DEMO = "2023-09/DEMO"


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    return small_suite(tmp_path / "suite")


def test_kinds_names_sections_and_invalid_flags(suite: Path) -> None:
    cases = {c.name: c for c in discover([suite])}
    assert sorted(cases) == [
        f"{DEMO}/job_templates/1.1--hello.yaml",
        f"{DEMO}/job_templates/1.2--broken.invalid.yaml",
        f"{DEMO}/jobs/1.1--prints.test.yaml",
        f"{DEMO}/jobs/2--bad-job.invalid.test.yaml",
        f"{DEMO}/jobs/wrap-forbidden.test.yaml",
    ]  # README.md is no test
    hello = cases[f"{DEMO}/job_templates/1.1--hello.yaml"]
    assert (hello.kind, hello.invalid, hello.section, hello.folder) == (
        "check",
        False,
        "1.1",
        f"{DEMO}/job_templates",
    )
    bad = cases[f"{DEMO}/jobs/2--bad-job.invalid.test.yaml"]
    assert (bad.kind, bad.invalid, bad.section) == ("run", True, "2")
    assert cases[f"{DEMO}/jobs/wrap-forbidden.test.yaml"].section == ""  # no number: grouped by folder


def test_every_root_form_names_tests_the_same_way(suite: Path) -> None:
    everything = [c.name for c in discover([suite])]
    assert [c.name for c in discover([suite / "2023-09"])] == everything
    assert [c.name for c in discover([suite / "2023-09" / "DEMO"])] == everything
    jobs = [c.name for c in discover([suite / "2023-09" / "DEMO" / "jobs"])]
    assert jobs == [n for n in everything if "/jobs/" in n]
    one = suite / "2023-09" / "DEMO" / "jobs" / "1.1--prints.test.yaml"
    assert [c.name for c in discover([one])] == [f"{DEMO}/jobs/1.1--prints.test.yaml"]
    # Overlapping roots list each file once.
    assert [c.name for c in discover([suite, one, suite / "2023-09"])] == everything


def test_a_named_file_outside_the_layout_is_taken_by_its_name(tmp_path: Path, suite: Path) -> None:
    loose = tmp_path / "mine.test.yaml"
    loose.write_text((suite / "2023-09/DEMO/jobs/1.1--prints.test.yaml").read_text())
    [case] = discover([loose])
    assert case.kind == "run" and case.path == loose


def test_k_globs_against_the_path_or_the_file_name(suite: Path) -> None:
    def names(pattern: str) -> list[str]:
        return [Path(c.name).name for c in discover([suite], pattern)]

    assert names("*/jobs/*") == [
        "1.1--prints.test.yaml",
        "2--bad-job.invalid.test.yaml",
        "wrap-forbidden.test.yaml",
    ]
    assert names("1.1--*") == ["1.1--hello.yaml", "1.1--prints.test.yaml"]  # the file name alone
    assert names("*.invalid.*") == ["1.2--broken.invalid.yaml", "2--bad-job.invalid.test.yaml"]
    assert names("forbid") == ["wrap-forbidden.test.yaml"]  # a plain word is a substring
    assert names("Forbid") == []  # globs are case-sensitive, like the paths
    assert names("*nothing*") == []


def test_the_public_suite_is_found_whole() -> None:
    files = [p for p in PUBLIC_2023.rglob("*") if p.is_file() and p.parent.name in ("jobs", "env_templates")]
    cases = discover([PUBLIC_2023])
    assert len(cases) == len(files) > 80
    sections = {c.path.name: c.section for c in cases}
    assert sections["4.3--wrap-only-onwrap-env-enter.invalid.yaml"] == "4.3"
    assert sections["wrap-no-wrap-control.test.yaml"] == ""
