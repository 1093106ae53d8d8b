"""The values a user gives on the command line, read into the shapes job planning takes.

``-p`` parameters, ``--tasks`` / ``-tp`` task selections and
``--path-mapping-rules``: each is ``file://PATH`` (a YAML or JSON document,
read by :mod:`wraprun.documents`), inline JSON, or (``-p``, ``-tp``)
``NAME=VALUE``. Every refusal is an :class:`InputError` of one line that names
the flag or the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .documents import TemplateError, parse_json, read_document
from .errors import WraprunError
from .model import rs

FILE = "file://"


class InputError(WraprunError, ValueError):
    """Invalid parameters, task selections or path mapping rules."""


def parse_parameters(values: Sequence[str]) -> dict[str, Any]:
    """``-p`` values, merged in order: ``NAME=VALUE``, ``file://PATH`` (a mapping) or a JSON object."""
    merged: dict[str, Any] = {}
    for value in values:
        merged.update(_mapping(value, "-p"))
    return merged


def parse_tasks(tasks_arg: str | None, task_params: Iterable[str]) -> list[dict[str, Any]] | None:
    """``--tasks`` (a list of ``{name: value}``, file:// or JSON) and ``-tp NAME=VALUE`` (one task)."""
    selection: list[dict[str, Any]] | None = None
    if tasks_arg:
        document, where = _document(tasks_arg, "--tasks")
        if not isinstance(document, list) or not all(isinstance(t, dict) for t in document):
            raise InputError(f"{where}: expected a list of objects mapping task parameter names to values")
        for index, task in enumerate(document):
            _check_task(task, f"{where}: task {index}")
        selection = document
    pairs: dict[str, Any] = {}
    for value in task_params:
        pairs.update(_mapping(value, "-tp"))
    if pairs:
        _check_task(pairs, "-tp")
        selection = (selection or []) + [pairs]
    return selection


def load_path_mapping(value: str | None) -> list[rs.PathMappingRule]:
    """``--path-mapping-rules``: a pathmapping-1.0 document (or its list of rules), file:// or JSON."""
    if not value:
        return []
    document, where = _document(value, "--path-mapping-rules")
    if isinstance(document, list):
        rules = document
    elif isinstance(document, dict) and document.get("version") == "pathmapping-1.0":
        rules = document.get("path_mapping_rules", [])
    else:
        raise InputError(f"{where}: expected version 'pathmapping-1.0' with path_mapping_rules")
    # The engine iterates what it is given and reads each rule as a mapping: check both first.
    if not isinstance(rules, list):
        raise InputError(f"{where}: path_mapping_rules: expected a list of rules, got {describe(rules)}")
    out = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            got = describe(rule)
            raise InputError(f"{where}: path_mapping_rules[{index}]: expected a mapping, got {got}")
        try:
            out.append(rs.PathMappingRule.from_dict(rule))
        except (TypeError, ValueError, KeyError) as exc:
            raise InputError(f"{where}: path_mapping_rules[{index}]: {exc}") from exc
    return out


def describe(value: Any) -> str:
    """What a user gave, in JSON's words."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "text" if isinstance(value, str) else "a number"


def unwrap(value: Any) -> Any:
    """openjd's own ``{"type": T, "value": V}`` form (type optional) is the value V."""
    if isinstance(value, dict) and "value" in value and set(value) <= {"type", "value"}:
        return value["value"]
    return value


def _document(value: str, flag: str) -> tuple[Any, str]:
    """The document ``file://PATH`` holds, or the JSON ``value`` is; and the name errors give it."""
    if value.startswith(FILE):
        path = value[len(FILE) :]
        try:
            return read_document(Path(path)), path
        except TemplateError as exc:
            raise InputError(str(exc)) from exc
    where = flag if flag != "-p" and flag != "-tp" else f"{flag} {_clip(value)!r}"
    try:
        return parse_json(value, where), where
    except TemplateError as exc:
        raise InputError(str(exc)) from exc


def _mapping(value: str, flag: str) -> dict[str, Any]:
    """``-p`` / ``-tp``: a file or JSON object of names to values, or one ``NAME=VALUE``."""
    if value.startswith(FILE) or value.lstrip().startswith("{"):
        document, where = _document(value, flag)
        if not isinstance(document, dict):
            expected = "a mapping of names to values" if value.startswith(FILE) else "a JSON object"
            raise InputError(f"{where}: expected {expected}")
        return dict(document)
    name, sep, rest = value.partition("=")
    if not sep or not name:
        raise InputError(f"{flag} {_clip(value)!r}: expected NAME=VALUE, file://PATH or a JSON object")
    return {name: rest}


def _clip(text: str) -> str:
    """A command-line value short enough to quote in a one-line error."""
    return text if len(text) <= 60 else text[:57] + "..."


def _check_task(task: dict[str, Any], where: str) -> None:
    """Task parameter values are single values (or openjd's ``{"value": V}``), never containers."""
    for name, given in task.items():
        value = unwrap(given)
        if value is None or isinstance(value, (dict, list)):
            raise InputError(f"{where}: {name!r}: expected a single value, got {describe(value)}")
