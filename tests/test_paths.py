"""paths: path mapping as How Jobs Are Run applies it."""

from __future__ import annotations

from wraprun.model import rs
from wraprun.paths import PathMapping


def rule(source: str, destination: str) -> rs.PathMappingRule:
    return rs.PathMappingRule.from_dict(
        {"source_path_format": "POSIX", "source_path": source, "destination_path": destination}
    )


def test_the_longest_source_wins_whatever_the_order() -> None:
    mapping = PathMapping([rule("/mnt", "/short"), rule("/mnt/shared", "/long")])
    assert mapping("/mnt/shared/a.exr") == "/long/a.exr"
    assert mapping("/mnt/other") == "/short/other"


def test_an_unmatched_path_is_unchanged_and_no_rules_is_falsy() -> None:
    assert PathMapping([rule("/mnt", "/x")])("/home/me") == "/home/me"
    assert not PathMapping() and PathMapping([rule("/a", "/b")])
