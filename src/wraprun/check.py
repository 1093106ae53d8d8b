"""What ``wraprun check`` says, and the exit codes every face of wraprun shares.

Below the CLI and the conformance runner, which both check templates and
report a bug the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .job import JobPlan

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_CANCELED, EXIT_INTERNAL = 0, 1, 2, 3, 4
"""0 success · 1 an action failed · 2 invalid input · 3 canceled · 4 internal error (README)."""


def check_lines(files: Sequence[str]) -> tuple[int, list[tuple[bool, str]]]:
    """The exit code of checking ``files``, and (is a problem, line) for each, in order."""
    from .templates import TemplateError, load

    status = EXIT_OK
    lines: list[tuple[bool, str]] = []
    for name in files:
        try:
            template = load(name)
        except TemplateError as exc:
            lines += [(True, problem) for problem in exc.problems]
            status = EXIT_INVALID
            continue
        lines.append((False, f"{name}: valid {template.kind} template"))
    return status, lines


def internal_error(exc: BaseException) -> str:
    """The one line a bug is reported with."""
    return f"wraprun: internal error: {type(exc).__name__}: {exc}"


def plan_run_options(args: argparse.Namespace) -> JobPlan | None:
    """The run options ``run``, ``session`` and ``submit`` share, as a job plan: nothing runs.

    None after one line per problem on stderr (exit with ``EXIT_INVALID``).
    """
    from . import inputs, job
    from .errors import WraprunError
    from .wrap import WrapError

    try:
        request = job.Request(
            template=args.template,
            env_templates=args.env,
            parameters=inputs.parse_parameters(args.job_param),
            path_mapping_rules=inputs.load_path_mapping(args.path_mapping_rules),
            step=args.step,
            run_dependencies=args.run_dependencies,
            tasks=inputs.parse_tasks(args.tasks, args.task_param),
            maximum_tasks=args.maximum_tasks,
            part=args.slice,
        )
        return job.plan_request(request)
    except WraprunError as exc:  # each names its file or flag already; a stack error gets our name
        print(f"wraprun: {exc}" if isinstance(exc, WrapError) else str(exc), file=sys.stderr)
        return None
