"""What a session reports, and the sinks that print it.

Events are plain data. A sink turns them into human lines (with a live
progress line when writing to a terminal) or JSON lines. Output events carry
the bytes the process wrote, already masked, in pieces: blocks of whole lines
as a rule, a piece of a very long line, or a last line without its newline.
The human sink writes them through untouched (relaying costs no per-line
work) and ends an unterminated line before its own next line; the JSON sink
makes one event of each output line.

With ``stamp`` (``--timestamp-format``) a sink starts each line with the
time it was written: the human sink then cuts blocks into lines (only then:
the plain path stays one write per block), and the JSON sink adds a ``time``
field. With ``verbose`` an action's start shows its whole command line.

A sink whose stream fails (the reader went away, the disk is full) stops
writing and calls its ``on_closed`` with the error, so the caller can cancel
the session and tear it down instead of running on with nobody listening.
"""

from __future__ import annotations

import base64
import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import IO, Literal

from .redact import Redactor
from .statusline import StatusLine

ActionKind = Literal["onEnter", "onRun", "onExit", "onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit"]
"""Where an action sits in the lifecycle: a script's own action, or the wrap hook run instead."""
ENTER_KINDS: tuple[ActionKind, ...] = ("onEnter", "onWrapEnvEnter")
EXIT_KINDS: tuple[ActionKind, ...] = ("onExit", "onWrapEnvExit")
ActionState = Literal["RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "TIMEOUT"]
SessionState = Literal["SUCCEEDED", "FAILED", "CANCELED"]


@dataclass(frozen=True)
class SessionStarted:
    job_name: str


@dataclass(frozen=True)
class SessionEnded:
    state: SessionState
    tasks_run: int
    duration: float
    """Seconds."""
    message: str = ""
    """Why it failed, when it did."""
    kept_directory: str = ""
    """The session working directory, when it was kept (--preserve)."""


@dataclass(frozen=True)
class Purpose:
    """What an action is for, as data: the session says it once, and sinks need not read labels."""

    kind: ActionKind
    """The lifecycle action: onEnter, onExit or onRun (also when a wrap hook runs instead)."""
    subject: str
    """The environment entered or exited, or the step of a task."""
    text: str
    """How it is shown, e.g. ``Enter environment 'Conda'`` or ``Task Render (Frame=1)``."""


@dataclass(frozen=True)
class ActionStarted:
    kind: ActionKind
    """What runs: the lifecycle action, or the wrap hook run instead."""
    label: str
    """What the action is for, e.g. ``Enter environment 'Conda'``."""
    argv: tuple[str, ...]
    wrapped_by: str = ""
    """Name of the wrapping environment when a wrap hook runs instead."""
    subject: str = ""
    """The environment entered or exited, or the step of a task (:attr:`Purpose.subject`)."""


@dataclass(frozen=True)
class ActionOutput:
    data: bytes
    """Bytes as written; a line may continue in the next ActionOutput."""


@dataclass(frozen=True)
class ActionProgress:
    progress: float | None
    status: str | None


@dataclass(frozen=True)
class ActionEnded:
    label: str
    state: ActionState
    exit_code: int | None
    message: str = ""
    purpose: ActionKind = "onRun"
    """The lifecycle action it was (:attr:`Purpose.kind`): known also for one that failed
    before it started, which no ActionStarted announced."""
    subject: str = ""


@dataclass(frozen=True)
class SessionMessage:
    text: str
    level: str = "info"


@dataclass(frozen=True)
class TaskCount:
    done: int
    total: int
    step: str = ""


Event = (
    SessionStarted
    | ActionStarted
    | ActionOutput
    | ActionProgress
    | ActionEnded
    | SessionMessage
    | TaskCount
    | SessionEnded
)
EventCallback = Callable[[Event], None]
OnClosed = Callable[[OSError], None]
Stamp = Callable[[], str]
"""The text a timestamped line starts with (before a tab): now, in the chosen format."""
TIMESTAMP_FORMATS = ("relative", "local", "utc")


def timestamps(style: str) -> Stamp:
    """``--timestamp-format``: ``relative`` is the time since this call, ``H:MM:SS.ffffff``
    (as openjd-cli prints it); ``local`` and ``utc`` are ISO 8601 with microseconds and offset."""
    from datetime import datetime, timezone

    if style == "relative":
        start = time.monotonic()

        def relative() -> str:
            micro = int((time.monotonic() - start) * 1_000_000)
            seconds, micro = divmod(micro, 1_000_000)
            minutes, seconds = divmod(seconds, 60)
            hours, minutes = divmod(minutes, 60)
            return f"{hours}:{minutes:02}:{seconds:02}.{micro:06}"

        return relative
    if style == "utc":
        return lambda: datetime.now(timezone.utc).isoformat(timespec="microseconds")
    if style == "local":
        return lambda: datetime.now().astimezone().isoformat(timespec="microseconds")
    raise ValueError(f"unknown timestamp format {style!r} (expected one of {', '.join(TIMESTAMP_FORMATS)})")


def command_line(argv: tuple[str, ...], redactor: Redactor | None) -> str:
    """The command line as a shell would take it. Each argument was masked by the session; the
    quoted whole is masked again, so a secret cannot reappear across arguments or quotes."""
    text = shlex.join(argv)
    return redactor.text(text) if redactor is not None else text


def summary(event: SessionEnded) -> str:
    if event.state == "SUCCEEDED":
        text = f"Session succeeded: {event.tasks_run} task(s) run."
    elif event.state == "CANCELED":
        text = "Session canceled."
    else:
        text = f"Session failed: {event.message}"
    if event.kept_directory:
        text += f"\nSession working directory kept: {event.kept_directory}"
    return text


@dataclass
class _Sink:
    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    on_closed: OnClosed | None = None
    closed: bool = False
    """The stream failed (``| head`` went away, disk full): nothing more is written."""
    stamp: Stamp | None = field(default=None, kw_only=True)
    """Start each line with this time (``--timestamp-format``); None: lines as they are."""
    verbose: bool = field(default=False, kw_only=True)
    """Show each action's whole command line, not only the command (``--verbose``)."""
    redactor: Redactor | None = field(default=None, kw_only=True)
    """The session's secrets, to mask a command line shown whole (``verbose``) once more."""

    def __call__(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self._write(event)
        except OSError as exc:  # EPIPE, ENOSPC, EIO...
            self.closed = True
            if self.on_closed is not None:
                self.on_closed(exc)

    def _write(self, event: Event) -> None:
        raise NotImplementedError

    def _bytes(self, data: bytes) -> None:
        """Write bytes as they are, to the stream's binary buffer when it has one."""
        raw = getattr(self.stream, "buffer", None)
        if raw is None:
            self.stream.write(data.decode("utf-8", "surrogateescape"))
            return
        self.stream.flush()
        raw.write(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._close()
            self.stream.flush()
        except OSError as exc:
            self.closed = True
            if self.on_closed is not None:
                self.on_closed(exc)

    def _close(self) -> None:
        pass


@dataclass
class HumanSink(_Sink):
    """Plain lines for pipes; on a terminal also a live status line at the bottom."""

    live: bool = False
    _progress: str = ""
    _action: str = ""
    _tasks: str = ""
    _open_line: bool = False
    """The last output written did not end its line."""
    _status: StatusLine | None = None

    def _write(self, event: Event) -> None:
        if self._status is None:
            self._status = StatusLine(lambda text: self._bytes(_encode(text)), self.live)
        self._status.clear()
        if isinstance(event, ActionOutput):
            if event.data:
                self._bytes(self._stamped(event.data) if self.stamp is not None else event.data)
                self._open_line = not event.data.endswith(b"\n")
        elif isinstance(event, ActionProgress):
            parts = []
            if event.progress is not None:
                parts.append(f"{event.progress:.0f}%")
            if event.status:
                parts.append(event.status)
            self._progress = " ".join(parts)
        elif isinstance(event, TaskCount):
            self._tasks = f"tasks {event.done}/{event.total}"
        else:
            self._line(self._text(event))
        if (self._action or self._tasks) and not self._open_line:  # clearing it would erase that line
            self._status.show(" | ".join(p for p in (self._tasks, self._action, self._progress) if p))
        raw = getattr(self.stream, "buffer", self.stream)
        raw.flush()

    def _text(self, event: Event) -> str:
        if isinstance(event, ActionStarted):
            via = f" via {event.wrapped_by}.{event.kind}" if event.wrapped_by else ""
            self._action, self._progress = event.label, ""
            if self.verbose:  # asked for: the arguments too, with what the session knows masked
                return f"==> {event.label}{via}: {command_line(event.argv, self.redactor)}"
            # Only the command: arguments may carry values (secrets, text the job
            # prints later) that must not appear in the log before the job says so.
            return f"==> {event.label}{via}: {event.argv[0]}"
        if isinstance(event, ActionEnded):
            self._action, self._progress = "", ""
            code = f"Process exited with code: {event.exit_code}\n" if event.exit_code is not None else ""
            detail = f": {event.message}" if event.message else ""
            return f"{code}<== {event.label}: {event.state}{detail}"
        if isinstance(event, SessionStarted):
            return f"Running job '{event.job_name}'"
        if isinstance(event, SessionEnded):
            return summary(event)
        assert isinstance(event, SessionMessage)
        prefix = "" if event.level == "info" else f"{event.level.upper()}: "
        return f"{prefix}{event.text}"

    def _line(self, text: str) -> None:
        if self._open_line:
            self._bytes(b"\n")  # an action's last line had no newline: ours starts afresh
            self._open_line = False
        data = _encode(text) + b"\n"
        self._bytes(self._stamped(data) if self.stamp is not None else data)

    def _stamped(self, data: bytes) -> bytes:
        """``data`` with the time at the start of each line it starts; a line it only
        continues (the last one written had no newline) gets none in its middle."""
        assert self.stamp is not None
        prefix = _encode(self.stamp()) + b"\t"
        ends = data.endswith(b"\n")
        body = data[:-1] if ends else data
        head = b"" if self._open_line else prefix
        return head + body.replace(b"\n", b"\n" + prefix) + (b"\n" if ends else b"")

    def _close(self) -> None:
        if self._status is not None:
            self._status.clear()


def _encode(text: str) -> bytes:
    # surrogateescape: text made from output bytes that are not UTF-8 goes back as those bytes
    return text.encode("utf-8", "surrogateescape")


MAX_JSON_LINE = 16 << 20
"""A longer output line is sent as several events, the first ones marked ``continued``."""


@dataclass
class JsonLinesSink(_Sink):
    """One JSON object per event, and one per output line, for machines.

    An output line is ``{"event": "ActionOutput", "line": TEXT}`` without its
    newline; ``"newline": false`` when the output ended without one;
    ``"base64"`` holds the exact bytes when they are not UTF-8 (``line`` then
    shows them with U+FFFD). Only ``\n`` ends a line.
    """

    _partial: bytearray = field(default_factory=bytearray)

    def _write(self, event: Event) -> None:
        if isinstance(event, ActionOutput):
            self._output(event.data)
            self.stream.flush()
            return
        if not isinstance(event, (ActionProgress, TaskCount)):
            self._end_partial()  # the action's output ended (progress may come from mid-line pieces)
        record: dict[str, object] = {"event": type(event).__name__, **asdict(event)}
        if isinstance(event, ActionStarted):
            # See HumanSink: arguments stay out of logs unless asked for.
            shown = [self._masked(a) for a in event.argv] if self.verbose else event.argv[:1]
            record["argv"] = list(shown)
        self._record(record)
        self.stream.flush()

    def _output(self, data: bytes) -> None:
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if self._partial:
                self._partial += data[start:end]
                line = bytes(self._partial)
                self._partial.clear()
            else:
                line = data[start:end]
            self._line(line, {})
            start = end + 1
        self._partial += data[start:]
        while len(self._partial) > MAX_JSON_LINE:
            self._line(bytes(self._partial[:MAX_JSON_LINE]), {"continued": True})
            del self._partial[:MAX_JSON_LINE]

    def _end_partial(self) -> None:
        if self._partial:
            line = bytes(self._partial)
            self._partial.clear()
            self._line(line, {"newline": False})

    def _line(self, line: bytes, extra: dict[str, object]) -> None:
        record: dict[str, object] = {"event": "ActionOutput"}
        try:
            record["line"] = line.decode("utf-8")
        except UnicodeDecodeError:
            record["line"] = line.decode("utf-8", "replace")
            record["base64"] = base64.b64encode(line).decode("ascii")
        record.update(extra)
        self._record(record)

    def _masked(self, argument: str) -> str:
        return self.redactor.text(argument) if self.redactor is not None else argument

    def _record(self, record: dict[str, object]) -> None:
        if self.stamp is not None:  # right after the event's name, as the human line starts with it
            record = {"event": record["event"], "time": self.stamp(), **record}
        # ensure_ascii: text holding lone surrogates (bytes that were not UTF-8)
        # stays writable, escaped, whatever the stream's encoding.
        self.stream.write(json.dumps(record) + "\n")

    def _close(self) -> None:
        self._end_partial()
