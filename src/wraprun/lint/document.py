"""The template as lint walks it: its scripts, and the place and line of each node."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..templates import Template


@dataclass
class Script:
    """One ``script`` of a template, with what its expressions can see."""

    place: tuple[str | int, ...]
    body: Mapping[str, Any]
    files_symbol: str
    """``Env.File`` or ``Task.File``."""
    environment: bool
    task_parameters: Sequence[Mapping[str, Any]] = ()


def scripts(template: Template) -> Iterator[Script]:
    document = template.document

    def environment(env: Any, place: tuple[str | int, ...]) -> Iterator[Script]:
        if isinstance(env, dict) and isinstance(env.get("script"), dict):
            yield Script((*place, "script"), env["script"], "Env.File", True)

    if template.kind == "environment":
        yield from environment(document.get("environment"), ("environment",))
        return
    for index, env in enumerate(document.get("jobEnvironments") or []):
        yield from environment(env, ("jobEnvironments", index))
    for index, step in enumerate(document.get("steps") or []):
        for inner, env in enumerate(step.get("stepEnvironments") or []):
            yield from environment(env, ("steps", index, "stepEnvironments", inner))
        space = step.get("parameterSpace") or {}
        definitions = space.get("taskParameterDefinitions") or []
        if isinstance(step.get("script"), dict):
            yield Script(("steps", index, "script"), step["script"], "Task.File", False, definitions)


def place(path: Sequence[str | int]) -> str:
    """``steps[0].script.actions.onRun``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


class Lines:
    """Line numbers of the template's YAML nodes (aliases point at their anchor's node)."""

    def __init__(self, path: Path) -> None:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self.root: Any = None
        try:
            self.root = yaml.compose(path.read_text(encoding="utf-8"), Loader=loader)
        except (OSError, UnicodeError, yaml.YAMLError):
            pass

    def find(self, path: Sequence[str | int]) -> tuple[Any, Any]:
        """(the key node naming the last step, or None; the node at ``path``, or None)."""
        import yaml

        key: Any = None
        node = self.root
        for part in path:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                key, node = next(
                    ((k, v) for k, v in node.value if getattr(k, "value", None) == part), (None, None)
                )
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                key, node = None, node.value[part]
            else:
                return None, None
        return key, node

    def node(self, path: Sequence[str | int]) -> Any:
        return self.find(path)[1]

    def line(
        self, path: Sequence[str | int], offset_in_text: int | None = None, text: str = ""
    ) -> int | None:
        """The line of a scalar; of a mapping or list, the line of the key that names it."""
        import yaml

        key, node = self.find(path)
        if node is None:
            return None
        if key is not None and isinstance(node, yaml.CollectionNode):
            return int(key.start_mark.line) + 1
        line = int(node.start_mark.line) + 1
        if offset_in_text is not None and getattr(node, "style", None) == "|":
            line += 1 + text.count("\n", 0, offset_in_text)  # a literal block starts below its `|`
        return line
