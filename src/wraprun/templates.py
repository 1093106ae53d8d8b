"""Load job and environment templates and decode them with openjd-model.

Decoding and validation are openjd-model's (its compiled layer, which imports
in a few milliseconds): wraprun only reads the file, says which kind of
template it holds, enables every extension the model supports, and turns the
model's report into one line per problem naming the file and the place.
The file itself is read by :mod:`wraprun.documents`, which lets only
bounded, JSON-shaped documents through.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import shipped
from .documents import TemplateError, read_document
from .model import rs

SUPPORTED_EXTENSIONS = ("EXPR", "WRAP_ACTIONS", "FEATURE_BUNDLE_1", "REDACTED_ENV_VARS", "TASK_CHUNKING")
JOB_VERSION_PREFIX = "jobtemplate-"
ENV_VERSION_PREFIX = "environment-"
HOST_FUNCTION = "apply_path_mapping"

__all__ = ["Template", "TemplateError", "format_model_error", "load", "parse_extensions", "read_document"]


@dataclass(frozen=True)
class Template:
    path: Path
    kind: str
    """'job' or 'environment'."""
    document: dict[str, Any]
    model: rs.JobTemplate | rs.EnvironmentTemplate
    """openjd-model's JobTemplate or EnvironmentTemplate."""
    extensions: tuple[str, ...] = field(default=())

    @property
    def job(self) -> rs.JobTemplate:
        """The model of a job template (``load(..., expect="job")`` made sure it is one)."""
        if not isinstance(self.model, rs.JobTemplate):
            raise TemplateError([f"{self.path}: not a job template"])
        return self.model

    @property
    def environment(self) -> rs.EnvironmentTemplate:
        """The model of an environment template."""
        if not isinstance(self.model, rs.EnvironmentTemplate):
            raise TemplateError([f"{self.path}: not an environment template"])
        return self.model

    def expr_profile(self, path_mapping_rules: Sequence[rs.PathMappingRule]) -> rs.ExprProfile:
        """The expression profile this template's format strings resolve under.

        Host-context functions (``apply_path_mapping``) make every evaluation
        slower, so they are registered only for a template that calls one.
        """
        model = rs.ModelProfile.from_strings(rs.SpecificationRevision.v2023_09, list(self.extensions))
        uses_host = HOST_FUNCTION in json.dumps(self.document)
        host = rs.HostContext.with_rules(path_mapping_rules) if uses_host else rs.HostContext.none()
        return model.to_expr_profile(host)


def load(path: str | Path, expect: str | None = None, extensions: Sequence[str] | None = None) -> Template:
    """Read and validate one template; ``expect`` is 'job' or 'environment' when known;
    ``extensions`` are those the runtime accepts (``--extensions``; default all it supports).

    Other than a job template, it may be named by a ready template's name (``--env docker``):
    the one place every caller (run, check, submit, job help) resolves such names.
    """
    path = Path(path) if expect == "job" else _environment_path(path, expect)
    document = read_document(path)
    if not isinstance(document, dict):
        raise TemplateError([f"{path}: a template must be a mapping at the top level"])
    version = str(document.get("specificationVersion", ""))
    kind = "environment" if version.startswith(ENV_VERSION_PREFIX) else "job"
    if expect is not None and kind != expect:
        article = "an" if expect == "environment" else "a"
        raise TemplateError(
            [f"{path}: specificationVersion: expected {article} {expect} template, got {version!r}"]
        )
    decode = rs.decode_environment_template if kind == "environment" else rs.decode_job_template
    try:
        accepted = SUPPORTED_EXTENSIONS if extensions is None else extensions
        model = decode(document, supported_extensions=list(accepted))
    except ValueError as exc:
        raise TemplateError(format_model_error(path, exc)) from exc
    declared = document.get("extensions") or ()
    return Template(path, kind, document, model, tuple(str(e) for e in declared))


def _environment_path(value: str | Path, expect: str | None) -> Path:
    """An existing file as given, else the ready template a bare name names. A missing one is
    refused with the ready names (by ``check``, whose kind is unknown, only for a bare name)."""
    path = shipped.resolve(value)
    if not os.path.lexists(path) and (expect == "environment" or shipped.is_name(value)):
        ready = ", ".join(shipped.names()) or "none installed"
        missing = os.strerror(errno.ENOENT)
        raise TemplateError([f"{value}: cannot read: {missing}; ready templates by name: {ready}"])
    return path


def parse_extensions(text: str | None) -> tuple[str, ...] | None:
    """``--extensions LIST``: comma-separated names (any case), each one wraprun supports;
    None when not given (all of them). An empty list accepts no extension."""
    if text is None:
        return None
    names = tuple(dict.fromkeys(name.strip().upper() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in SUPPORTED_EXTENSIONS]
    if unknown:
        supported = ",".join(SUPPORTED_EXTENSIONS)
        raise TemplateError([f"--extensions: unsupported: {', '.join(unknown)} (supported: {supported})"])
    return names


_HEADER = re.compile(r"^\d+ validation errors? for \w+$")


def format_model_error(path: Path, exc: BaseException) -> list[str]:
    """One line per problem from openjd-model's multi-line validation report.

    The report reads ``N validation errors for X`` then, per problem, a place
    (``steps[0] -> script -> actions:``) and a tab-indented message whose later
    lines point at the expression; the first message line is what a person needs.
    """
    lines = [line for line in str(exc).splitlines() if line.strip()]
    if not lines or not _HEADER.match(lines[0]):
        return [f"{path}: {' '.join(line.strip() for line in lines) or type(exc).__name__}"]
    problems: list[str] = []
    place = ""
    for line in lines[1:]:
        if line.startswith("\t"):
            problems.append(f"{path}: {place}: {line.strip()}")
        elif not line.startswith(" ") and line.endswith(":"):
            place = line[:-1]
    return problems or [f"{path}: {lines[0]}"]
