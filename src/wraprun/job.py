"""From templates and command-line values to a job: parameters, steps, tasks, scopes.

Parameter merging, type checking, PATH resolution, job creation, the step
dependency graph and the parameter-space iterator are openjd-model's. This
module gathers the user's inputs into the shapes those functions take and
builds the symbol scopes a session resolves actions against.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import rs
from .paths import PathMapping
from .session import Scope
from .templates import Template, TemplateError, parse_json, read_document


class InputError(ValueError):
    """Invalid parameters, task selections or path mapping rules."""


def _read(path: Path) -> Any:
    try:
        return read_document(path)
    except TemplateError as exc:
        raise InputError(str(exc)) from exc


def _json(text: str, where: str) -> Any:
    try:
        return parse_json(text, where)
    except TemplateError as exc:
        raise InputError(str(exc)) from exc


def _describe(value: Any) -> str:
    """What a user gave, in JSON's words."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "text" if isinstance(value, str) else "a number"


def _unwrap(value: Any) -> Any:
    """openjd's own ``{"type": T, "value": V}`` form (type optional) is the value V."""
    if isinstance(value, dict) and "value" in value and set(value) <= {"type", "value"}:
        return value["value"]
    return value


def parse_parameters(values: Sequence[str]) -> dict[str, Any]:
    """``-p`` values: ``KEY=VALUE``, ``file://PATH`` (YAML/JSON mapping) or inline JSON."""
    merged: dict[str, Any] = {}
    for value in values:
        merged.update(_mapping_arg(value, "-p", allow_pair=True))
    return merged


def _mapping_arg(value: str, flag: str, *, allow_pair: bool) -> dict[str, Any]:
    if value.startswith("file://"):
        path = Path(value[len("file://") :])
        document = _read(path)
        if not isinstance(document, dict):
            raise InputError(f"{path}: {flag} file must hold a mapping of names to values")
        return dict(document)
    if value.lstrip().startswith("{"):
        document = _json(value, f"{flag} {_clip(value)!r}")
        if not isinstance(document, dict):
            raise InputError(f"{flag} {_clip(value)!r}: expected a JSON object")
        return document
    name, sep, rest = value.partition("=")
    if not allow_pair or not sep or not name:
        raise InputError(f"{flag} {_clip(value)!r}: expected NAME=VALUE, file://PATH or a JSON object")
    return {name: rest}


def _clip(text: str) -> str:
    """A command-line value short enough to quote in a one-line error."""
    return text if len(text) <= 60 else text[:57] + "..."


def load_path_mapping(value: str | None) -> list[Any]:
    """``--path-mapping-rules``: a pathmapping-1.0 document, file:// or inline JSON."""
    if not value:
        return []
    if value.startswith("file://"):
        path = Path(value[len("file://") :])
        document = _read(path)
        where = str(path)
    else:
        where = "--path-mapping-rules"
        document = _json(value, where)
    if isinstance(document, list):
        rules = document
    elif isinstance(document, dict) and document.get("version") == "pathmapping-1.0":
        rules = document.get("path_mapping_rules", [])
    else:
        raise InputError(f"{where}: expected version 'pathmapping-1.0' with path_mapping_rules")
    # The engine iterates what it is given and reads each rule as a mapping: check both first.
    if not isinstance(rules, list):
        raise InputError(f"{where}: path_mapping_rules: expected a list of rules, got {_describe(rules)}")
    out = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            got = _describe(rule)
            raise InputError(f"{where}: path_mapping_rules[{index}]: expected a mapping, got {got}")
        try:
            out.append(rs.PathMappingRule.from_dict(rule))
        except (TypeError, ValueError, KeyError) as exc:
            raise InputError(f"{where}: path_mapping_rules[{index}]: {exc}") from exc
    return out


@dataclass(frozen=True)
class StepRun:
    """One step to run: its job-side model, its environments, its tasks."""

    step: Any
    script: Any
    """The step's script, held once: the model builds a new wrapper on every attribute access."""
    environments: list[Any]
    """Template-side environments (they carry wrap hooks and script ``let``)."""
    scope: Scope
    tasks: list[dict[str, Any]]


@dataclass(frozen=True)
class JobPlan:
    job: Any
    job_template: Template
    env_templates: list[Template]
    environments: list[tuple[str, Any, Scope]]
    """Session-level environments in entry order: (origin, environment, scope)."""
    steps: list[StepRun]

    def stack_for(self, step: StepRun) -> list[tuple[str, Any]]:
        """The whole environment stack a step's tasks run inside."""
        outer = [(origin, env) for origin, env, _ in self.environments]
        inner = [(f"step '{step.step.name}' environment", env) for env in step.environments]
        return outer + inner


def create(
    job_template: Template,
    env_templates: Sequence[Template],
    parameters: dict[str, Any],
    *,
    cwd: str | None = None,
) -> Any:
    """Validate parameter values and create the job (openjd-model)."""
    envs = [t.model for t in env_templates]
    try:
        parameters = _shaped_parameters([job_template, *env_templates], parameters)
        # openjd-model cannot type an empty Python list (it has no element to infer
        # from) but accepts the JSON text of one, which it parses against the
        # parameter's declared type.
        parameters = {k: ("[]" if v == [] else v) for k, v in parameters.items()}
        values = rs.preprocess_job_parameters(
            job_template=job_template.model,
            job_parameter_values=parameters,
            environment_templates=envs,
            job_template_dir=str(job_template.path.resolve().parent),
            current_working_dir=str(Path(cwd or os.getcwd()).resolve()),
        )
        return rs.create_job(
            job_template=job_template.model, job_parameter_values=values, environment_templates=envs
        )
    except (ValueError, TypeError) as exc:
        raise InputError(f"{job_template.path}: parameters: {exc}") from exc


def _shaped_parameters(templates: Sequence[Template], parameters: dict[str, Any]) -> dict[str, Any]:
    """Each value shaped as its declared type: a scalar, or lists of scalars for LIST types.

    openjd-model quietly uses the default for a mapping it does not understand and turns
    a list into text for a scalar type (a PATH of ``["/a"]``): neither may reach it.
    Names nobody declares are left to openjd-model, which reports them.
    """
    declared: dict[str, str] = {}
    for template in templates:
        for definition in getattr(template.model, "parameter_definitions", None) or ():
            declared.setdefault(str(definition.name), str(definition.type))
    shaped = {}
    for name, given in parameters.items():
        kind = declared.get(name)
        value = given
        if kind is not None and isinstance(given, dict) and given.get("type", kind) == kind:
            value = _unwrap(given)
        lists = (kind or "").count("LIST[")
        # A LIST value may also be the JSON text of one (NAME=VALUE gives text); openjd-model parses it.
        misfit = None if kind is None or (lists and isinstance(value, str)) else _misfit(value, lists)
        if misfit is not None:
            want = f"a list of {'lists of ' * (lists - 1)}single values" if lists else "a single value"
            raise InputError(f"parameter {name!r} is {kind}: expected {want}, got {misfit}")
        shaped[name] = value
    return shaped


def _misfit(value: Any, lists: int) -> str | None:
    """What keeps ``value`` from being ``lists`` levels of lists around single values, if anything."""
    if lists == 0:
        return _describe(value) if isinstance(value, (list, dict)) else None
    if not isinstance(value, list):
        return _describe(value)
    for item in value:
        inner = _misfit(item, lists - 1)
        if inner is not None:
            return f"a list holding {inner}"
    return None


def job_symbols(job: Any, map_path: PathMapping) -> dict[str, Any]:
    """Param.* (PATH values path-mapped), RawParam.* and Job.Name."""
    symbols: dict[str, Any] = {"Job.Name": rs.ExprValue(job.name)}
    for name, parameter in job.parameters.items():
        value = parameter.value
        kind = str(parameter.type)
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


def plan(
    job: Any,
    job_template: Template,
    env_templates: Sequence[Template],
    *,
    rules: Sequence[Any] = (),
    step_name: str | None = None,
    run_dependencies: bool = False,
    task_selection: list[dict[str, Any]] | None = None,
    maximum_tasks: int | None = None,
) -> JobPlan:
    _check_maximum(maximum_tasks, job_template.path)
    rules = list(rules)
    base = job_symbols(job, PathMapping(rules))
    job_profile = job_template.expr_profile(rules)
    environments: list[tuple[str, Any, Scope]] = []
    for template in env_templates:
        environments.append(
            (f"--env {template.path}", template.model.environment, Scope(base, template.expr_profile(rules)))
        )
    job_scope = Scope(base, job_profile)
    for env in job_template.model.job_environments or ():
        environments.append(("job environment", env, job_scope))

    ordered = rs.StepDependencyGraph(job=job).topo_sorted()
    wanted = _select_steps(ordered, step_name, run_dependencies, job_template.path)
    templates = {str(s.name): s for s in job_template.model.steps}
    steps = []
    for step in wanted:
        symbols = dict(base)
        if step.resolved_symtab is not None:
            table = step.resolved_symtab.to_symtab()
            symbols = {name: table[name] for name in table.symbols}
            symbols.update(base)  # session-side values (mapped paths) layer on top
        symbols["Step.Name"] = rs.ExprValue(step.name)
        only_this = task_selection if step_name is None or step.name == step_name else None
        tasks = select_tasks(step, only_this, maximum_tasks, job_template.path)
        step_envs = list(templates[step.name].step_environments or ())
        steps.append(StepRun(step, step.script, step_envs, Scope(symbols, job_profile), tasks))
    return JobPlan(job, job_template, list(env_templates), environments, steps)


def _select_steps(ordered: list[Any], name: str | None, with_deps: bool, where: Path) -> list[Any]:
    if name is None:
        return ordered
    by_name = {s.name: s for s in ordered}
    if name not in by_name:
        raise InputError(f"{where}: --step {name!r}: no such step (steps: {', '.join(by_name)})")
    if not with_deps:
        return [by_name[name]]
    needed = {name}
    for step in reversed(ordered):
        if step.name in needed:
            needed.update(d.depends_on for d in step.dependencies or ())
    return [s for s in ordered if s.name in needed]


def select_tasks(
    step: Any, selection: list[dict[str, Any]] | None, maximum: int | None, where: Path
) -> list[dict[str, Any]]:
    """The tasks of a step, in parameter-space order; ``selection`` picks given ones."""
    _check_maximum(maximum, where)
    if step.parameter_space is None:
        tasks: list[dict[str, Any]] = [{}]
    else:
        tasks = list(rs.StepParameterSpaceIterator(step=step))
    if selection is not None:
        chosen = []
        for wanted in selection:
            match = next((t for t in tasks if _same_task(t, wanted)), None)
            if match is None:
                raise InputError(f"{where}: step '{step.name}': no task with parameters {wanted}")
            chosen.append(match)
        tasks = chosen
    if maximum is not None:
        tasks = tasks[:maximum]
    return tasks


def _check_maximum(maximum: int | None, where: Path) -> None:
    # A slice by 0 or -1 would quietly run no task or drop the last ones.
    if maximum is not None and maximum < 1:
        raise InputError(f"{where}: maximum tasks must be at least 1, got {maximum}")


def maximum_tasks_arg(text: str) -> int:
    """argparse type of ``--maximum-tasks``: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _same_task(task: dict[str, Any], wanted: dict[str, Any]) -> bool:
    if set(task) != set(wanted):
        return False
    return all(task[name].value == _as_text(value) for name, value in wanted.items())


def _as_text(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return str(value)


def parse_tasks(tasks_arg: str | None, task_params: Iterable[str]) -> list[dict[str, Any]] | None:
    """``--tasks`` (JSON list, file://) and ``-tp NAME=VALUE`` (one task)."""
    selection: list[dict[str, Any]] | None = None
    if tasks_arg:
        if tasks_arg.startswith("file://"):
            where = tasks_arg[len("file://") :]
            document = _read(Path(where))
        else:
            where = "--tasks"
            document = _json(tasks_arg, where)
        if not isinstance(document, list) or not all(isinstance(t, dict) for t in document):
            raise InputError(f"{where}: expected a list of objects mapping task parameter names to values")
        for index, task in enumerate(document):
            _check_task(task, f"{where}: task {index}")
        selection = document
    pairs: dict[str, Any] = {}
    for value in task_params:
        pairs.update(_mapping_arg(value, "-tp", allow_pair=True))
    if pairs:
        _check_task(pairs, "-tp")
        selection = (selection or []) + [pairs]
    return selection


def _check_task(task: dict[str, Any], where: str) -> None:
    """Task parameter values are single values (or openjd's ``{"value": V}``), never containers."""
    for name, given in task.items():
        value = _unwrap(given)
        if value is None or isinstance(value, (dict, list)):
            raise InputError(f"{where}: {name!r}: expected a single value, got {_describe(value)}")
