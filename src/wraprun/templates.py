"""Load job and environment templates and decode them with openjd-model.

Decoding and validation are openjd-model's (its compiled layer, which imports
in a few milliseconds): wraprun only reads the file, says which kind of
template it holds, enables every extension the model supports, and turns the
model's report into one line per problem naming the file and the place.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from openjd import _openjd_rs as rs

SUPPORTED_EXTENSIONS = ("EXPR", "WRAP_ACTIONS", "FEATURE_BUNDLE_1", "REDACTED_ENV_VARS", "TASK_CHUNKING")
JOB_VERSION_PREFIX = "jobtemplate-"
ENV_VERSION_PREFIX = "environment-"
HOST_FUNCTION = "apply_path_mapping"


class TemplateError(ValueError):
    """Invalid input; ``problems`` holds one readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Template:
    path: Path
    kind: str
    """'job' or 'environment'."""
    document: dict[str, Any]
    model: Any
    """openjd-model's JobTemplate or EnvironmentTemplate."""
    extensions: tuple[str, ...] = field(default=())

    def expr_profile(self, path_mapping_rules: list[Any]) -> Any:
        """The expression profile this template's format strings resolve under.

        Host-context functions (``apply_path_mapping``) make every evaluation
        slower, so they are registered only for a template that calls one.
        """
        model = rs.ModelProfile.from_strings(rs.SpecificationRevision.v2023_09, list(self.extensions))
        uses_host = HOST_FUNCTION in json.dumps(self.document)
        host = rs.HostContext.with_rules(path_mapping_rules) if uses_host else rs.HostContext.none()
        return model.to_expr_profile(host)


def read_document(path: Path) -> Any:
    """Parse a YAML or JSON file; errors name the file and the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except json.JSONDecodeError as exc:
        raise TemplateError([f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateError([f"{path}{where}: invalid YAML: {problem}"]) from exc


def load(path: str | Path, expect: str | None = None) -> Template:
    """Read and validate one template; ``expect`` is 'job' or 'environment' when known."""
    path = Path(path)
    document = read_document(path)
    if not isinstance(document, dict):
        raise TemplateError([f"{path}: a template must be a mapping at the top level"])
    version = str(document.get("specificationVersion", ""))
    kind = "environment" if version.startswith(ENV_VERSION_PREFIX) else "job"
    if expect is not None and kind != expect:
        raise TemplateError([f"{path}: specificationVersion: expected a {expect} template, got {version!r}"])
    decode = rs.decode_environment_template if kind == "environment" else rs.decode_job_template
    try:
        model = decode(document, supported_extensions=list(SUPPORTED_EXTENSIONS))
    except ValueError as exc:
        raise TemplateError(format_model_error(path, exc)) from exc
    extensions = document.get("extensions") or ()
    return Template(path, kind, document, model, tuple(str(e) for e in extensions))


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
