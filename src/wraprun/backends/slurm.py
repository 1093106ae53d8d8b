"""Slurm: each step one job array, each array element one slice of the step's tasks in one session.

Scheduling is Slurm's own: queues, placement, priorities, retries, accounting.
wraprun writes, per step, a script whose array element ``i`` runs the command
of line ``i`` of its table (``wraprun session ... --step S --slice A:B``), submits
it with ``sbatch --array``, and turns step dependencies into
``--dependency=afterok:<arrays>`` with ``--kill-on-invalid-dep=yes``: Slurm
starts a dependent array only when every element of those arrays exited 0,
and drops it (state CANCELLED) when one did not, instead of leaving it
pending forever.

A stage directory (every node must read it at the same path) holds::

    manifest.json               what was submitted: per step its array id, the steps it waits
                                on, the exact sbatch command line, its slices and their logs
    steps/<step>.sh             the step's array script
    logs/<step>-<a>-<b>.log     the output of the element that ran slice [a, b)
    logs/<step>-<a>-<b>.exit    that element's exit code, written when its session ended
    logs/by-index/<step>-<i>.log   a link to the slice's log: ``--output`` only knows ``%a``

State is read without accounting (slurmdbd is optional, and often absent):
``squeue --states=all`` knows a job until ``MinJobAge`` after it ended; the
exit files say how every element that ran ended, however long ago; an
element with neither never started (a dependency failed, or it was canceled).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import WraprunError
from . import Backend, Slice, SliceState, SliceStatus, StepWork

MANIFEST = "manifest.json"
FORMAT = "wraprun-slurm-1"
TIMEOUT = 60.0
"""Seconds a Slurm command may take: a busy controller answers slowly, not never."""

# squeue's long state names (squeue(1), JOB STATE CODES) as slice states; an element that
# reached a final state is read from its exit file first, see SlurmBackend._state.
_WAITING = {
    "PENDING",
    "CONFIGURING",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "RESV_DEL_HOLD",
    "SPECIAL_EXIT",
}
_RUNNING = {"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "STOPPED", "RESIZING"}
_ENDED: dict[str, SliceState] = {"COMPLETED": "SUCCEEDED", "CANCELLED": "CANCELED"}
"""Every other final state (FAILED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, ...) is FAILED."""

_CANCELED_EXIT = 3
"""What ``wraprun session`` exits with when it was canceled (SIGTERM from scancel or a time limit)."""


class SlurmError(WraprunError):
    """A Slurm command failed (the message holds what it said)."""


@dataclass(frozen=True)
class SbatchOptions:
    """What the submitter passes through to every ``sbatch``: the rest of Slurm is Slurm's."""

    partition: str | None = None
    account: str | None = None
    extra: tuple[str, ...] = ()


@dataclass
class _Element:
    index: int
    start: int
    stop: int
    log: str
    """Relative to the stage directory, like every path in the manifest."""
    exit: str


@dataclass
class _Array:
    step: str
    after: list[str]
    script: str
    elements: list[_Element]
    sbatch: list[str] = field(default_factory=list)
    job_id: str = ""


class SlurmBackend:
    """The :class:`~wraprun.backends.Backend` of one submission, kept in its stage directory.

    ``command(slice)`` is the argv an array element runs for that slice; ``show``
    receives each sbatch command line, quoted for a shell, just before it runs.
    """

    def __init__(
        self,
        stage: Path,
        command: Callable[[Slice], Sequence[str]] | None = None,
        options: SbatchOptions = SbatchOptions(),
        *,
        job_name: str = "",
        show: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.stage = stage.resolve()
        self.command = command
        self.options = options
        self.job_name = job_name
        self.show = show
        self.arrays: list[_Array] = []
        self.squeue_error = ""
        """What the last ``squeue`` said when it failed; empty when it answered."""
        self._last: dict[tuple[str, int], SliceState] = {}

    @classmethod
    def attach(cls, stage: Path) -> SlurmBackend:
        """The submission staged in ``stage``, from its manifest (``wraprun status``)."""
        path = stage / MANIFEST
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} manifest")
            backend = cls(stage, job_name=str(document["job"]))
            for entry in document["steps"]:
                elements = [_Element(**element) for element in entry.pop("elements")]
                backend.arrays.append(_Array(elements=elements, **entry))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SlurmError(f"{path}: not a wraprun submission: {exc}") from exc
        return backend

    # -- submit ---------------------------------------------------------------------------

    def submit(self, work: Sequence[StepWork]) -> None:
        """One ``sbatch --array`` per step, in order (a step's ``after`` must come before it).

        When sbatch refuses one, the arrays already submitted are canceled and
        :class:`SlurmError` says why: a submission is whole or nothing.
        """
        if self.command is None:
            raise SlurmError("this submission was attached from its manifest: it cannot submit more")
        names = _file_names([w.step for w in work])
        for directory in ("steps", "logs/by-index"):
            (self.stage / directory).mkdir(parents=True, exist_ok=True)
        try:
            for step in work:
                array = self._write_array(step, names[step.step])
                self.arrays.append(array)
                array.sbatch = self._sbatch(array, names[step.step])
                self.show(shlex.join(array.sbatch))
                array.job_id = _run(array.sbatch).split(";")[0].strip()  # --parsable: ID[;CLUSTER]
                self._write_manifest()  # after each: what was submitted can always be found again
        except BaseException as exc:
            # Half a submission is worse than none (KeyboardInterrupt too).
            try:
                self.cancel()
            except SlurmError as also:
                raise SlurmError(f"{exc}; canceling what was submitted failed too: {also}") from exc
            raise

    def _write_array(self, step: StepWork, name: str) -> _Array:
        assert self.command is not None
        elements = []
        table = []
        for index, piece in enumerate(step.slices):
            base = f"{name}-{piece.start}-{piece.stop}"
            element = _Element(index, piece.start, piece.stop, f"logs/{base}.log", f"logs/{base}.exit")
            elements.append(element)
            # Slurm opens --output by path, so it follows the link and writes the named log.
            link = self.stage / "logs" / "by-index" / f"{name}-{index}.log"
            link.unlink(missing_ok=True)
            link.symlink_to(Path("..") / f"{base}.log")
            argv = shlex.join(self.command(piece))
            table.append(f"{index}) slice={shlex.quote(base)}; set -- {argv} ;;")
        script = Path("steps") / f"{name}.sh"
        (self.stage / script).write_text(_script(self.stage, step.step, table), encoding="utf-8")
        (self.stage / script).chmod(0o755)
        return _Array(step.step, list(step.after), str(script), elements)

    def _sbatch(self, array: _Array, name: str) -> list[str]:
        ids = {a.step: a.job_id for a in self.arrays}
        missing = [step for step in array.after if not ids.get(step)]
        if missing:
            raise SlurmError(f"step {array.step!r} waits on {missing}, which were not submitted before it")
        # '%' starts a Slurm file name pattern: a literal one in the stage path is '%%'.
        output = str(self.stage / "logs" / "by-index").replace("%", "%%") + f"/{name}-%a.log"
        argv = ["sbatch", "--parsable", f"--job-name={self.job_name}/{array.step}"]
        argv.append(f"--array=0-{len(array.elements) - 1}")
        argv.append(f"--output={output}")
        if array.after:
            argv.append("--dependency=afterok:" + ":".join(ids[step] for step in array.after))
            argv.append("--kill-on-invalid-dep=yes")
        if self.options.partition:
            argv.append(f"--partition={self.options.partition}")
        if self.options.account:
            argv.append(f"--account={self.options.account}")
        return [*argv, *self.options.extra, str(self.stage / array.script)]

    def _write_manifest(self) -> None:
        document = {
            "format": FORMAT,
            "job": self.job_name,
            "stage": str(self.stage),
            "submitted": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "steps": [asdict(array) for array in self.arrays],
        }
        temporary = self.stage / f"{MANIFEST}.tmp"
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        temporary.replace(self.stage / MANIFEST)  # a reader never sees half of one

    # -- watch and cancel -----------------------------------------------------------------

    @property
    def job_ids(self) -> list[str]:
        return [array.job_id for array in self.arrays if array.job_id]

    def poll(self) -> list[SliceStatus]:
        """Every element's state: Slurm's word while it knows the job, else the element's exit file."""
        known = self._squeue()
        statuses = []
        for array in self.arrays:
            for element in array.elements:
                state = self._state(array, element, known)
                self._last[(array.step, element.index)] = state
                piece = Slice(array.step, element.start, element.stop)
                statuses.append(SliceStatus(piece, state, str(self.stage / element.log)))
        return statuses

    def exit_code(self, status: SliceStatus) -> int | None:
        """The exit code the slice's element recorded, if it recorded one."""
        return _read_exit(Path(status.log).with_suffix(".exit"))

    def cancel(self) -> None:
        """``scancel`` every array of the submission: running elements get SIGTERM (their sessions
        tear down, within Slurm's KillWait), pending ones are dropped, finished ones stay as they are."""
        if self.job_ids:
            _run(["scancel", *self.job_ids])

    def _squeue(self) -> dict[tuple[str, int], str] | None:
        """(array id, element index) -> Slurm state, for every element Slurm still knows; None
        when squeue could not answer (the controller is down or busy: try again later)."""
        self.squeue_error = ""
        if not self.job_ids:
            return {}
        argv = ["squeue", "--noheader", "--array", "--states=all", "--format=%F|%K|%T"]
        try:
            out = _run([*argv, "--jobs=" + ",".join(self.job_ids)])
        except SlurmError as exc:
            if "Invalid job id" in str(exc):
                return {}  # every one of them ended more than MinJobAge ago
            self.squeue_error = str(exc)
            return None
        known = {}
        for line in out.splitlines():
            job_id, _, rest = line.partition("|")
            index, _, state = rest.partition("|")
            if index.isdigit():
                # A requeued element shows its state with a reason: "PENDING", or "CANCELLED by 0".
                known[(job_id, int(index))] = state.split()[0] if state else ""
        return known

    def _state(
        self, array: _Array, element: _Element, known: dict[tuple[str, int], str] | None
    ) -> SliceState:
        code = _read_exit(self.stage / element.exit)
        if known is None:  # no word from Slurm: what the element wrote, else what we saw last
            return (
                _from_exit(code)
                if code is not None
                else self._last.get((array.step, element.index), "PENDING")
            )
        slurm = known.get((array.job_id, element.index))
        if slurm in _WAITING or slurm in _RUNNING:
            # Its exit file is written just before the element exits: trust it first.
            if code is not None:
                return _from_exit(code)
            return "PENDING" if slurm in _WAITING else "RUNNING"
        if slurm is not None:
            if slurm == "FAILED" and code is not None:
                return _from_exit(code)  # a canceled session exits 3: the job is FAILED to Slurm
            return _ENDED.get(slurm, "FAILED")
        if code is not None:
            return _from_exit(code)
        # Slurm forgot it (MinJobAge) and it wrote no exit file: it never started, or it was killed.
        return "FAILED" if (self.stage / element.log).exists() else "CANCELED"


def _from_exit(code: int) -> SliceState:
    return "SUCCEEDED" if code == 0 else "CANCELED" if code == _CANCELED_EXIT else "FAILED"


def _read_exit(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _run(argv: list[str]) -> str:
    """Run a Slurm command; its stdout, or :class:`SlurmError` with what it said.

    In a session of its own: a Ctrl-C at the terminal reaches wraprun, which then
    decides, not sbatch halfway through a submission.
    """
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=TIMEOUT, start_new_session=True, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SlurmError(f"{argv[0]}: {exc}") from exc
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout).split()) or f"exit code {done.returncode}"
        raise SlurmError(f"{argv[0]} failed: {said}")
    return done.stdout


def _file_names(steps: Sequence[str]) -> dict[str, str]:
    """Each step's name as a file name: letters, digits, '.', '_' and '-' kept, unique."""
    names: dict[str, str] = {}
    for position, step in enumerate(steps):
        name = re.sub(r"[^A-Za-z0-9._-]", "_", step).lstrip(".") or "step"
        if name in names.values():
            name = f"{name}.{position}"
        names[step] = name
    return names


def _script(stage: Path, step: str, table: list[str]) -> str:
    """The array script of one step. Element i runs line i of the table in one session, then
    records its exit code beside its log, so its end is known after Slurm forgets the job."""
    logs = shlex.quote(str(stage / "logs"))
    body = "\n".join(f"    {line}" for line in table)
    return f"""#!/bin/sh
# Step {step!r} of the wraprun submission staged in {shlex.quote(str(stage))}:
# Slurm array element i runs the wraprun session of line i below (one slice of the step's tasks).
case "${{SLURM_ARRAY_TASK_ID:-}}" in
{body}
    *) echo "wraprun: array element '${{SLURM_ARRAY_TASK_ID:-}}' is not in this step's table" >&2; exit 4 ;;
esac
element="array $SLURM_ARRAY_JOB_ID element $SLURM_ARRAY_TASK_ID, job $SLURM_JOB_ID"
echo "wraprun: slice $slice ($element) on $(hostname)"
# scancel and time limits send SIGTERM to every process of the job: the session tears down and
# exits 3; the shell waits for it (a trapped signal only runs once the command ends) to record that.
trap : TERM INT HUP
"$@"
code=$?
printf '%s\\n' "$code" >{logs}/"$slice.exit.tmp" && mv -f {logs}/"$slice.exit.tmp" {logs}/"$slice.exit"
exit "$code"
"""


if TYPE_CHECKING:
    _SHAPE: type[Backend] = SlurmBackend  # mypy: it is a Backend
