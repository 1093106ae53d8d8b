"""``wraprun schema``: openjd-model's JSON Schema of each template version, with ECMA-262 patterns."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from wraprun.schema import VERSIONS

from .helpers import wraprun

MODELS = {"jobtemplate-2023-09": "JobTemplate", "environment-2023-09": "EnvironmentTemplate"}


def model_schema(version: str) -> dict[str, Any]:
    from openjd.model import v2023_09

    document: dict[str, Any] = getattr(v2023_09, MODELS[version]).model_json_schema()
    return document


def patterns(node: Any) -> list[tuple[str, ...]]:
    """Every regex of a schema with where it sits, in document order."""
    found: list[tuple[str, ...]] = []
    if isinstance(node, list):
        for item in node:
            found += patterns(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                found.append(("pattern", value))
            elif key == "patternProperties" and isinstance(value, dict):
                found += [("patternProperties", k) for k in value]
            found += patterns(value)
    return found


def without_patterns(node: Any) -> Any:
    if isinstance(node, list):
        return [without_patterns(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: without_patterns(list(value.values()) if key == "patternProperties" else value)
        for key, value in node.items()
        if not (key == "pattern" and isinstance(value, str))
    }


def cli_schema(version: str, output: str = "json") -> Any:
    out = wraprun("schema", "--version", version, "--output", output)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return json.loads(out.stdout) if output == "json" else yaml.safe_load(out.stdout)


@pytest.mark.parametrize("version", sorted(MODELS))
def test_each_version_is_the_models_schema_with_portable_patterns(version: str) -> None:
    printed = cli_schema(version)
    model = model_schema(version)
    assert printed["title"] == MODELS[version] and "$defs" in printed
    assert without_patterns(printed) == without_patterns(model)  # only the regexes differ
    ours, theirs = patterns(printed), patterns(model)
    assert [kind for kind, _ in ours] == [kind for kind, _ in theirs] and ours
    for (_, ecma), (_, python) in zip(ours, theirs, strict=True):
        assert "(?-m:" not in ecma and not re.search(r"(?<!\\)(?:\\\\)*\\[Zz]", ecma), ecma
        # The same texts match (but for a final newline, which Python's $ lets through);
        # the model's regexes are Rust's, whose \z Python spells \Z.
        python = python.replace("\\z", "\\Z")
        for text in ("abc", "a_1", "", "x y", "é", "bad\x01", "*.exr", "1nope"):
            assert bool(re.search(ecma, text)) == bool(re.search(python, text)), (ecma, text)


@pytest.mark.parametrize("version", sorted(MODELS))
def test_yaml_is_the_same_schema(version: str) -> None:
    assert cli_schema(version, "yaml") == cli_schema(version)


def test_the_versions_are_those_the_cli_offers() -> None:
    assert set(VERSIONS) == set(MODELS)


@pytest.mark.parametrize("version", ["jobtemplate-2099-01", "", "JOBTEMPLATE-2023-09"])
def test_an_unknown_version_is_a_usage_error(version: str) -> None:
    out = wraprun("schema", "--version", version)
    assert out.returncode == 2 and out.stdout == ""
    assert "argument --version: invalid choice" in out.stderr
    assert wraprun("schema").returncode == 2  # --version is required


@given(
    st.lists(
        st.sampled_from(["a", "\\", "Z", "z", "\\Z", "\\z", "\\\\", "(?-m:", ")", "$", "^", "[", "]"]),
        max_size=12,
    )
)
def test_only_unescaped_end_anchors_are_rewritten(pieces: list[str]) -> None:
    from wraprun.schema import _ecma

    pattern = "".join(pieces)
    rewritten = _ecma(pattern)
    # Read both left to right, an escape at a time: each \Z or \z becomes $, all else stays.
    expected, at = "", 0
    while at < len(pattern):
        if pattern[at] == "\\" and at + 1 < len(pattern):
            pair = pattern[at : at + 2]
            expected += "$" if pair in ("\\Z", "\\z") else pair
            at += 2
        else:
            expected += pattern[at]
            at += 1
    assert rewritten == expected.replace("(?-m:", "(?:")
