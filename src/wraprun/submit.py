"""``wraprun submit`` and ``wraprun status``: a job's steps as cluster job arrays, and following them.

``submit`` plans the job as ``wraprun run`` does (bad input fails before
anything is staged or submitted), stages what its sessions read, cuts each
step's tasks into slices and hands them to a backend (Slurm: one job array per
step, one session per element). ``status`` reads a submission back from its
stage directory. Both follow it with ``--wait`` until every slice ended; a
signal while following cancels what is left.

Only argparse at import: ``wraprun --help`` builds these parsers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .check import EXIT_CANCELED, EXIT_FAILED, EXIT_INVALID, EXIT_OK, plan_run_options
from .interrupts import Interrupts, silence_stdout

if TYPE_CHECKING:
    from .backends import Slice, SliceState, SliceStatus, StepWork
    from .backends.slurm import SlurmBackend
    from .job import JobPlan
    from .model import TaskParameters

    Command = Callable[[Slice], list[str]]
    """The argv an array element runs for its slice."""

EXIT_UNFINISHED = 5
"""``wraprun status`` without ``--wait``: nothing failed or was canceled, but not everything ended yet."""
ELEMENTS = 64
"""Array elements per step unless ``--chunk-size`` says otherwise: enough to spread over a cluster,
few enough that each session's environment setup is paid for by many tasks."""
POLL_SECONDS = 1.0
CANCEL_GRACE = 120.0
"""How long to follow a canceled submission until its sessions have torn down (Slurm's KillWait
ends them sooner; this only bounds the wait when the controller does not answer)."""


def run(args: argparse.Namespace) -> int:
    return _submit(args) if args.command == "submit" else _status(args)


def _submit(args: argparse.Namespace) -> int:
    signals = Interrupts()
    from .backends.slurm import SbatchOptions, SlurmBackend, SlurmError
    from .errors import WraprunError

    plan = plan_run_options(args)
    if plan is None:
        return EXIT_INVALID
    if shutil.which("sbatch") is None:
        print("wraprun: --slurm needs Slurm's commands (sbatch not found on PATH)", file=sys.stderr)
        return EXIT_INVALID
    work, picks = _work(plan, args.chunk_size)
    if not work:
        print(f"wraprun: {args.template}: no task to submit", file=sys.stderr)
        return EXIT_INVALID
    if signals.count:
        return EXIT_CANCELED  # nothing was staged or submitted yet
    try:
        stage = _stage_directory(args.stage_dir, str(plan.job.name))
        command = _stage(stage, plan, args, picks)
    except (OSError, WraprunError) as exc:
        print(f"wraprun: cannot stage the submission: {exc}", file=sys.stderr)
        return EXIT_INVALID
    options = SbatchOptions(args.partition, args.account, tuple(args.sbatch_arg))
    backend = SlurmBackend(stage, command, options, job_name=str(plan.job.name), show=_say)
    slices = sum(len(w.slices) for w in work)
    _say(f"Submitting job '{plan.job.name}' to Slurm: {len(work)} step(s), {slices} array element(s)")
    _say(f"Staged in {stage}")
    try:
        backend.submit(work)
    except SlurmError as exc:
        print(f"wraprun: {exc}; nothing of this submission is left in Slurm", file=sys.stderr)
        return EXIT_INVALID
    ids = " ".join(backend.job_ids)
    if signals.count:
        _cancel(backend)
        return EXIT_CANCELED
    _say(f"Submitted {len(backend.job_ids)} job array(s): {ids}")
    if not args.wait:
        _say(f"Follow it: wraprun status {stage} --wait; cancel it: scancel {ids}")
        return EXIT_OK
    return _follow(backend, signals)


def _status(args: argparse.Namespace) -> int:
    signals = Interrupts()
    from .backends.slurm import SlurmBackend, SlurmError

    try:
        backend = SlurmBackend.attach(Path(args.stage_dir))
    except SlurmError as exc:
        print(f"wraprun: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.wait:
        return _follow(backend, signals)
    statuses = backend.poll()
    if backend.squeue_error:
        print(f"wraprun: {backend.squeue_error} (states from the exit files only)", file=sys.stderr)
    return _report(backend, statuses)


@dataclass(frozen=True)
class _Pick:
    """How one element's session picks its slice's tasks when ``--slice START:STOP`` cannot say it."""

    tasks: list[dict[str, str]] | None = None
    """The selected tasks of the slice (``--tasks``), staged as a file."""
    maximum: int | None = None
    """``--maximum-tasks``: the chunk limit of a step whose chunks adapt (sizes are made as it runs)."""


def _work(plan: JobPlan, chunk_size: int | None) -> tuple[list[StepWork], dict[Slice, _Pick]]:
    """Each step's slices and the steps it waits on; and how the odd slices pick their tasks.

    A slice is positions of the step's task (or chunk) order, what ``--slice``
    takes; of a task selection, positions in the selection. A step waits on the
    steps it depends on that are submitted with it (``--step`` alone runs one
    step, as ``wraprun run`` does). A step with no task to run (an empty
    ``--tasks``) is left out: only the step ``--step`` names can be one, and no
    step submitted with it depends on it.
    """
    from .backends import Slice, StepWork, split
    from .chunking import AdaptiveChunks
    from .job import TaskSpace

    work: list[StepWork] = []
    picks: dict[Slice, _Pick] = {}
    for step in plan.steps:
        name, tasks, count = str(step.step.name), step.tasks, len(step.tasks)
        if not count:
            continue
        submitted = {w.step for w in work}
        after = tuple(d.depends_on for d in step.step.dependencies or () if d.depends_on in submitted)
        parts = min(count, ELEMENTS)
        pieces = split(name, count, size=chunk_size) if chunk_size else split(name, count, parts)
        if isinstance(tasks, AdaptiveChunks):
            span = tasks.positions
            if tasks.limit is not None:  # how far N chunks reach is known only as they run
                pieces = (Slice(name, span.start, span.stop),)
                picks[pieces[0]] = _Pick(maximum=tasks.limit)
            else:
                pieces = tuple(Slice(name, span[p.start], span[p.stop - 1] + 1) for p in pieces)
        elif isinstance(tasks, TaskSpace) and isinstance(tasks.indices, range):  # a run of the step's order
            span = tasks.indices
            pieces = tuple(Slice(name, span[p.start], span[p.stop - 1] + 1) for p in pieces)
        else:  # picked tasks (--tasks, -tp)
            for p in pieces:
                picks[p] = _Pick(tasks=[_values(tasks[i]) for i in range(p.start, p.stop)])
        work.append(StepWork(name, pieces, after))
    return work, picks


def _values(task: TaskParameters) -> dict[str, str]:
    return {name: str(value.value) for name, value in task.items()}


def _stage_directory(given: str | None, job_name: str) -> Path:
    """``--stage-dir`` (new or empty), or a new ``./wraprun-stage-JOBNAME-TIMESTAMP``."""
    if given:
        stage = Path(given)
        if stage.exists() and any(stage.iterdir()):
            raise FileExistsError(f"{stage}: not empty (a stage directory holds one submission)")
        stage.mkdir(parents=True, exist_ok=True)
        return stage.resolve()
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in job_name).strip(".") or "job"
    base = Path.cwd() / f"wraprun-stage-{safe}-{datetime.now():%Y%m%d-%H%M%S}"
    for attempt in range(1, 100):
        stage = base if attempt == 1 else base.with_name(f"{base.name}-{attempt}")
        try:
            stage.mkdir()
            return stage
        except FileExistsError:
            continue
    raise FileExistsError(f"{base}: taken")


def _stage(stage: Path, plan: JobPlan, args: argparse.Namespace, picks: dict[Slice, _Pick]) -> Command:
    """Copy what every element's session reads into ``stage``; the command line of a slice.

    Parameters are staged as the job's resolved values (a relative PATH default is
    resolved against the job template's directory, which the staged copy is not in).
    """
    from .inputs import FILE

    templates = stage / "templates"
    templates.mkdir()
    job_copy = templates / f"job-{plan.job_template.path.name}"
    shutil.copyfile(plan.job_template.path, job_copy)
    common: list[str] = []
    for position, env in enumerate(plan.env_templates, 1):
        env_copy = templates / f"env-{position}-{env.path.name}"
        shutil.copyfile(env.path, env_copy)
        common += ["--env", str(env_copy)]
    values = {name: str(parameter.value) for name, parameter in plan.job.parameters.items()}
    if values:
        (stage / "parameters.json").write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
        common += ["-p", f"{FILE}{stage / 'parameters.json'}"]
    rules: str | None = args.path_mapping_rules
    if rules:
        if rules.startswith(FILE):
            rules_copy = stage / f"path-mapping{Path(rules[len(FILE) :]).suffix}"
            shutil.copyfile(rules[len(FILE) :], rules_copy)
        else:
            rules_copy = stage / "path-mapping.json"
            rules_copy.write_text(rules, encoding="utf-8")
        common += ["--path-mapping-rules", f"{FILE}{rules_copy}"]
    if args.extensions is not None:  # '=': the list may be empty (no extension accepted)
        common.append(f"--extensions={args.extensions}")
    if args.timestamp_format:  # each element's log: times relative to its own session's start
        common.append(f"--timestamp-format={args.timestamp_format}")
    if args.verbose:
        common.append("--verbose")
    common += (["--output", args.output] if args.output != "human" else []) + (
        ["--preserve"] if args.preserve else []
    )
    ordinal = {str(step.step.name): position for position, step in enumerate(plan.steps)}
    chosen: dict[Slice, list[str]] = {}
    for piece, pick in picks.items():
        if pick.tasks is not None:
            path = stage / "tasks" / f"{ordinal[piece.step]}-{piece.start}-{piece.stop}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(pick.tasks) + "\n", encoding="utf-8")
            chosen[piece] = [f"--tasks={FILE}{path}"]
        else:
            chosen[piece] = [f"--slice={piece.start}:{piece.stop}", f"--maximum-tasks={pick.maximum}"]
    session = [sys.executable, "-m", "wraprun", "session", str(job_copy)]

    def command(piece: Slice) -> list[str]:
        which = chosen.get(piece) or [f"--slice={piece.start}:{piece.stop}"]
        return [*session, f"--step={piece.step}", *which, *common]  # '=': a name may start with '-'

    return command


# -- following a submission ------------------------------------------------------------------


def _follow(backend: SlurmBackend, signals: Interrupts) -> int:
    """Poll until every slice ended: a live line on a terminal, a plain line per change on a pipe.

    The first signal cancels every array of the submission and follows it until
    its sessions have torn down; a second stops following at once.
    """
    from .backends import TERMINAL
    from .statusline import StatusLine

    live = sys.stdout.isatty()
    line = StatusLine(_write, live)
    shown, problem, canceled_at = "", "", 0.0
    while True:
        statuses = backend.poll()
        if backend.squeue_error and backend.squeue_error != problem:
            line.clear()
            print(f"wraprun: {backend.squeue_error} (trying again)", file=sys.stderr)
        problem = backend.squeue_error
        text = _progress(statuses)
        if text != shown and live:
            line.show(text)
        elif text != shown:
            _say(text)
        shown = text
        if all(status.state in TERMINAL for status in statuses):
            break
        if signals.count and not canceled_at:
            line.clear()
            _cancel(backend)
            canceled_at = time.monotonic()
        if signals.count > 1 or (canceled_at and time.monotonic() - canceled_at > CANCEL_GRACE):
            break
        _sleep(POLL_SECONDS, signals)
    line.clear()
    code = _report(backend, statuses)
    return EXIT_CANCELED if canceled_at else code


def _cancel(backend: SlurmBackend) -> None:
    from .backends.slurm import SlurmError

    _say(f"wraprun: canceling the submission: scancel {' '.join(backend.job_ids)}")
    try:
        backend.cancel()
    except SlurmError as exc:
        print(f"wraprun: {exc}", file=sys.stderr)


def _sleep(seconds: float, signals: Interrupts) -> None:
    """Sleep, but wake within a tenth of a second of a signal."""
    end, seen = time.monotonic() + seconds, signals.count
    while time.monotonic() < end and signals.count == seen:
        time.sleep(0.1)


def _counts(statuses: Sequence[SliceStatus]) -> dict[str, dict[SliceState, int]]:
    """Per step, in submission order: how many of its slices are in each state."""
    counts: dict[str, dict[SliceState, int]] = {}
    for status in statuses:
        step = counts.setdefault(status.slice.step, {})
        step[status.state] = step.get(status.state, 0) + 1
    return counts


_WORDS: tuple[tuple[SliceState, str], ...] = (
    ("RUNNING", "running"),
    ("PENDING", "pending"),
    ("FAILED", "failed"),
    ("CANCELED", "canceled"),
)


def _step_summary(counts: dict[SliceState, int]) -> str:
    total = sum(counts.values())
    parts = [f"{counts.get('SUCCEEDED', 0)}/{total} done"]
    parts += [f"{counts[state]} {word}" for state, word in _WORDS if counts.get(state)]
    return ", ".join(parts)


def _progress(statuses: Sequence[SliceStatus]) -> str:
    return " | ".join(f"{step} {_step_summary(counts)}" for step, counts in _counts(statuses).items())


def _report(backend: SlurmBackend, statuses: Sequence[SliceStatus]) -> int:
    """The per-step summary, the log of every slice that failed, and the exit code they make."""
    from .backends import TERMINAL

    for step, counts in _counts(statuses).items():
        array = next((a.job_id for a in backend.arrays if a.step == step), "")
        _say(f"Step {step} (job array {array}): {_step_summary(counts)}")
    for status in statuses:
        if status.state == "FAILED":
            code = backend.exit_code(status)
            how = f"exit code {code}" if code is not None else "ended without recording an exit code"
            _say(f"Slice {status.slice} failed ({how}): see {status.log}")
    states = {status.state for status in statuses}
    if "FAILED" in states:
        _say(f"Submission '{backend.job_name}' failed.")
        return EXIT_FAILED
    if "CANCELED" in states:
        _say(f"Submission '{backend.job_name}' was canceled.")
        return EXIT_CANCELED
    if not states <= TERMINAL:
        _say(f"Submission '{backend.job_name}' is not finished.")
        return EXIT_UNFINISHED
    _say(f"Submission '{backend.job_name}' succeeded: all {len(statuses)} slice(s).")
    return EXIT_OK


def _say(text: str) -> None:
    _write(text + "\n")


def _write(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError:
        # Nobody reads us any more (| head ended, the disk is full): as when the terminal
        # closes, a SIGHUP cancels what is left. Later output goes nowhere, quietly.
        silence_stdout()
        os.kill(os.getpid(), signal.SIGHUP)


__all__ = ["ELEMENTS", "EXIT_UNFINISHED", "run"]
