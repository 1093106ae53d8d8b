"""Read the YAML and JSON documents wraprun is given: templates, parameters, task lists, rules.

What reaches openjd-model is checked first: its compiled engine crashes on a
recursive structure, exhausts memory on aliases that expand, and fails with a
Python error on values JSON cannot hold, so :func:`read_document` lets through
only bounded, JSON-shaped documents read from regular files. Every refusal is
one line naming the file and, where there is one, the line and column.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .errors import WraprunError

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml: the pure-Python parser, slower, same results
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class TemplateError(WraprunError, ValueError):
    """A file that cannot be read, or is not a valid document or template; ``problems``
    holds one readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


MAX_BYTES = 16 * 1024 * 1024
"""Largest input file read: real templates are a few KiB; /dev/zero-like inputs must end."""
MAX_NODES = 1_000_000
"""Most values a document may expand to, each use of a YAML alias counted as a copy
(a few hundred bytes of nested aliases can otherwise stand for billions of values)."""
MAX_DEPTH = 100
"""Deepest nesting accepted: OpenJD documents nest about ten levels."""

_SCALAR_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("int", "float", "bool", "null")}
_STR_TAG, _MERGE_TAG = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"
_YAML_TAGS = _SCALAR_TAGS | {_STR_TAG, _MERGE_TAG, "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}
"""What JSON can hold (and ``<<`` merge keys, which construction resolves)."""


def _checked(construct: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A scalar constructor whose failure names the place: an explicit ``!!int twelve``,
    ``!!bool perhaps`` or empty ``!!float`` raises ValueError, KeyError or IndexError."""

    def checked(loader: Any, node: Any) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, LookupError, ArithmeticError) as exc:
            problem = f"{node.value[:40]!r} is not a valid {_short(node.tag)}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from exc

    return checked


class _Loader(_SafeLoader):
    """Safe loading with YAML 1.2's JSON-shaped scalars: no implicit timestamps (``2024-01-01``
    stays a string, as openjd-model expects of a STRING default) and no ``=`` value tag."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith((":timestamp", ":value"))]
        for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
    }
    yaml_constructors = {
        tag: _checked(construct) if tag in _SCALAR_TAGS else construct
        for tag, construct in _SafeLoader.yaml_constructors.items()
    }


def read_document(path: Path) -> Any:
    """Parse a YAML or JSON file; errors name the file and the line.

    The result is JSON-shaped (strings, numbers, booleans, null, lists, string-keyed
    mappings), not recursive, and bounded in size and depth: the compiled openjd-model
    engine crashes or exhausts memory on anything else, so nothing else may reach it.
    """
    data = _read_bytes(path)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise TemplateError([f"{path}: cannot read: UTF-16 text; save it as UTF-8"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError([f"{path}{_offset(data, exc.start)}: cannot read: not UTF-8 text"]) from exc
    if path.suffix.lower() == ".json":
        return parse_json(text, str(path))
    try:
        return _load_yaml(path, text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _mark(mark) if mark else _offset(data, getattr(exc, "position", None))
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
        raise TemplateError([f"{path}{where}: invalid YAML: {' '.join(str(problem).split())}"]) from exc
    except RecursionError as exc:  # only pure-Python PyYAML recurses; libyaml caps nesting itself
        raise TemplateError([f"{path}: invalid YAML: nested more than {MAX_DEPTH} levels deep"]) from exc


def _load_yaml(path: Path, text: str) -> Any:
    """Compose the node graph, check it (tags, keys, cycles, size, depth), then build values."""
    if len(text) > 64 * 1024:  # a smaller text cannot hold enough nodes to matter
        _count_nodes(path, text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_tag(path, node)
        bound(
            node,
            lambda n: _yaml_children(path, n),
            yaml.CollectionNode,
            lambda n: f"{path}{_mark(n.start_mark)}",
        )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _count_nodes(path: Path, text: str) -> None:
    """Refuse a text of more than MAX_NODES values before any node is built: 16 MiB of
    ``[0,0,...`` is eight million of them, and composing those takes minutes and gigabytes.
    Events stream one at a time, so this pass holds nothing and stops at the cap."""
    loader = _Loader(text)
    try:
        count = 0
        while (event := loader.get_event()) is not None:
            if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
                count += 1
                if count > MAX_NODES:
                    raise TemplateError([f"{path}{_mark(event.start_mark)}: more than {MAX_NODES} values"])
    finally:
        loader.dispose()


def parse_json(text: str, where: str) -> Any:
    """JSON text to a value, bounded like a YAML document; errors start with ``where``."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateError([f"{where}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"]) from exc
    except RecursionError as exc:
        raise TemplateError([f"{where}: invalid JSON: nested more than {MAX_DEPTH} levels deep"]) from exc
    except ValueError as exc:  # an integer with more digits than Python converts
        raise TemplateError([f"{where}: invalid JSON: {exc}"]) from exc
    bound(document, _json_children, (list, dict), lambda _: where)
    return document


def _read_bytes(path: Path) -> bytes:
    """At most MAX_BYTES of a regular file; a FIFO, device, socket or directory is refused
    unopened (reading one can block forever, never end, or have side effects)."""
    try:
        _regular(path, os.stat(path).st_mode)
        # O_NONBLOCK and fstat: if the path was swapped for a FIFO since the stat, the open
        # does not wait for a writer and the check below still sees what was opened.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with open(fd, "rb") as file:
            _regular(path, os.fstat(fd).st_mode)
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise TemplateError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    if len(data) > MAX_BYTES:
        raise TemplateError([f"{path}: cannot read: larger than {MAX_BYTES // 2**20} MiB"])
    return data


def _regular(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        raise TemplateError([f"{path}: cannot read: {kind}, not a regular file"])


_KINDS: list[tuple[Callable[[int], bool], str]] = [
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
]


def bound(
    root: Any,
    children: Callable[[Any], list[Any]],
    containers: type | tuple[type, ...],
    where: Callable[[Any], str],
) -> None:
    """Refuse a document that contains itself, expands beyond MAX_NODES values or nests
    deeper than MAX_DEPTH. ``children`` gives the items of a ``containers`` instance.

    Iterative (no RecursionError), and each shared container (a YAML alias's target) is
    walked once, its expanded size and height memoized: the cost follows the text's size,
    not the expansion's, and the walk stops as soon as MAX_NODES values are seen. Only
    containers are stacked; scalars are counted in bulk, which keeps big documents cheap.
    """
    if not isinstance(root, containers):
        return
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}
    on_path: set[int] = set()
    todo: list[tuple[Any, list[Any] | None, int]] = [(root, None, 0)]
    seen = 0
    while todo:
        item, inner, scalars = todo.pop()
        key = id(item)
        if inner is not None:  # every container in item is measured
            on_path.discard(key)
            size = 1 + scalars + sum(sizes[id(kid)] for kid in inner)
            height = 1 + max([heights[id(kid)] for kid in inner] + [1 if scalars else 0])
            if size > MAX_NODES:
                raise TemplateError([f"{where(item)}: expands to more than {MAX_NODES} values"])
            if height > MAX_DEPTH:
                raise TemplateError([f"{where(item)}: nested more than {MAX_DEPTH} levels deep"])
            sizes[key], heights[key] = size, height
            continue
        if key in on_path:
            raise TemplateError([f"{where(item)}: recursive: this value contains itself"])
        if key in sizes:
            continue
        items = children(item)
        seen += len(items)  # each is one more value of the expansion: stop before stacking too many
        if seen > MAX_NODES:
            raise TemplateError([f"{where(item)}: expands to more than {MAX_NODES} values"])
        inner = [kid for kid in items if isinstance(kid, containers)]
        on_path.add(key)
        todo.append((item, inner, len(items) - len(inner)))
        todo.extend((kid, None, 0) for kid in inner)


def _json_children(value: Any) -> list[Any]:
    return list(value.values()) if isinstance(value, dict) else value


def _yaml_children(path: Path, node: yaml.CollectionNode) -> list[Any]:
    """A node's children, after checking they hold what JSON can: the engine takes nothing else."""
    if isinstance(node, yaml.SequenceNode):
        kids = list(node.value)
    else:
        for key, _ in node.value:
            if key.tag not in (_STR_TAG, _MERGE_TAG):
                # `1:`, `null:`, `yes:` or `[a]:` read as non-strings; OpenJD names are strings.
                problem = "a mapping key must be a string (quote it)"
                raise TemplateError([f"{path}{_mark(key.start_mark)}: {problem}"])
        kids = [kid for pair in node.value for kid in pair]
    for kid in kids:
        _check_tag(path, kid)
    return kids


def _check_tag(path: Path, node: yaml.Node) -> None:
    if node.tag not in _YAML_TAGS:
        problem = f"unsupported tag {_short(node.tag)}: values must be JSON's"
        raise TemplateError([f"{path}{_mark(node.start_mark)}: {problem}"])


def _short(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _mark(mark: Any) -> str:
    return f":{mark.line + 1}:{mark.column + 1}"


def _offset(data: bytes, position: int | None) -> str:
    """``:line:col`` of a byte offset into the file's text."""
    if position is None:
        return ""
    lines = data[:position].decode("utf-8", errors="replace").split("\n")
    return f":{len(lines)}:{len(lines[-1]) + 1}"
