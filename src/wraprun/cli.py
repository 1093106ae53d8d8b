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
    check_lines,
    internal_error,
    plan_run_options,
)
from .interrupts import Interrupts, silence_stdout

if TYPE_CHECKING:
    from .parallel import ParallelRun


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wraprun",
        description="Run OpenJD 2023-09 jobs and environments, with WRAP_ACTIONS (RFC 0008).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="validate job or environment templates")
    check.add_argument("files", nargs="+", metavar="FILE")

    run_help = {
        "session": "run a job template in one session",
        "run": "same as 'session'",
        "submit": "run a job on a cluster: each step one job array of sessions (--slurm)",
    }
    for name in ("session", "run", "submit"):
        run = sub.add_parser(name, help=run_help[name])
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
            choices=("human", "jsonl"),
            default="human",
            help="human lines (default) or JSON lines",
        )
        run.add_argument("--preserve", action="store_true", help="keep the session working directory")
        if name in ("session", "run"):
            run.add_argument(
                "--sessions",
                type=_at_least_one,
                default=1,
                metavar="N",
                help="share each step's tasks over N concurrent sessions (default 1)",
            )
        if name == "submit":
            _add_submit_arguments(run)
    status = sub.add_parser("status", help="show (or --wait for) a submission's state")
    status.add_argument("stage_dir", metavar="STAGE_DIR", help="the stage directory of a submission")
    status.add_argument("--wait", action="store_true", help="follow the submission until it ends")

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
            return _check(args.files)
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


def _check(files: Sequence[str]) -> int:
    returncode, lines = check_lines(files)
    for problem, line in lines:
        print(line, file=sys.stderr if problem else sys.stdout)
    return returncode


def _session(args: argparse.Namespace) -> int:
    interrupts = Interrupts()  # before anything is created: no window where a signal kills us
    from . import events, runner

    planned = plan_run_options(args)
    if planned is None:
        return EXIT_INVALID
    if interrupts.count:
        return EXIT_CANCELED  # nothing was created yet

    output_error: list[OSError] = []

    def output_failed(exc: OSError) -> None:
        # Nobody reads what the session says any more: stop it, and tear it down quietly.
        output_error.append(exc)
        silence_stdout()
        interrupts()

    live = args.output == "human" and sys.stdout.isatty()
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
        )
    else:
        sink = (
            events.HumanSink(sys.stdout, output_failed, live=live)
            if args.output == "human"
            else events.JsonLinesSink(sys.stdout, output_failed)
        )
        run = runner.Runner(planned, sink, retain_working_directory=args.preserve)
    interrupts.attach(run.interrupt)
    try:
        outcome = run.run()
    finally:
        interrupts.detach()
        if sink is not None:
            sink.close()
    if output_error and output_error[0].errno != errno.EPIPE:
        reason = output_error[0].strerror
        print(f"wraprun: cannot write the output: {reason}; session canceled", file=sys.stderr)
    if outcome.state == "SUCCEEDED" and not output_error:
        return EXIT_OK
    return EXIT_FAILED if outcome.state == "FAILED" else EXIT_CANCELED


if __name__ == "__main__":
    sys.exit(main())
