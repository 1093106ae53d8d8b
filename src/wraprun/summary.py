"""``wraprun summary``: what a job would run, planned exactly as ``wraprun run`` plans it.

Nothing runs and no task is made: counts come from the length of openjd-model's
random-access iterator over each step's parameter space, so a step of millions
of tasks is summarized as fast as one of three. Keys shared with openjd-cli's
``summary`` (status, message, name, parameter_definitions, total_steps,
total_tasks, total_environments, root_environments, steps[].name, ...) mean
what they mean there; wraprun's own (dependencies, total_chunks, chunks,
wraps, wrapped_by, ...) sit beside them. Every key is always present (null or
an empty list when there is nothing), so a reader need not guess.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .check import EXIT_INVALID, EXIT_OK, render
from .chunking import AdaptiveChunks
from .job import JobPlan, StepRun
from .model import Environment, rs
from .wrap import HOOKS, find_wrapper


def run(args: argparse.Namespace) -> int:
    """``wraprun summary``: the document (or human lines) on stdout; bad input on stderr, exit 2."""
    from . import inputs, job
    from .errors import WraprunError
    from .templates import parse_extensions
    from .wrap import WrapError

    try:
        request = job.Request(
            template=args.template,
            env_templates=args.env,
            parameters=inputs.parse_parameters(args.job_param),
            step=args.step,
            extensions=parse_extensions(args.extensions),
        )
        plan = job.plan_request(request)
    except WraprunError as exc:  # each names its file or flag already; a stack error gets our name
        problems = getattr(exc, "problems", None) or [str(exc)]
        lines = [f"wraprun: {p}" if isinstance(exc, WrapError) else p for p in problems]
        for line in lines:
            print(line, file=sys.stderr)
        if args.output != "human":
            error = {"status": "error", "message": "\n".join(lines), "problems": lines}
            sys.stdout.write(render(error, args.output))
        return EXIT_INVALID
    document = summarize(plan, args.step)
    sys.stdout.write(human(document) if args.output == "human" else render(document, args.output))
    return EXIT_OK


def summarize(plan: JobPlan, step: str | None = None) -> dict[str, Any]:
    """The summary document of a planned job (``step``: the one step it was planned for)."""
    name = str(plan.job.name)
    # The session-level environments are the --env templates' (in order), then the job's.
    paths = [str(t.path) for t in plan.env_templates]
    roots = [
        _environment(env, "root", paths[index] if index < len(paths) else None)
        for index, (_, env, _) in enumerate(plan.environments)
    ]
    steps = [_step(plan, each) for each in plan.steps]
    return {
        "status": "success",
        "message": f"Summary for Step '{step}' in Job '{name}'" if step else f"Summary for '{name}'",
        "name": name,
        "parameter_definitions": _parameters(plan),
        "total_steps": len(steps),
        "total_tasks": sum(s["total_tasks"] for s in steps),
        "total_environments": len(roots) + sum(len(s["environments"]) for s in steps),
        "root_environments": roots,
        "steps": steps,
    }


def _parameters(plan: JobPlan) -> list[dict[str, Any]]:
    """Job parameters with their resolved values, in the order the templates define them."""
    described: dict[str, str | None] = {}
    for template in (plan.job_template, *plan.env_templates):
        for definition in getattr(template.model, "parameter_definitions", None) or ():
            described.setdefault(str(definition.name), definition.description)
    values = plan.job.parameters
    order = [n for n in described if n in values] + [n for n in values if n not in described]
    return [
        {
            "name": n,
            "description": described.get(n),
            "type": str(values[n].type),
            "value": values[n].value.item(),
        }
        for n in order
    ]


def _step(plan: JobPlan, step: StepRun) -> dict[str, Any]:
    model = step.step
    space = model.parameter_space
    definitions = space.task_parameter_definitions if space is not None else {}
    # One task per value combination, whatever the chunking (openjd-cli's count).
    tasks = 1
    if space is not None:
        tasks = len(rs.StepParameterSpaceIterator(step=model, chunks_task_count_override=1))
    chunks: dict[str, Any] | None = None
    total_chunks: int | None = None
    for parameter_name, parameter in definitions.items():
        if isinstance(parameter, rs.ChunkIntTaskParameter):
            adaptive = isinstance(step.tasks, AdaptiveChunks)
            total_chunks = None if adaptive else len(step.tasks)
            chunks = {
                "parameter": parameter_name,
                "default_task_count": parameter.chunks.default_task_count,
                "target_runtime_seconds": parameter.chunks.target_runtime_seconds,
                "range_constraint": str(parameter.chunks.range_constraint),
                "adaptive": adaptive,
            }
    stack = plan.stack_for(step)
    wrapper = find_wrapper(stack)
    return {
        "name": str(model.name),
        "description": model.description,
        "dependencies": [str(d.depends_on) for d in model.dependencies or ()],
        "parameter_definitions": [{"name": n, "type": p.type.as_str()} for n, p in definitions.items()],
        "total_tasks": tasks,
        "total_chunks": total_chunks,
        "chunks": chunks,
        "environments": [_environment(env, str(model.name)) for env in step.environments],
        "wrapped_by": None if wrapper is None else str(stack[wrapper][1].name),
    }


def _environment(env: Environment, parent: str, template: str | None = None) -> dict[str, Any]:
    actions = env.script.actions if env.script is not None else None
    hooks = [hook for hook in HOOKS if getattr(actions, hook, None) is not None]
    return {
        "name": str(env.name),
        "description": env.description,
        "parent": parent,
        "template": template,
        "wraps": bool(hooks),
        "wrap_hooks": hooks,
    }


def human(document: dict[str, Any]) -> str:
    """Plain lines: the job, its parameters, its steps in order, its environments in entry order."""
    lines = [f"Job '{document['name']}'"]
    if document["parameter_definitions"]:
        lines.append("Parameters:")
        for p in document["parameter_definitions"]:
            lines.append(f"  {p['name']} ({p['type']}) = {_text(p['value'])}")
    totals = (document["total_steps"], document["total_tasks"], document["total_environments"])
    lines.append("Steps: {}; tasks: {}; environments: {}".format(*totals))
    for position, step in enumerate(document["steps"], 1):
        lines.append(f"Step {position} '{step['name']}': {_count(step)}")
        if step["dependencies"]:
            lines.append(f"  depends on: {', '.join(step['dependencies'])}")
        if step["parameter_definitions"]:
            shown = ", ".join(f"{p['name']} ({p['type']})" for p in step["parameter_definitions"])
            lines.append(f"  task parameters: {shown}")
        if step["environments"]:
            lines.append(f"  environments: {', '.join(e['name'] for e in step['environments'])}")
        if step["wrapped_by"]:
            lines.append(f"  tasks wrapped by: {step['wrapped_by']}")
    environments = document["root_environments"] + [e for s in document["steps"] for e in s["environments"]]
    if environments:
        lines.append("Environments, in entry order:")
        for position, env in enumerate(environments, 1):
            where = (
                f"--env {env['template']}"
                if env["template"]
                else "job environment"
                if env["parent"] == "root"
                else f"step '{env['parent']}' environment"
            )
            wraps = f"; wraps ({', '.join(env['wrap_hooks'])})" if env["wraps"] else ""
            lines.append(f"  {position}. {env['name']} ({where}){wraps}")
    return "".join(line + "\n" for line in lines)


def _count(step: dict[str, Any]) -> str:
    tasks = _plural(step["total_tasks"], "task")
    chunks = step["chunks"]
    if chunks is None:
        return tasks
    size = chunks["default_task_count"]
    if chunks["adaptive"]:
        return (
            f"{tasks} in chunks sized while running (first chunk {_plural(size, 'task')}, "
            f"target {chunks['target_runtime_seconds']} s a chunk; {chunks['parameter']} CHUNK[INT])"
        )
    shown = _plural(step["total_chunks"], "chunk")
    return f"{tasks} in {shown} of up to {size} ({chunks['parameter']} CHUNK[INT])"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _text(value: Any) -> str:
    """A value on one line: a newline in it would start a line of its own."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("\r", "\\r").replace("\n", "\\n")
