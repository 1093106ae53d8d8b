"""``wraprun run JOB --help``: the run options' help, then what that job takes.

The job's parameters (type, default or required, constraints, description),
its steps (dependencies, task parameters) and, for each ``--env`` given before
``--help``, that environment template's parameters. Everything shown is read
from openjd-model's decoded templates, loaded as a run loads them (so a ready
template's NAME resolves too). Nothing is created or run: values given with
``-p`` are not checked here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .check import EXIT_INVALID, EXIT_OK
from .errors import WraprunError
from .templates import Template, load, parse_extensions

INDENT = "  "
DETAIL = "      "
"""Where a parameter's description and a step's details start: under the name, set off."""


def job_help(
    options_help: str, template: str, env_templates: Sequence[str], extensions: str | None
) -> tuple[int, str]:
    """The exit code and the text: the help, or one line naming what is wrong (exit 2)."""
    try:
        accepted = parse_extensions(extensions)
        job = load(template, expect="job", extensions=accepted)
        envs = [load(path, "environment", accepted) for path in env_templates]
    except WraprunError as exc:
        return EXIT_INVALID, _one_line(exc, template) + "\n"
    lines = [options_help.rstrip("\n"), "", *job_lines(job)]
    for env in envs:
        lines += ["", *environment_lines(env)]
    return EXIT_OK, "\n".join(lines) + "\n"


def _one_line(exc: WraprunError, template: str) -> str:
    """The first problem; how many more there are, and where to see them all."""
    problems = getattr(exc, "problems", None) or [str(exc)]
    first = " ".join(str(problems[0]).split())
    more = len(problems) - 1
    return f"{first} (and {more} more: wraprun check {template})" if more else first


def job_lines(template: Template) -> list[str]:
    job = template.job
    lines = [f"Job '{job.name}' ({template.path})"]
    lines += _described(job.description, INDENT)
    lines += ["", *_parameters("Job parameters", job.parameter_definitions)]
    lines += ["", "Steps (--step NAME):"]
    for step in job.steps:
        after = [str(d.depends_on) for d in step.dependencies or ()]
        lines.append(f"{INDENT}{step.name}" + (f" (depends on: {', '.join(after)})" if after else ""))
        lines += _described(step.description, DETAIL)
        lines += _task_parameters(step.parameter_space)
    return lines


def environment_lines(template: Template) -> list[str]:
    environment = template.environment
    lines = [f"Environment '{environment.environment.name}' ({template.path})"]
    lines += _described(environment.description, INDENT)
    return [*lines, "", *_parameters("Environment parameters", environment.parameter_definitions)]


def _parameters(title: str, definitions: Sequence[Any] | None) -> list[str]:
    if not definitions:
        return [f"{title}: none"]
    lines = [f"{title} (-p NAME=VALUE):"]
    for definition in definitions:
        lines.append(INDENT + parameter_line(definition))
        lines += _described(definition.description, DETAIL)
    return lines


def parameter_line(definition: Any) -> str:
    """``Name (TYPE) [default: VALUE]`` or ``[required]``, then its constraints in parentheses."""
    kind = str(definition.type)
    default = definition.default
    line = f"{definition.name} ({kind}) " + (
        "[required]" if default is None else f"[default: {_value(default)}]"
    )
    constraints = _constraints(definition, kind)
    return line + (f" ({'; '.join(constraints)})" if constraints else "")


def _constraints(definition: Any, kind: str) -> list[str]:
    found: list[str] = []
    low, high = getattr(definition, "min_value", None), getattr(definition, "max_value", None)
    if low is not None or high is not None:
        found.append(_bounds("", low, high, ""))
    shortest, longest = getattr(definition, "min_length", None), getattr(definition, "max_length", None)
    if shortest is not None or longest is not None:
        unit = " item(s)" if kind.startswith("LIST") else " character(s)"
        found.append(_bounds(" length", shortest, longest, unit))
    allowed = getattr(definition, "allowed_values", None)
    if allowed:
        found.append("allowed: " + ", ".join(_value(v) for v in allowed))
    for label, attribute in (("object type", "object_type"), ("data flow", "data_flow")):
        value = getattr(definition, attribute, None)
        if value is not None:
            found.append(f"{label}: {value}")
    return found


def _bounds(what: str, low: object, high: object, unit: str) -> str:
    """``range: 1 to 5``, ``minimum length: 2 character(s)``, ``maximum: 9``."""
    if low is not None and high is not None:
        return f"{'range' if not what else what.strip()}: {low} to {high}{unit}"
    return f"minimum{what}: {low}{unit}" if low is not None else f"maximum{what}: {high}{unit}"


def _task_parameters(space: Any) -> list[str]:
    if space is None:
        return [f"{DETAIL}one task (no task parameters)"]
    lines = [f"{DETAIL}task parameters (-tp NAME=VALUE):"]
    for definition in space.task_parameter_definitions:
        text = f"{DETAIL}{INDENT}{definition.name} ({definition.type}): {_range(definition.range)}"
        chunks = getattr(definition, "chunks", None)
        if chunks is not None:
            text += f" (chunks: defaultTaskCount {_text(chunks.default_task_count)}"
            if chunks.target_runtime_seconds is not None:
                text += f", targetRuntimeSeconds {_text(chunks.target_runtime_seconds)}"
            text += f", rangeConstraint {chunks.range_constraint})"
        lines.append(text)
    if space.combination:
        lines.append(f"{DETAIL}combination: {space.combination}")
    return lines


def _range(values: Any) -> str:
    """A task parameter's range: a list of values, or the text of a range expression."""
    if isinstance(values, list):
        return ", ".join(_value(_text(v)) if not isinstance(v, (int, float)) else str(v) for v in values)
    return _text(values)


def _text(value: Any) -> str:
    """A template's text as written (a format string's source, expressions unresolved)."""
    raw = getattr(value, "raw", None)
    return str(raw()) if callable(raw) else str(value)


def _value(value: Any) -> str:
    """A value as it reads in a template: text quoted (escaped when it holds a line break or a
    control character), true/false, lists in brackets."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        plain = value.isprintable() and "'" not in value
        return f"'{value}'" if plain else json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _described(description: str | None, indent: str) -> list[str]:
    """A description, each of its lines indented (it may span several)."""
    if not description:
        return []
    return [f"{indent}{line}".rstrip() for line in description.strip("\n").splitlines()]
