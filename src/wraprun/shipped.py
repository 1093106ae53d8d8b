"""The ready environment templates installed with wraprun: list them, find one by name.

They live in the checkout's ``templates/`` and travel in the wheel as the data
package ``wraprun.ready_templates`` (pyproject.toml maps one onto the other), so
an editable install and an installed wheel find them the same way.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .documents import TemplateError, read_document

PACKAGE = "wraprun.ready_templates"
SUFFIX = ".yaml"

__all__ = ["PACKAGE", "catalog", "description", "folder", "is_name", "locate", "names", "resolve"]


def folder() -> Path | None:
    """Where the ready templates are installed; None if they are not."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def names() -> list[str]:
    """The name of every ready template (its file name without ``.yaml``), sorted."""
    where = folder()
    return sorted(p.name[: -len(SUFFIX)] for p in where.glob(f"*{SUFFIX}")) if where else []


def catalog() -> list[tuple[str, str]]:
    """(name, one-line description) of every ready template, by name."""
    where = folder()
    return [(name, description(where / f"{name}{SUFFIX}")) for name in names()] if where else []


def is_name(value: str | Path) -> bool:
    """Whether ``value`` could name a ready template: no directory part, not empty or a dot name."""
    text = str(value)
    return bool(text) and os.sep not in text and "/" not in text and not text.startswith(".")


def locate(name: str) -> Path | None:
    """The file of the ready template ``NAME`` or ``NAME.yaml``; None if there is none."""
    where = folder()
    if where is None or not is_name(name):
        return None
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
    found = where / f"{stem}{SUFFIX}"
    return found if found.is_file() else None


def resolve(value: str | Path) -> Path:
    """An existing file as given (it always wins); else the ready template a bare name
    names; else ``value`` unchanged, for the reader to report."""
    path = Path(value)
    if (path.exists() and not path.is_dir()) or not is_name(value):
        return path
    return locate(str(value)) or path


def description(path: Path) -> str:
    """One line about a template: its environment's ``description``, else the first line
    of the comment it starts with, else empty."""
    try:
        document = read_document(path)
    except TemplateError:
        document = None
    environment = document.get("environment") if isinstance(document, dict) else None
    if isinstance(environment, dict) and isinstance(environment.get("description"), str):
        return " ".join(environment["description"].split())
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if text:
            return text
    return ""
