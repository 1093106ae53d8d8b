"""``wraprun schema``: the JSON Schema of a template version, from openjd-model's pydantic models.

The models are imported only here: they take a while to build, and no other
command needs them. Their ``pattern`` regexes are Python's; JSON Schema wants
ECMA-262 ones, so the two Python-only constructs they use are rewritten.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from .check import EXIT_OK, render

VERSIONS = ("jobtemplate-2023-09", "environment-2023-09")

_END = re.compile(r"(?<!\\)((?:\\\\)*)\\[Zz]")
"""``\\Z`` / ``\\z`` (end of text) not preceded by an escaping backslash."""


def schema(version: str) -> dict[str, Any]:
    """The JSON Schema of ``version`` (one of :data:`VERSIONS`)."""
    if version not in VERSIONS:
        raise ValueError(f"no schema for {version!r}; versions: {', '.join(VERSIONS)}")
    from openjd.model import v2023_09

    model = v2023_09.JobTemplate if version == VERSIONS[0] else v2023_09.EnvironmentTemplate
    document: dict[str, Any] = _ecma_patterns(model.model_json_schema())
    return document


def _ecma_patterns(node: Any) -> Any:
    """``node`` with every ``pattern`` and ``patternProperties`` key rewritten for ECMA-262:
    ``(?-m:`` (multiline off, the default there anyway) becomes ``(?:``, and ``\\Z`` /
    ``\\z`` become ``$`` (without the multiline flag, the end of the text)."""
    if isinstance(node, list):
        return [_ecma_patterns(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "pattern" and isinstance(value, str):
            value = _ecma(value)
        elif key == "patternProperties" and isinstance(value, dict):
            value = {_ecma(pattern): schema for pattern, schema in value.items()}
        out[key] = _ecma_patterns(value)
    return out


def _ecma(pattern: str) -> str:
    return _END.sub(r"\1$", pattern.replace("(?-m:", "(?:"))


def run(version: str, output: str) -> int:
    sys.stdout.write(render(schema(version), output))
    return EXIT_OK
