"""Path mapping rules as How Jobs Are Run applies them to PATH values."""

from __future__ import annotations

from collections.abc import Sequence

from .model import rs


class PathMapping:
    """openjd-model's rules, longest source path first; the first rule that matches wins."""

    def __init__(self, rules: Sequence[rs.PathMappingRule] = ()) -> None:
        self.rules = sorted(rules, key=lambda rule: -len(rule.source_path))

    def __call__(self, path: str) -> str:
        for rule in self.rules:
            changed, result = rule.apply(path=path)
            if changed:
                return str(result)
        return path

    def __bool__(self) -> bool:
        return bool(self.rules)
