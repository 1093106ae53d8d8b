"""From templates and command-line values to a job: parameters, steps, tasks, scopes.

Parameter merging, type checking, PATH resolution, job creation, the step
dependency graph and the parameter-space iterator are openjd-model's. This
module gathers the user's inputs into the shapes those functions take and
builds the symbol scopes a session resolves actions against.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from . import symbols as symbols_of
from . import wrap
from .actions import Scope
from .chunking import AdaptiveChunks, adaptive, static_iterator
from .inputs import InputError, describe, unwrap
from .model import Environment, TaskParameters, rs
from .paths import PathMapping
from .templates import Template, load


@dataclass(frozen=True)
class StepRun:
    """One step to run: its job-side model, its environments, its tasks."""

    step: rs.Step
    script: rs.StepScript
    """The step's script, held once: the model builds a new wrapper on every attribute access."""
    environments: list[Environment]
    """Template-side environments (they carry wrap hooks and script ``let``)."""
    scope: Scope
    tasks: Sequence[TaskParameters] | AdaptiveChunks
    """Its tasks in order; for a CHUNK[INT] with targetRuntimeSeconds, chunks made while it runs."""


@dataclass(frozen=True)
class JobPlan:
    job: rs.Job
    job_template: Template
    env_templates: list[Template]
    environments: list[tuple[str, Environment, Scope]]
    """Session-level environments in entry order: (origin, environment, scope)."""
    steps: list[StepRun]
    path_mapping_rules: list[rs.PathMappingRule] = field(default_factory=list)

    @property
    def declares_redaction(self) -> bool:
        """RFC 0003: openjd_redacted_env sets its variable only where REDACTED_ENV_VARS is declared."""
        templates = (self.job_template, *self.env_templates)
        return any("REDACTED_ENV_VARS" in t.extensions for t in templates)

    def stack_for(self, step: StepRun) -> list[tuple[str, Environment]]:
        """The whole environment stack a step's tasks run inside."""
        outer = [(origin, env) for origin, env, _ in self.environments]
        inner = [(f"step '{step.step.name}' environment", env) for env in step.environments]
        return outer + inner


@dataclass(frozen=True)
class Request:
    """What to run: the files and values a user gives (the run options of the CLI)."""

    template: str | Path
    env_templates: Sequence[str | Path] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    path_mapping_rules: Sequence[rs.PathMappingRule] = ()
    step: str | None = None
    run_dependencies: bool = False
    tasks: list[dict[str, Any]] | None = None
    maximum_tasks: int | None = None
    part: tuple[int, int] | None = None
    """With ``step``: only the tasks at positions [start, stop) of the step's order (a slice)."""
    extensions: Sequence[str] | None = None
    """The extensions the templates may declare (``--extensions``); None: all wraprun supports."""


def plan_request(request: Request) -> JobPlan:
    """Load the templates, create the job, plan its steps, check its wrap layers: nothing runs.

    Raises :class:`~wraprun.errors.WraprunError` (a template, input or wrap error) for bad input.
    """
    if request.part is not None and request.step is None:
        raise InputError(f"{request.template}: a slice of tasks (--slice) needs the step it is of (--step)")
    job_template = load(request.template, expect="job", extensions=request.extensions)
    env_templates = [load(path, "environment", request.extensions) for path in request.env_templates]
    created = create(job_template, env_templates, request.parameters)
    planned = plan(
        created,
        job_template,
        env_templates,
        rules=request.path_mapping_rules,
        step_name=request.step,
        run_dependencies=request.run_dependencies,
        task_selection=request.tasks,
        maximum_tasks=request.maximum_tasks,
        part=request.part,
    )
    check_wrap_layers(planned)
    return planned


def check_wrap_layers(plan: JobPlan) -> None:
    """RFC 0008: reject a session stack with two wrapping environments before entering any."""
    if not plan.steps:
        wrap.find_wrapper([(origin, env) for origin, env, _ in plan.environments])
    for step in plan.steps:
        wrap.find_wrapper(plan.stack_for(step))


def create(
    job_template: Template,
    env_templates: Sequence[Template],
    parameters: dict[str, Any],
    *,
    cwd: str | None = None,
) -> rs.Job:
    """Validate parameter values and create the job (openjd-model)."""
    envs = [t.environment for t in env_templates]
    try:
        parameters = _shaped_parameters([job_template, *env_templates], parameters)
        # openjd-model cannot type an empty Python list (it has no element to infer
        # from) but accepts the JSON text of one, which it parses against the
        # parameter's declared type.
        parameters = {k: ("[]" if v == [] else v) for k, v in parameters.items()}
        values = rs.preprocess_job_parameters(
            job_template=job_template.job,
            job_parameter_values=parameters,
            environment_templates=envs,
            job_template_dir=str(job_template.path.resolve().parent),
            current_working_dir=str(Path(cwd or os.getcwd()).resolve()),
        )
        return rs.create_job(
            job_template=job_template.job, job_parameter_values=values, environment_templates=envs
        )
    except (ValueError, TypeError) as exc:
        # One line, whatever the model quotes: a value may itself hold a newline.
        message = str(exc).strip().replace("\r", "\\r").replace("\n", "\\n")
        raise InputError(f"{job_template.path}: parameters: {message}") from exc


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
            value = unwrap(given)
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
        return describe(value) if isinstance(value, (list, dict)) else None
    if not isinstance(value, list):
        return describe(value)
    for item in value:
        inner = _misfit(item, lists - 1)
        if inner is not None:
            return f"a list holding {inner}"
    return None


def job_symbols(job: rs.Job, map_path: PathMapping) -> dict[str, rs.ExprValue]:
    """Param.* (PATH values path-mapped), RawParam.* and Job.Name."""
    values = {name: (str(p.type), p.value) for name, p in job.parameters.items()}
    return {"Job.Name": rs.ExprValue(job.name), **symbols_of.parameters(values, map_path)}


def plan(
    job: rs.Job,
    job_template: Template,
    env_templates: Sequence[Template],
    *,
    rules: Sequence[rs.PathMappingRule] = (),
    step_name: str | None = None,
    run_dependencies: bool = False,
    task_selection: list[dict[str, Any]] | None = None,
    maximum_tasks: int | None = None,
    part: tuple[int, int] | None = None,
) -> JobPlan:
    _check_maximum(maximum_tasks, job_template.path)
    rules = list(rules)
    base = job_symbols(job, PathMapping(rules))
    job_profile = job_template.expr_profile(rules)
    environments: list[tuple[str, Environment, Scope]] = []
    for template in env_templates:
        scope = Scope(base, template.expr_profile(rules))
        environments.append((f"--env {template.path}", template.environment.environment, scope))
    job_scope = Scope(base, job_profile)
    for env in job_template.job.job_environments or ():
        environments.append(("job environment", env, job_scope))

    ordered = rs.StepDependencyGraph(job=job).topo_sorted()
    wanted = _select_steps(ordered, step_name, run_dependencies, job_template.path)
    templates = {str(s.name): s for s in job_template.job.steps}
    steps = []
    for step in wanted:
        symbols = dict(base)
        if step.resolved_symtab is not None:
            table = step.resolved_symtab.to_symtab()
            symbols = {name: table[name] for name in table.symbols}
            symbols.update(base)  # session-side values (mapped paths) layer on top
        symbols["Step.Name"] = rs.ExprValue(step.name)
        only_this = step_name is None or step.name == step_name
        selection, sliced = (task_selection, part) if only_this else (None, None)
        tasks = select_tasks(step, selection, maximum_tasks, job_template.path, sliced)
        step_envs: list[Environment] = list(templates[step.name].step_environments or [])
        steps.append(StepRun(step, step.script, step_envs, Scope(symbols, job_profile), tasks))
    return JobPlan(job, job_template, list(env_templates), environments, steps, rules)


def _select_steps(ordered: list[rs.Step], name: str | None, with_deps: bool, where: Path) -> list[rs.Step]:
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


class TaskSpace(Sequence[TaskParameters]):
    """Some of a step's tasks (or chunks), in parameter-space order, read on demand.

    openjd-model's iterator over a parameter space has random access, so a
    step of millions of tasks is never materialised: planning and memory do
    not grow with the number of tasks.
    """

    def __init__(self, space: rs.StepParameterSpaceIterator | None, indices: range | list[int]) -> None:
        self.space = space
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    @overload
    def __getitem__(self, index: int) -> TaskParameters: ...
    @overload
    def __getitem__(self, index: slice) -> TaskSpace: ...
    def __getitem__(self, index: int | slice) -> TaskParameters | TaskSpace:
        if isinstance(index, slice):
            return TaskSpace(self.space, self.indices[index])
        position = self.indices[index]
        return {} if self.space is None else self.space[position]


def select_tasks(
    step: rs.Step,
    selection: list[dict[str, Any]] | None,
    maximum: int | None,
    where: Path,
    part: tuple[int, int] | None = None,
) -> TaskSpace | AdaptiveChunks:
    """The tasks of a step, in parameter-space order; ``selection`` picks given ones,
    ``part`` the positions [start, stop) of that order (a slice another session does not run).

    A step whose chunks adapt to a target runtime gives its tasks one by one as
    positions, chunked while they run (:mod:`wraprun.chunking`), unless tasks are
    picked: those run as given, chunks of ``defaultTaskCount``."""
    _check_maximum(maximum, where)
    if selection is None and step.parameter_space is not None and adaptive(step):
        chunks = AdaptiveChunks.of(step)
        if part is not None:
            chunks = chunks[part[0] : part[1]]
        return chunks if maximum is None else chunks.limited(maximum)
    space = None if step.parameter_space is None else static_iterator(step)
    tasks = TaskSpace(space, range(1 if space is None else len(space)))
    if part is not None:
        tasks = tasks[part[0] : part[1]]
    if selection is not None:
        tasks = TaskSpace(space, [_find(step, space, tasks.indices, wanted, where) for wanted in selection])
    if maximum is not None:
        tasks = tasks[:maximum]
    return tasks


def _find(
    step: rs.Step,
    space: rs.StepParameterSpaceIterator | None,
    positions: range | list[int],
    wanted: dict[str, Any],
    where: Path,
) -> int:
    """The position of the task with ``wanted``'s values: one pass, stopping at the match
    (openjd-model's own iteration, about a microsecond a task; nothing is kept)."""
    if space is None:
        if _same_task({}, wanted):
            return 0
    elif set(wanted) == space.names:
        texts = [(name, _as_text(value)) for name, value in wanted.items()]
        direct = _computed_position(step, space, dict(texts))
        if direct is not None and direct in positions:
            return direct
        if direct is not None:  # absent (-1), or outside the slice
            raise InputError(f"{where}: step '{step.name}': no task with parameters {wanted}")
        walk = static_iterator(step)  # its own cursor
        for position, task in enumerate(walk):
            if all(task[name].value == text for name, text in texts) and position in positions:
                return position
    raise InputError(f"{where}: step '{step.name}': no task with parameters {wanted}")


def _computed_position(
    step: rs.Step, space: rs.StepParameterSpaceIterator, texts: dict[str, str]
) -> int | None:
    """Where a task sits when the step has no ``combination``: the product of its parameters
    in the order they are defined, the last varying fastest. The answer is checked against
    openjd-model's own iterator, so a wrong guess only costs the one-pass search instead;
    -1 when a value is not in its parameter's range (no such task in a product); None for
    what this cannot compute (a combination expression, chunks, an unexpected order)."""
    parameter_space = step.parameter_space
    if parameter_space is None or parameter_space.combination is not None:
        return None
    definitions = parameter_space.task_parameter_definitions
    position = 0
    for name, definition in definitions.items():
        values = definition.range
        if definition.type.name not in ("STRING", "PATH", "INT"):
            return None  # FLOAT and CHUNK[INT] texts have more than one spelling: the iterator decides
        if isinstance(values, rs.RangeExpr):  # INT: increasing (Template Schemas 3.4.1.1.1)
            try:
                target = int(texts[name])
            except ValueError:
                return -1
            index = bisect.bisect_left(range(len(values)), target, key=values.__getitem__)
            if index == len(values) or values[index] != target or str(target) != texts[name]:
                return -1
        else:
            index = next((i for i, value in enumerate(values) if str(value) == texts[name]), -1)
            if index < 0:
                return -1
        position = position * len(values) + index
    if position >= len(space):
        return None
    task = space[position]
    return position if all(task[name].value == text for name, text in texts.items()) else None


def _check_maximum(maximum: int | None, where: Path) -> None:
    # A slice by 0 or -1 would quietly run no task or drop the last ones.
    if maximum is not None and maximum < 1:
        raise InputError(f"{where}: maximum tasks must be at least 1, got {maximum}")


def _same_task(task: TaskParameters, wanted: dict[str, Any]) -> bool:
    if set(task) != set(wanted):
        return False
    return all(task[name].value == _as_text(value) for name, value in wanted.items())


def _as_text(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return str(value)
