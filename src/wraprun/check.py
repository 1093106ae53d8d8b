"""What ``wraprun check`` says, and the exit codes every face of wraprun shares.

Below the CLI and the conformance runner, which both check templates and
report a bug the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import JobPlan

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_CANCELED, EXIT_INTERNAL = 0, 1, 2, 3, 4
"""0 success · 1 an action failed · 2 invalid input · 3 canceled · 4 internal error (README)."""


@dataclass(frozen=True)
class Checked:
    """What checking one file found: its kind when valid, else one line per problem."""

    path: str
    kind: str | None
    problems: tuple[str, ...] = ()

    @property
    def lines(self) -> list[tuple[bool, str]]:
        """(is a problem, line): what ``check`` prints for this file."""
        if self.problems:
            return [(True, problem) for problem in self.problems]
        return [(False, f"{self.path}: valid {self.kind} template")]

    def document(self) -> dict[str, Any]:
        """openjd-cli's ``{status, message}``, with the file, its kind and the problems."""
        message = "\n".join(line for _, line in self.lines)
        status = "error" if self.problems else "success"
        return {
            "status": status,
            "message": message,
            "path": self.path,
            "kind": self.kind,
            "problems": list(self.problems),
        }


def check_files(files: Sequence[str], extensions: Sequence[str] | None = None) -> list[Checked]:
    """Check each file in order; ``extensions``: those accepted (None: all wraprun supports)."""
    from .templates import TemplateError, load

    results: list[Checked] = []
    for name in files:
        try:
            template = load(name, extensions=extensions)
        except TemplateError as exc:
            results.append(Checked(name, None, tuple(exc.problems)))
            continue
        results.append(Checked(name, template.kind))
    return results


def check_lines(
    files: Sequence[str], extensions: Sequence[str] | None = None
) -> tuple[int, list[tuple[bool, str]]]:
    """The exit code of checking ``files``, and (is a problem, line) for each, in order."""
    results = check_files(files, extensions)
    status = EXIT_INVALID if any(r.problems for r in results) else EXIT_OK
    return status, [line for result in results for line in result.lines]


def check_document(results: Sequence[Checked]) -> dict[str, Any]:
    """``check --output json|yaml``: one file's document, or for several an overall
    ``{status, message, results: [one per file, in order]}``."""
    if len(results) == 1:
        return results[0].document()
    invalid = sum(1 for r in results if r.problems)
    return {
        "status": "error" if invalid else "success",
        "message": f"{len(results) - invalid} of {len(results)} templates valid",
        "results": [r.document() for r in results],
    }


def check_command(files: Sequence[str], output: str, extensions: str | None) -> int:
    """``wraprun check``: problems on stderr; valid lines (human) or the document on stdout."""
    from .templates import TemplateError, parse_extensions

    try:
        accepted = parse_extensions(extensions)
    except TemplateError as exc:
        return usage_error(exc.problems[0], output)
    results = check_files(files, accepted)
    for result in results:
        for problem, line in result.lines:
            if problem or output == "human":
                print(line, file=sys.stderr if problem else sys.stdout)
    if output != "human":
        sys.stdout.write(render(check_document(results), output))
    return EXIT_INVALID if any(r.problems for r in results) else EXIT_OK


def usage_error(line: str, output: str) -> int:
    """Bad input before any work: the line on stderr and, for json or yaml, an error document."""
    print(line, file=sys.stderr)
    if output != "human":
        sys.stdout.write(render({"status": "error", "message": line}, output))
    return EXIT_INVALID


def render(document: Any, output: str) -> str:
    """``document`` as JSON or YAML text (yaml is imported only when asked for)."""
    if output == "yaml":
        import yaml

        text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        return text
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def internal_error(exc: BaseException) -> str:
    """The one line a bug is reported with."""
    return f"wraprun: internal error: {type(exc).__name__}: {exc}"


def plan_run_options(args: argparse.Namespace) -> JobPlan | None:
    """The run options ``run``, ``session`` and ``submit`` share, as a job plan: nothing runs.

    None after one line per problem on stderr (exit with ``EXIT_INVALID``).
    """
    from . import inputs, job
    from .errors import WraprunError
    from .templates import parse_extensions
    from .wrap import WrapError

    if getattr(args, "timestamp_format", None) and args.output not in ("human", "jsonl"):
        # One document at the end has no lines to stamp; saying so beats ignoring the option.
        print(
            f"wraprun: --timestamp-format stamps lines: use --output human or jsonl, not {args.output}",
            file=sys.stderr,
        )
        return None
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
            extensions=parse_extensions(args.extensions),
        )
        return job.plan_request(request)
    except WraprunError as exc:  # each names its file or flag already; a stack error gets our name
        print(f"wraprun: {exc}" if isinstance(exc, WrapError) else str(exc), file=sys.stderr)
        return None
