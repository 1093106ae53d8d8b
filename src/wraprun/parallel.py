"""``wraprun run JOB --sessions N``: a job's tasks shared out over N concurrent sessions on this host.

Each step's task order is cut into N near-equal slices
(:func:`wraprun.backends.split`); the local backend runs each slice as a
session of its own, at most N at a time, a step's slices once the steps it
depends on have succeeded (:mod:`wraprun.backends.local`). A step with
adaptive chunks (TASK_CHUNKING ``targetRuntimeSeconds``) is cut by tasks,
and each session sizes the chunks of its own slice from its own timings
(:mod:`wraprun.chunking`).

What the sessions say goes to one stream, a whole line at a time, so lines
of different sessions never mix: human lines start with the session's tag
(``[s2] ``), JSON lines carry ``"session": "s2"``. On a terminal a live line
at the bottom shows tasks done of all, failures and each running session's
action. The run ends with a line of its own, untagged: how many tasks ran
in how many sessions, and whether all succeeded (JSON: a ``RunEnded`` event).
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Literal

from . import events
from .backends import Slice, StepWork, split
from .backends.local import LocalBackend
from .job import JobPlan
from .runner import JobOutcome
from .statusline import StatusLine

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

MAX_TAGGED_LINE = 1 << 20
"""A human line held this long without its newline is ended there (and goes on in a new tagged
line): memory stays bounded whatever a task prints, and no other session's line is held up."""


def work_of(plan: JobPlan, parts: int) -> list[StepWork]:
    """Each planned step's task order cut into ``parts`` slices, with the planned steps it waits on."""
    planned = {step.step.name for step in plan.steps}
    work = []
    for step in plan.steps:
        name = step.step.name
        after = tuple(d.depends_on for d in step.step.dependencies or () if d.depends_on in planned)
        work.append(StepWork(name, split(name, len(step.tasks), parts=parts), after))
    return work


class _Board:
    """The one stream every session writes to: whole lines only, and the live line under them."""

    def __init__(self, stream: IO[str], live: bool, total: int) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.closed = False
        """The stream failed: what comes later is dropped (the failure was reported once)."""
        self.status = StatusLine(lambda text: self._raw(text.encode("utf-8", "replace")), live)
        self.total = total
        self.done: dict[str, int] = {}
        self.running: dict[str, str] = {}
        self.failures = 0

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.closed:
                return
            try:
                self.status.clear()
                self._raw(data)
                self._show()
                self._flush()
            except OSError:
                self.closed = True
                raise

    def observe(self, tag: str, event: events.Event) -> None:
        """Keep the live line's figures; it is drawn again with the next line written."""
        with self.lock:
            if isinstance(event, events.TaskCount):
                self.done[tag] = event.done
            elif isinstance(event, events.ActionStarted):
                self.running[tag] = event.label
            elif isinstance(event, events.ActionEnded):
                self.running.pop(tag, None)
                self.failures += event.state in ("FAILED", "TIMEOUT")

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                try:
                    self.status.clear()
                    self._flush()
                except OSError:
                    self.closed = True

    def _show(self) -> None:
        parts = [f"tasks {sum(self.done.values())}/{self.total}", f"failed {self.failures}"]
        parts += [f"{tag}: {label}" for tag, label in self.running.items()]
        self.status.show(" | ".join(parts))

    def _raw(self, data: bytes) -> None:
        raw = getattr(self.stream, "buffer", None)
        if raw is None:
            self.stream.write(data.decode("utf-8", "surrogateescape"))
        else:
            self.stream.flush()
            raw.write(data)

    def _flush(self) -> None:
        getattr(self.stream, "buffer", self.stream).flush()


class _SessionOutput(io.RawIOBase):
    """One session's bytes, handed to the board a whole line at a time, each line tagged."""

    def __init__(self, board: _Board, prefix: bytes) -> None:
        super().__init__()
        self.board = board
        self.prefix = prefix
        self.pending = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: ReadableBuffer) -> int:
        data = bytes(b)
        cut = data.rfind(b"\n") + 1
        if cut:
            block = bytes(self.pending) + data[:cut] if self.pending else data[:cut]
            self.pending[:] = data[cut:]
            self.board.write(self._tagged(block))
        else:
            self.pending += data
        if self.prefix and len(self.pending) >= MAX_TAGGED_LINE:
            line, self.pending = bytes(self.pending), bytearray()
            self.board.write(self._tagged(line + b"\n"))
        return len(data)

    def end(self) -> None:
        """The session is over: a last line without its newline is ended."""
        if self.pending:
            line, self.pending = bytes(self.pending), bytearray()
            self.board.write(self._tagged(line + b"\n"))

    def _tagged(self, block: bytes) -> bytes:
        if not self.prefix:
            return block
        return self.prefix + block[:-1].replace(b"\n", b"\n" + self.prefix) + b"\n"


@dataclass
class _SessionJsonLines(events.JsonLinesSink):
    """JSON lines with the session's tag in every object, right after ``event``."""

    session: str = ""

    def _record(self, record: dict[str, object]) -> None:
        super()._record({"event": record["event"], "session": self.session, **record})


@dataclass
class _Streams:
    """What carries one session's events to the board."""

    output: _SessionOutput
    text: io.TextIOWrapper
    sink: events.HumanSink | events.JsonLinesSink


@dataclass
class ParallelRun:
    """A planned job run as concurrent sessions; :meth:`run` returns when all have ended.

    ``on_output_error`` is called once, from whichever thread wrote, when the
    stream fails (the caller cancels the run, as for one session).
    """

    plan: JobPlan
    sessions: int
    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    output: Literal["human", "jsonl", "json", "yaml"] = "human"
    """``json``/``yaml``: nothing is written (the caller prints one document at the end)."""
    live: bool = False
    on_output_error: Callable[[OSError], None] | None = None
    retain_working_directory: bool = False
    root: str | None = None
    record_for: Callable[[str, Slice], events.EventCallback] | None = None
    """Where else a session's events go, given its tag and slice (the run's record)."""
    stamp: events.Stamp | None = None
    """``--timestamp-format``: every line starts with the time (after a session's tag)."""
    verbose: bool = False
    """``--verbose``: each action's whole command line (secrets of every session masked)."""

    def __post_init__(self) -> None:
        total = sum(len(step.tasks) for step in self.plan.steps)
        self._board = _Board(self.stream, self.live and self.output == "human", total)
        self._streams: list[_Streams] = []
        self._ended: list[tuple[str, events.SessionEnded]] = []
        """Each session's last event, in the order they ended."""
        self._failure_lock = threading.Lock()
        self.output_error: OSError | None = None
        self.backend = LocalBackend(
            self.plan,
            sessions=self.sessions,
            emit_for=self._emit_for,
            retain_working_directory=self.retain_working_directory,
            root=self.root,
        )

    def interrupt(self) -> None:
        """First call: cancel every session (each tears down); second: force. Safe from signal handlers."""
        self.backend.cancel()

    def run(self) -> JobOutcome:
        started = time.monotonic()
        work = work_of(self.plan, self.sessions)
        slices = sum(len(step.slices) for step in work)
        if self.output == "human":
            self._line(
                f"Running job '{self.plan.job.name}': {self._board.total} task(s) in {slices} slice(s), "
                f"at most {self.sessions} session(s) at a time"
            )
        self.backend.submit(work)
        while not self.backend.wait(0.5):  # a timed wait: the main thread stays free for signals
            pass
        for streams in self._streams:
            self._close(streams)
        if self.backend.errors:
            raise self.backend.errors[0]
        outcome = self._outcome()
        self._summary(outcome, slices - len(self._ended), time.monotonic() - started)
        self._board.close()
        return outcome

    # --- sessions' output -------------------------------------------------------------------

    def _emit_for(self, tag: str, piece: Slice) -> events.EventCallback:
        record = self.record_for(tag, piece) if self.record_for is not None else None
        if self.output not in ("human", "jsonl"):

            def observe(event: events.Event) -> None:
                if isinstance(event, events.SessionEnded):
                    self._ended.append((tag, event))
                if record is not None:
                    record(event)

            return observe
        prefix = f"[{tag}] ".encode() if self.output == "human" else b""
        output = _SessionOutput(self._board, prefix)
        text = io.TextIOWrapper(
            io.BufferedWriter(output), encoding="utf-8", errors="surrogateescape", write_through=True
        )
        sink: events.HumanSink | events.JsonLinesSink = (
            events.HumanSink(text, self._output_failed, **self._shown())
            if self.output == "human"
            else _SessionJsonLines(text, self._output_failed, session=tag, **self._shown())
        )
        self._streams.append(_Streams(output, text, sink))

        def emit(event: events.Event) -> None:
            if isinstance(event, events.SessionEnded):
                self._ended.append((tag, event))
            self._board.observe(tag, event)
            sink(event)
            if record is not None:
                record(event)

        return emit

    def _output_failed(self, exc: OSError) -> None:
        with self._failure_lock:
            first = self.output_error is None
            self.output_error = self.output_error or exc
        if first and self.on_output_error is not None:
            self.on_output_error(exc)

    def _close(self, streams: _Streams) -> None:
        streams.sink.close()
        try:
            streams.text.close()  # flushes what the sink left buffered
            streams.output.end()
        except OSError as exc:
            self._output_failed(exc)

    # --- the end ----------------------------------------------------------------------------

    def _outcome(self) -> JobOutcome:
        tasks = sum(ended.tasks_run for _, ended in self._ended)
        failed = [f"{tag}: {ended.message}" for tag, ended in self._ended if ended.state == "FAILED"]
        if failed:
            return JobOutcome("FAILED", failed[0], tasks)
        if any(status.state != "SUCCEEDED" for status in self.backend.poll()):
            return JobOutcome("CANCELED", "", tasks)
        return JobOutcome("SUCCEEDED", "", tasks)

    def _summary(self, outcome: JobOutcome, not_started: int, duration: float) -> None:
        count = len(self._ended)
        if self.output not in ("human", "jsonl"):
            return
        if self.output == "jsonl":
            record = {
                "event": "RunEnded",
                **({"time": self.stamp()} if self.stamp is not None else {}),
                "state": outcome.state,
                "tasks_run": outcome.tasks_run,
                "sessions": count,
                "not_started": not_started,
                "duration": duration,
                "message": outcome.failed,
            }
            self._write((json.dumps(record) + "\n").encode("utf-8"))
            return
        ran = f"{outcome.tasks_run} task(s) run in {count} session(s)"
        if outcome.state == "SUCCEEDED":
            self._line(f"Run succeeded: {ran}.")
            return
        later = f"; {not_started} slice(s) not started" if not_started else ""
        if outcome.state == "FAILED":
            self._line(f"Run failed: {ran}{later}. First failure: {outcome.failed}")
        else:
            self._line(f"Run canceled: {ran}{later}.")

    def _line(self, text: str) -> None:
        stamp = f"{self.stamp()}\t" if self.stamp is not None else ""
        self._write(f"{stamp}{text}".encode("utf-8", "surrogateescape") + b"\n")

    def _shown(self) -> dict[str, Any]:
        """How a session's sink shows lines: timestamps, whole command lines, the shared secrets."""
        return {"stamp": self.stamp, "verbose": self.verbose, "redactor": self.backend.redactor}

    def _write(self, data: bytes) -> None:
        try:
            self._board.write(data)
        except OSError as exc:
            self._output_failed(exc)
