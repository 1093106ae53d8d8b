"""The symbols the session adds to a template's own: Session.*, Task.*, and ``let`` bindings.

Pure functions over openjd-model's values; the session decides when each is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import TaskParameters, rs
from .paths import PathMapping


def session(working_directory: str, rules_file: str, has_rules: bool) -> dict[str, rs.ExprValue]:
    return {
        "Session.WorkingDirectory": rs.ExprValue(working_directory, "path"),
        "Session.HasPathMappingRules": rs.ExprValue("true" if has_rules else "false"),
        "Session.PathMappingRulesFile": rs.ExprValue(rules_file, "path"),
    }


def parameters(values: Mapping[str, tuple[str, Any]], map_path: PathMapping) -> dict[str, rs.ExprValue]:
    """Param.* (PATH and LIST[PATH] values path-mapped) and RawParam.*, from (type, value) pairs."""
    symbols: dict[str, rs.ExprValue] = {}
    for name, (kind, value) in values.items():
        symbols[f"RawParam.{name}"] = value
        if kind == "PATH":
            raw = str(value)
            symbols[f"RawParam.{name}"] = rs.ExprValue(raw)
            value = rs.ExprValue(map_path(raw), "path")
        elif kind == "LIST[PATH]":
            raw_list = [str(item) for item in value]
            symbols[f"RawParam.{name}"] = rs.ExprValue(raw_list, "list[string]")
            value = rs.ExprValue([map_path(p) for p in raw_list], "list[path]")
        symbols[f"Param.{name}"] = value
    return symbols


def task(params: TaskParameters, map_path: PathMapping) -> dict[str, rs.ExprValue]:
    """Task.Param.* (PATH values path-mapped, FLOAT keeping its text) and Task.RawParam.*."""
    out: dict[str, rs.ExprValue] = {}
    for name, value in params.items():
        kind = value.type.name
        raw = value.value
        if kind == "PATH":
            out[f"Task.Param.{name}"] = rs.ExprValue(map_path(raw), "path")
            out[f"Task.RawParam.{name}"] = rs.ExprValue(raw)
            continue
        if kind == "FLOAT":
            typed = rs.ExprValue.from_float(float(raw), original_str=raw)  # item() may be the text
        elif kind == "INT":
            typed = rs.ExprValue(int(value.item()))
        else:  # STRING, and CHUNK[INT] whose value is its range string
            typed = rs.ExprValue(raw)
        out[f"Task.Param.{name}"] = typed
        out[f"Task.RawParam.{name}"] = typed
    return out


def with_lets(symbols: dict[str, rs.ExprValue], lets: list[str], profile: rs.ExprProfile) -> rs.SymbolTable:
    """A script's ``let`` bindings evaluated over ``symbols`` (openjd-model's engine)."""
    table = rs.SymbolTable(symbols)
    if lets:
        table = rs.evaluate_let_bindings(list(lets), table, profile=profile)
    return table
