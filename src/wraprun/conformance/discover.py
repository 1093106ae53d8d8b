"""Find conformance tests laid out in the public format.

``<version>/<component>/{job_templates,env_templates,jobs}/``: template files
are checked, ``*.test.yaml`` bundles in ``jobs/`` are run; ``.invalid.`` in a
name means the implementation must reject it.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from pydantic import BaseModel

TEMPLATE_DIRS = ("job_templates", "env_templates")
TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json")


class TestCase(BaseModel):
    path: Path
    name: str
    """Relative to the suite root, e.g. ``2023-09/WRAP_ACTIONS/jobs/wrap-...test.yaml``."""
    kind: str
    """``check`` (a template file) or ``run`` (a job bundle)."""
    invalid: bool
    folder: str
    section: str
    """The spec section a file name starts with (``4.3--...``), else the folder."""


def discover(roots: list[Path], pattern: str | None = None) -> list[TestCase]:
    cases: dict[Path, TestCase] = {}
    for root in roots:
        root = root.resolve()
        files = [root] if root.is_file() else sorted(root.rglob("*"))
        base = _suite_base(root)
        for path in files:
            case = _case(path, base)
            if case is not None and (pattern is None or _matches(case, pattern)):
                cases.setdefault(path, case)
    return sorted(cases.values(), key=lambda c: c.name)


def _suite_base(root: Path) -> Path:
    """The folder above the version folder, so names read ``2023-09/COMPONENT/...``."""
    start = root if root.is_dir() else root.parent
    for folder in (start, *start.parents):
        if folder.name[:1].isdigit() and "-" in folder.name:
            return folder.parent
    return start


def _case(path: Path, base: Path) -> TestCase | None:
    if not path.is_file():
        return None
    parent = path.parent.name
    if parent == "jobs" and path.name.endswith(".test.yaml"):
        kind = "run"
    elif parent in TEMPLATE_DIRS and path.suffix in TEMPLATE_SUFFIXES:
        kind = "check"
    else:
        return None
    try:
        name = str(path.relative_to(base))
    except ValueError:
        name = path.name
    folder = str(Path(name).parent)
    prefix, sep, _ = path.name.partition("--")
    section = prefix if sep and prefix[:1].isdigit() else folder
    return TestCase(
        path=path, name=name, kind=kind, invalid=".invalid." in path.name, folder=folder, section=section
    )


def _matches(case: TestCase, pattern: str) -> bool:
    glob = pattern if any(ch in pattern for ch in "*?[") else f"*{pattern}*"
    return fnmatch.fnmatch(case.name, glob) or fnmatch.fnmatch(case.path.name, glob)
