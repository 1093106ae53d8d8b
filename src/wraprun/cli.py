"""Command line: argument parsing and exit codes only; the work is the Python API's.

Exit codes (documented in README.md):
  0 success · 1 an action failed · 2 invalid input · 3 canceled · 4 internal error
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_CANCELED, EXIT_INTERNAL = 0, 1, 2, 3, 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wraprun",
        description="Run OpenJD 2023-09 jobs and environments, with WRAP_ACTIONS (RFC 0008).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="validate job or environment templates")
    check.add_argument("files", nargs="+", metavar="FILE")

    for name in ("session", "run"):
        run = sub.add_parser(
            name,
            help="run a job template in one session" if name == "session" else "same as 'session'",
        )
        run.add_argument("template", metavar="JOB_TEMPLATE")
        run.add_argument(
            "--env",
            action="append",
            default=[],
            metavar="ENV_TEMPLATE",
            help="environment template to enter first (repeatable, outermost first)",
        )
        run.add_argument(
            "-p",
            "--job-param",
            action="append",
            default=[],
            metavar="PARAM",
            help="job parameter: NAME=VALUE, file://PATH (YAML/JSON) or a JSON object",
        )
        run.add_argument("--step", metavar="NAME", help="run only this step")
        run.add_argument(
            "--run-dependencies",
            action="store_true",
            help="with --step: also run the steps it depends on, first",
        )
        run.add_argument("--tasks", metavar="JSON", help="tasks to run: a JSON list or file://PATH")
        run.add_argument(
            "-tp",
            "--task-param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="parameter values of one task to run (repeatable)",
        )
        run.add_argument("--maximum-tasks", type=int, metavar="N", help="run at most N tasks per step")
        run.add_argument(
            "--path-mapping-rules", metavar="RULES", help="pathmapping-1.0 rules: file://PATH or inline JSON"
        )
        run.add_argument(
            "--output",
            choices=("human", "jsonl"),
            default="human",
            help="human lines (default) or JSON lines",
        )
        run.add_argument("--preserve", action="store_true", help="keep the session working directory")

    from .conformance import command as conformance_command  # argparse only; cheap to import

    conformance = sub.add_parser("conformance", help="run an OpenJD conformance suite")
    conformance_command.add_arguments(conformance)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check":
            return _check(args.files)
        if args.command == "conformance":
            from .conformance import command as conformance_command

            return conformance_command.run(args)
        return _session(args)
    except KeyboardInterrupt:
        return EXIT_CANCELED
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into an exit code
        print(f"wraprun: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


def _check(files: Sequence[str]) -> int:
    returncode, lines = check_lines(files)
    for problem, line in lines:
        print(line, file=sys.stderr if problem else sys.stdout)
    return returncode


def check_lines(files: Sequence[str]) -> tuple[int, list[tuple[bool, str]]]:
    """What ``wraprun check FILES`` says: the exit code and (is a problem, line) in order."""
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


def _session(args: Any) -> int:
    from . import events, job, runner, wrap
    from .session import Session
    from .templates import TemplateError, load

    try:
        job_template = load(args.template, expect="job")
        env_templates = [load(path, expect="environment") for path in args.env]
        rules = job.load_path_mapping(args.path_mapping_rules)
        parameters = job.parse_parameters(args.job_param)
        selection = job.parse_tasks(args.tasks, args.task_param)
    except (TemplateError, job.InputError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID

    live = args.output == "human" and sys.stdout.isatty()
    sink: Any = (
        events.HumanSink(sys.stdout, live=live)
        if args.output == "human"
        else events.JsonLinesSink(sys.stdout)
    )
    session = Session(
        callback=sink,
        path_mapping_rules=rules,
        redacted_env_vars=_declares_redaction(job_template, env_templates),
        retain_working_directory=args.preserve,
    )
    try:
        try:
            created = job.create(job_template, env_templates, parameters)
            planned = job.plan(
                created,
                job_template,
                env_templates,
                rules=rules,
                step_name=args.step,
                run_dependencies=args.run_dependencies,
                task_selection=selection,
                maximum_tasks=args.maximum_tasks,
            )
            runner.check_wrap_layers(planned)
        except (job.InputError, wrap.WrapError, TemplateError) as exc:
            print(f"wraprun: {exc}", file=sys.stderr)
            return EXIT_INVALID
        run = runner.Runner(planned, session, sink)
        previous = {
            sig: signal.signal(sig, lambda *_: run.interrupt()) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            outcome = run.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        session.close()
        sink.close()
    if outcome.state == "SUCCEEDED":
        code, summary = EXIT_OK, f"Session succeeded: {outcome.tasks_run} task(s) run."
    elif outcome.state == "CANCELED":
        code, summary = EXIT_CANCELED, "Session canceled."
    else:
        code, summary = EXIT_FAILED, f"Session failed: {outcome.failed}"
    if args.preserve:
        summary += f"\nSession working directory kept: {session.working_directory}"
    if not getattr(sink, "closed", False):
        try:
            print(summary, flush=True)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


def _declares_redaction(job_template: Any, env_templates: Sequence[Any]) -> bool:
    """RFC 0003: openjd_redacted_env sets its variable only where REDACTED_ENV_VARS is declared."""
    return any("REDACTED_ENV_VARS" in t.extensions for t in (job_template, *env_templates))


if __name__ == "__main__":
    sys.exit(main())
