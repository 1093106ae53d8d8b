"""Command line: argument parsing and exit codes only; the work is the Python API's.

Exit codes (documented in README.md, defined in :mod:`wraprun.check`):
  0 success · 1 an action failed · 2 invalid input · 3 canceled · 4 internal error
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .check import (
    EXIT_CANCELED,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    check_command,
    internal_error,
    plan_run_options,
)
from .interrupts import Interrupts, silence_stdout

if TYPE_CHECKING:
    from .parallel import ParallelRun
    from .results import RunRecords


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wraprun",
        description="Run OpenJD 2023-09 jobs and environments, with WRAP_ACTIONS (RFC 0008).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="validate job or environment templates")
    check.add_argument("files", nargs="+", metavar="FILE")
    _add_output(check, ("human", "json", "yaml"), "human")
    _add_extensions(check)
    check.add_argument(
        "--strict", action="store_true", help="also warn as 'lint' does, on stderr; exit 1 on a warning"
    )
    lint = sub.add_parser(
        "lint",
        help="warn about unsafe patterns in valid templates (exit 1 on a warning)",
        description="Warn, one line each (FILE:LINE: PLACE: message (suggestion)), about a job or "
        "user value interpolated raw into code a shell or interpreter parses, a wrap hook that drops "
        "the wrapped action's environment, timeout or cancelation, and WrappedAction.Args or "
        "Environment inside a larger string. Exit status: 0 clean, 1 warnings, 2 invalid template.",
    )
    lint.add_argument("files", nargs="+", metavar="FILE")

    summary = sub.add_parser(
        "summary",
        help="what a job would run: parameters, steps, task counts, environments",
        description="Summarize the job a template makes with the given parameters (nothing runs): "
        "its parameters' values, its steps in order with their dependencies, task parameters and "
        "task (and chunk) counts, and its environments in entry order with the one that wraps.",
    )
    summary.add_argument("template", metavar="JOB_TEMPLATE")
    _add_job_inputs(summary)
    summary.add_argument("--step", metavar="NAME", help="summarize only this step")
    _add_extensions(summary)
    _add_output(summary, ("human", "json", "yaml"), "human")

    schema = sub.add_parser("schema", help="print the JSON Schema of a template version")
    schema.add_argument(
        "--version",
        required=True,
        choices=("jobtemplate-2023-09", "environment-2023-09"),
        help="the specification version to print the JSON Schema of",
    )
    _add_output(schema, ("json", "yaml"), "json")

    run_help = {
        "session": "run a job template in one session",
        "run": "same as 'session'",
        "submit": "run a job on a cluster: each step one job array of sessions (--slurm)",
    }
    for name in ("session", "run", "submit"):
        run = sub.add_parser(name, help=run_help[name], add_help=False)
        run.add_argument(
            "-h",
            "--help",
            action=_JobHelp,
            help="show this help; after JOB_TEMPLATE also that job's parameters and steps "
            "(and with --env before it, each environment template's parameters)",
        )
        run.add_argument("template", metavar="JOB_TEMPLATE")
        _add_job_inputs(run)
        run.add_argument("--step", metavar="NAME", help="run only this step")
        run.add_argument(
            "--run-dependencies",
            action="store_true",
            help="with --step: also run the steps it depends on, first",
        )
        run.add_argument(
            "--no-run-dependencies",
            dest="run_dependencies",
            action="store_false",
            help="with --step: run that step alone (the default; the last of the two given wins)",
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
        run.add_argument(
            "--slice",
            type=_slice,
            metavar="START:STOP",
            help="with --step: only the tasks at positions START..STOP-1 of the step's order (0-based)",
        )
        run.add_argument(
            "--maximum-tasks",
            type=_at_least_one,
            metavar="N",
            help="run at most N tasks per step",
        )
        run.add_argument(
            "--path-mapping-rules", metavar="RULES", help="pathmapping-1.0 rules: file://PATH or inline JSON"
        )
        run.add_argument(
            "--output",
            choices=("human", "jsonl") if name == "submit" else ("human", "jsonl", "json", "yaml"),
            type=_output_name,
            default="human",
            help="human lines (default), JSON lines, or (json, yaml) one result document at the end",
        )
        run.add_argument("--preserve", action="store_true", help="keep the session working directory")
        run.add_argument(
            "--timestamp-format",
            choices=("relative", "local", "utc"),
            help="start each output line with the time: since the start (relative), or ISO 8601 local "
            "or UTC time (human: before a tab; jsonl: a 'time' field)",
        )
        run.add_argument(
            "--verbose",
            action="store_true",
            help="show each action's whole command line (secrets known so far masked), not just its command",
        )
        _add_extensions(run)
        if name in ("session", "run"):
            run.add_argument(
                "--sessions",
                type=_at_least_one,
                default=1,
                metavar="N",
                help="share each step's tasks over N concurrent sessions (default 1)",
            )
            run.add_argument(
                "--report", metavar="FILE.html", help="write an HTML report of the run when it ends"
            )
        if name == "submit":
            _add_submit_arguments(run)
    status = sub.add_parser("status", help="show (or --wait for) a submission's state")
    status.add_argument("stage_dir", metavar="STAGE_DIR", help="the stage directory of a submission")
    status.add_argument("--wait", action="store_true", help="follow the submission until it ends")
    ready = sub.add_parser(
        "templates",
        help="list the ready environment templates (use one: --env NAME)",
        description="One line per ready environment template: its NAME and what it does. "
        "Use one with --env NAME; 'show NAME' prints it, to save and edit.",
    )
    ready_actions = ready.add_subparsers(dest="templates_action", metavar="ACTION")
    show = ready_actions.add_parser("show", help="print a ready template as shipped (to save and edit)")
    show.add_argument("name", metavar="NAME")

    from .conformance import command as conformance_command  # argparse only; cheap to import

    conformance = sub.add_parser("conformance", help="run an OpenJD conformance suite")
    conformance_command.add_arguments(conformance)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    stdout_closed = _standard_streams()
    args = build_parser().parse_args(argv)
    if stdout_closed:
        print("wraprun: standard output is closed; nothing was run", file=sys.stderr)
        return EXIT_INVALID
    try:
        if args.command == "check":
            checked = check_command(args.files, args.output, args.extensions)
            if not args.strict:
                return checked
            from .lint import strict_command

            return strict_command(args.files, args.extensions, checked)
        if args.command == "lint":
            from .lint import lint_command

            return lint_command(args.files)
        if args.command == "summary":
            from . import summary

            return summary.run(args)
        if args.command == "schema":
            from . import schema

            return schema.run(args.version, args.output)
        if args.command == "templates":
            return _templates(args.templates_action, getattr(args, "name", ""))
        if args.command == "conformance":
            from .conformance import command as conformance_command

            return conformance_command.run(args)
        if args.command in ("submit", "status"):
            from . import submit as submit_command

            return submit_command.run(args)
        return _session(args)
    except KeyboardInterrupt:
        return EXIT_CANCELED
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into an exit code
        print(internal_error(exc), file=sys.stderr)
        return EXIT_INTERNAL


class _JobHelp(argparse.Action):
    """``-h``/``--help`` of the run commands: after a job template, that job's help too.

    As with openjd-cli, what comes before ``--help`` counts: the template and any
    ``--env``/``--extensions`` given before it. Only then is a template loaded.
    """

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, "template", None) is None:
            parser.print_help()
            parser.exit()
        from .jobhelp import job_help

        code, text = job_help(
            parser.format_help(),
            namespace.template,
            getattr(namespace, "env", None) or [],
            getattr(namespace, "extensions", None),
        )
        if code:
            parser.exit(code, text)
        sys.stdout.write(text)
        parser.exit()


def _add_submit_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``submit`` beyond the run options it shares with ``run`` (here, not in
    submit.py: building the parser must stay cheap for every command)."""
    parser.description = (
        "Submit a job to a cluster: each step becomes one Slurm job array whose element i runs one "
        "wraprun session over slice i of the step's tasks; step dependencies become afterok "
        "dependencies. Exit status: 0 submitted (with --wait: every task succeeded), 1 a slice "
        "failed, 2 invalid input or sbatch refused (nothing left in Slurm), 3 canceled."
    )
    backend = parser.add_mutually_exclusive_group(required=True)
    backend.add_argument("--slurm", action="store_true", help="one Slurm job array per step")
    parser.add_argument("--partition", metavar="P", help="sbatch --partition")
    parser.add_argument("--account", metavar="A", help="sbatch --account")
    parser.add_argument(
        "--sbatch-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more sbatch argument, as is (repeatable; write --sbatch-arg=--time=10)",
    )
    parser.add_argument(
        "--chunk-size",
        type=_at_least_one,
        metavar="K",
        help="tasks per array element (default: the step's tasks split evenly over at most 64)",
    )
    parser.add_argument(
        "--stage-dir",
        metavar="DIR",
        help="where to stage what every node reads (default: ./wraprun-stage-JOBNAME-TIMESTAMP)",
    )
    parser.add_argument("--wait", action="store_true", help="follow the submission until it ends")


def _add_output(parser: argparse.ArgumentParser, formats: tuple[str, ...], default: str) -> None:
    parser.add_argument(
        "--output",
        choices=formats,
        type=_output_name,
        default=default,
        help=f"how to print the result (default {default})",
    )


def _output_name(text: str) -> str:
    """openjd-cli spells human output ``human-readable``: a user switching over may type that."""
    return "human" if text == "human-readable" else text


def _add_extensions(parser: argparse.ArgumentParser) -> None:
    # The names are not listed here: that would import the model for every --help.
    parser.add_argument(
        "--extensions",
        metavar="LIST",
        help="comma-separated OpenJD extensions a template may declare (default: all wraprun supports)",
    )


def _add_job_inputs(parser: argparse.ArgumentParser) -> None:
    """``--env`` and ``-p``, as the run commands take them."""
    parser.add_argument(
        "--env",
        "--environment",
        action="append",
        default=[],
        metavar="ENV_TEMPLATE",
        help="environment template to enter first: a file, or a ready template's NAME "
        "('wraprun templates'); repeatable, outermost first",
    )
    parser.add_argument(
        "-p",
        "--job-param",
        action="append",
        default=[],
        metavar="PARAM",
        help="job parameter: NAME=VALUE, file://PATH (YAML/JSON) or a JSON object",
    )


def _slice(text: str) -> tuple[int, int]:
    """``--slice START:STOP``: positions START..STOP-1, START < STOP, both at least 0."""
    start, colon, stop = text.partition(":")
    try:
        bounds = (int(start), int(stop)) if colon else (-1, -1)
    except ValueError:
        bounds = (-1, -1)
    if not 0 <= bounds[0] < bounds[1]:
        raise argparse.ArgumentTypeError(f"expected START:STOP with 0 <= START < STOP, got {text!r}")
    return bounds


def _at_least_one(text: str) -> int:
    """``--maximum-tasks``: a whole number, at least 1 (0 or -1 would quietly drop tasks)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _standard_streams() -> bool:
    """Whether stdout was closed when we started (``>&-``).

    Each closed standard descriptor is taken by /dev/null at once, so that no
    pipe or file opened later lands on it and receives what was meant for it.
    """
    stdout_closed = False
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            taken = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor
            if taken != fd:
                os.dup2(taken, fd)
                os.close(taken)
            stdout_closed = stdout_closed or fd == 1
    if sys.stdout is None:
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - as long as the process
    if sys.stderr is None:
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    return stdout_closed


def _templates(action: str | None, name: str) -> int:
    """``templates``: one line per ready template; ``templates show NAME``: its text as shipped."""
    from . import shipped

    ready = shipped.catalog()
    if not ready:
        print(f"wraprun: no ready templates installed (package {shipped.PACKAGE})", file=sys.stderr)
        return EXIT_INVALID
    if action == "show":
        path = shipped.locate(name)
        if path is None:
            known = ", ".join(each for each, _ in ready)
            print(f"wraprun templates show: no ready template {name!r}; ready: {known}", file=sys.stderr)
            return EXIT_INVALID
        sys.stdout.write(path.read_text(encoding="utf-8"))
        return EXIT_OK
    width = max(len(each) for each, _ in ready)
    for each, about in ready:
        print(f"{each:<{width}}  {about}".rstrip())
    return EXIT_OK


def _session(args: argparse.Namespace) -> int:
    interrupts = Interrupts()  # before anything is created: no window where a signal kills us
    from . import events, runner

    planned = plan_run_options(args)
    if planned is None:
        return EXIT_INVALID
    if interrupts.count:
        return EXIT_CANCELED  # nothing was created yet
    records: RunRecords | None = None
    if args.output in ("json", "yaml") or args.report:
        from .results import RunRecords, check_path

        problem = check_path(args.report) if args.report else None
        if problem:
            print(problem, file=sys.stderr)
            return EXIT_INVALID
        records = RunRecords(args.output, args.report)

    output_error: list[OSError] = []

    def output_failed(exc: OSError) -> None:
        # Nobody reads what the session says any more: stop it, and tear it down quietly.
        output_error.append(exc)
        silence_stdout()
        interrupts()

    live = args.output == "human" and sys.stdout.isatty()
    stamp = events.timestamps(args.timestamp_format) if args.timestamp_format else None
    sink: events.HumanSink | events.JsonLinesSink | None = None
    run: runner.Runner | ParallelRun
    if args.sessions > 1:
        from .parallel import ParallelRun

        run = ParallelRun(
            planned,
            args.sessions,
            output=args.output,
            live=live,
            on_output_error=output_failed,
            retain_working_directory=args.preserve,
            record_for=records.recorder if records is not None else None,
            stamp=stamp,
            verbose=args.verbose,
        )
    else:
        from .redact import Redactor

        redactor = Redactor()  # the session's own: the sink masks a whole command line with it
        sink = (
            events.HumanSink(
                sys.stdout, output_failed, live=live, stamp=stamp, verbose=args.verbose, redactor=redactor
            )
            if args.output == "human"
            else events.JsonLinesSink(
                sys.stdout, output_failed, stamp=stamp, verbose=args.verbose, redactor=redactor
            )
            if args.output == "jsonl"
            else None  # json/yaml: the document at the end is all stdout gets
        )
        emit = records.emit(sink) if records is not None else sink
        assert emit is not None  # no sink only for json/yaml, which always record
        run = runner.Runner(planned, emit, retain_working_directory=args.preserve, redactor=redactor)
    interrupts.attach(run.interrupt)
    try:
        outcome = run.run()
    except Exception:
        if records is not None:
            records.finish(run, None)  # a bug: still the document and the report of what ran
        raise
    finally:
        interrupts.detach()
        if sink is not None:
            sink.close()
    kept = records.finish(run, outcome) if records is not None else EXIT_OK
    if output_error and output_error[0].errno != errno.EPIPE:
        reason = output_error[0].strerror
        print(f"wraprun: cannot write the output: {reason}; session canceled", file=sys.stderr)
    if outcome.state == "SUCCEEDED" and not output_error:
        return kept
    return EXIT_FAILED if outcome.state == "FAILED" else EXIT_CANCELED


if __name__ == "__main__":
    sys.exit(main())
