"""The own suite's shape: public format, cited sentences, section prefixes, listed in its README."""

from __future__ import annotations

import itertools
import re

import pytest

from wraprun.conformance.discover import discover
from wraprun.conformance.execute import load_bundle
from wraprun.conformance.models import TestCase

from .conformance_helpers.paths import OWN_SUITE, PUBLIC_2023

CASES = discover([OWN_SUITE])
README = (OWN_SUITE / "README.md").read_text(encoding="utf-8")
PREFIXES = set(re.findall(r"^\| (\d+(?:\.\d+)*) +\|", README, re.MULTILINE))


def test_the_suite_is_all_there() -> None:
    assert len(CASES) > 40 and {c.folder for c in CASES} == {
        "2023-09/WRAP_ACTIONS/env_templates",
        "2023-09/WRAP_ACTIONS/jobs",
    }


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.path.name)
def test_each_file_cites_its_rfc_sentence_under_a_known_section(case: TestCase) -> None:
    text = case.path.read_text(encoding="utf-8")
    opening = " ".join(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines()))
    assert opening.startswith("# RFC 0008 §") and f"§{case.section} " in opening, "cites the RFC"
    assert case.section in PREFIXES, "the prefix is a heading of the README's table"
    assert f"`{case.path.parent.name}/{case.path.name}`" in README, "listed in the README"
    if case.kind == "run":
        bundle = load_bundle(case.path)  # the public bundle format, no misspelled keys
        assert case.invalid or bundle.expected.output or bundle.expected.task_failure, "expects something"


def test_no_file_reuses_a_public_name() -> None:
    public = {p.name for p in PUBLIC_2023.rglob("*") if p.is_file()}
    assert not public & {c.path.name for c in CASES}
