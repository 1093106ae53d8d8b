"""Find conformance tests laid out in the public format.

``<version>/<component>/{job_templates,env_templates,jobs}/``: template files
(``*.yaml``, ``*.json``) are checked, ``*.test.yaml`` bundles in ``jobs/`` are
run, and ``.invalid.`` in a name means the implementation must reject it. A
root may be a whole suite, a version or component folder, or one file.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from .models import TestCase

TEMPLATE_FOLDERS = ("job_templates", "env_templates")
TEMPLATE_SUFFIXES = (".yaml", ".json")
BUNDLE_SUFFIX = ".test.yaml"


def discover(roots: Iterable[Path], pattern: str | None = None) -> list[TestCase]:
    """Every test under ``roots`` (each file once), sorted by name, filtered by ``-k``."""
    cases: dict[Path, TestCase] = {}
    for root in roots:
        root = root.resolve()
        explicit = root.is_file()
        for path in [root] if explicit else sorted(root.rglob("*")):
            case = case_for(path, explicit)
            if case is not None and (pattern is None or matches(case, pattern)):
                cases.setdefault(path, case)
    return sorted(cases.values(), key=lambda case: case.name)


def case_for(path: Path, explicit: bool = False) -> TestCase | None:
    """The test a file is, or None when the layout says it is none.

    A file named on the command line (``explicit``) is taken by its name alone,
    so one bundle or template can be run from anywhere.
    """
    if not path.is_file():
        return None
    folder = path.parent.name
    kind: Literal["check", "run"]
    if path.name.endswith(BUNDLE_SUFFIX) and (explicit or folder == "jobs"):
        kind = "run"
    elif path.suffix in TEMPLATE_SUFFIXES and (explicit or folder in TEMPLATE_FOLDERS):
        kind = "check"
    else:
        return None
    # The name starts at the version folder (three levels up), wherever the
    # suite was entered from, so names and filters are the same for every root.
    parts = path.parts[-4:]
    prefix, dashes, _ = path.name.partition("--")
    return TestCase(
        path=path,
        name="/".join(parts),
        kind=kind,
        invalid=".invalid." in path.name,
        folder="/".join(parts[:-1]),
        section=prefix if dashes else "",
    )


def matches(case: TestCase, pattern: str) -> bool:
    """``-k``: an fnmatch glob against the name or the file name; a plain word matches as a substring."""
    glob = pattern if any(ch in pattern for ch in "*?[") else f"*{pattern}*"
    return fnmatch.fnmatchcase(case.name, glob) or fnmatch.fnmatchcase(case.path.name, glob)
