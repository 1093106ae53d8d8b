"""What a run leaves behind: a recorder per session, their final masking, the result document
(``--output json|yaml``) and the HTML report's file (``--report FILE.html``, page from report)."""

from __future__ import annotations

import errno
import os
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import events
from .check import EXIT_CANCELED, EXIT_FAILED, EXIT_OK
from .events import SessionState
from .interrupts import silence_stdout
from .record import Masker, Recorder, document, dump, merged_document
from .report import Lane, extent, render

if TYPE_CHECKING:
    from .parallel import ParallelRun
    from .runner import JobOutcome, Runner


def check_path(path: str) -> str | None:
    """Why ``path`` cannot take the report (one line), or None: checked before anything runs."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return f"wraprun: --report {path}: is a directory"
    if not os.path.isdir(folder):
        return f"wraprun: --report {path}: no such directory: {folder}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"wraprun: --report {path}: cannot write in {folder}"
    return None


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it: never half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".wraprun-report-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="replace") as out:
            out.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


@dataclass
class RunRecords:
    """Recorders for one run's sessions, and what is made of them when the run ends."""

    output: str
    """``json``/``yaml``: print the document; anything else: print nothing."""
    report: str | None
    lanes: list[Lane] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def recorder(self, tag: str = "", work: object = "") -> Recorder:
        recorder = Recorder()
        with self._lock:  # sessions of a parallel run start on their own threads
            self.lanes.append(Lane(tag, str(work), recorder.record))
        return recorder

    def emit(self, sink: events.EventCallback | None) -> events.EventCallback:
        """One session's events to ``sink`` (when there is one) and to its record."""
        recorder = self.recorder()
        return recorder if sink is None else tee(sink, recorder)

    def finish(self, run: Runner | ParallelRun, outcome: JobOutcome | None) -> int:
        """Write the report and print the document: the exit code for a run that succeeded.

        ``EXIT_FAILED`` when the report could not be written, ``EXIT_CANCELED`` when stdout
        could not (one line on stderr, none for a closed pipe). ``outcome`` None: the run
        broke (a bug) before it could say how it ended.
        """
        masker = _masker(run)
        lanes = list(self.lanes)
        message = outcome.failed if outcome is not None else "the run ended with an internal error"
        if masker is not None:
            for lane in lanes:
                lane.record.mask(masker)
            message = masker.text(message)
        status: SessionState = outcome.state if outcome is not None else "FAILED"
        code = EXIT_OK
        if self.report:
            try:
                write_atomically(self.report, render(lanes, status, message))
            except OSError as exc:
                print(f"wraprun: cannot write the report {self.report}: {exc.strerror}", file=sys.stderr)
                code = EXIT_FAILED
        if self.output in ("json", "yaml"):
            tasks_run = outcome.tasks_run if outcome is not None else None
            text = dump(self.document(lanes, status, message, tasks_run), self.output)
            try:  # as UTF-8 bytes, whatever the locale says stdout's encoding is
                sys.stdout.flush()
                sys.stdout.buffer.write(text.encode("utf-8"))
                sys.stdout.buffer.flush()
            except OSError as exc:
                silence_stdout()
                if exc.errno != errno.EPIPE:
                    print(f"wraprun: cannot write the output: {exc.strerror}", file=sys.stderr)
                code = EXIT_CANCELED
        return code

    @staticmethod
    def document(
        lanes: list[Lane], status: SessionState, message: str, tasks_run: int | None
    ) -> dict[str, object]:
        if len(lanes) == 1 and not lanes[0].tag:
            data = document(lanes[0].record)
            data["status"] = status
            return data
        records = [(lane.tag, lane.record) for lane in lanes]
        return merged_document(
            records,
            status,
            job_name=next((lane.record.job_name for lane in lanes if lane.record.job_name), ""),
            duration=extent(lanes)[1],
            message=message,
            tasks_run=tasks_run if tasks_run is not None else sum(r.tasks_run for _, r in records),
        )


def _masker(run: Runner | ParallelRun) -> Masker | None:
    """The run's secrets as they stand at its end (a value declared late masks earlier text too)."""
    from .runner import Runner

    if isinstance(run, Runner):
        return run.session.redactor if run.session is not None else None
    return run.backend.redactor


def tee(*targets: events.EventCallback) -> events.EventCallback:
    """One event callable that hands each event to every target, in order."""

    def emit(event: events.Event) -> None:
        for target in targets:
            target(event)

    return emit
