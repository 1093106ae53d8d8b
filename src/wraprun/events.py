"""What a session reports, and the sinks that print it.

Events are plain data. A sink turns them into human lines (with a live
progress line when writing to a terminal) or JSON lines. Output events carry
blocks of whole lines exactly as the process wrote them (already redacted);
the human sink writes them through untouched so that relaying output costs
no per-line work.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import IO


@dataclass(frozen=True)
class ActionStarted:
    kind: str
    """onEnter, onRun, onExit, or the wrap hook that runs in their place."""
    label: str
    """What the action is for, e.g. ``Enter environment 'Conda'``."""
    argv: tuple[str, ...]
    wrapped_by: str = ""
    """Name of the wrapping environment when a wrap hook runs instead."""


@dataclass(frozen=True)
class ActionOutput:
    data: bytes

    @property
    def lines(self) -> list[str]:
        return self.data.decode("utf-8", "replace").splitlines()


@dataclass(frozen=True)
class ActionProgress:
    progress: float | None
    status: str | None


@dataclass(frozen=True)
class ActionEnded:
    label: str
    state: str
    """SUCCEEDED, FAILED, CANCELED or TIMEOUT."""
    exit_code: int | None
    message: str = ""


@dataclass(frozen=True)
class SessionMessage:
    text: str
    level: str = "info"


@dataclass(frozen=True)
class TaskCount:
    done: int
    total: int
    step: str = ""


Event = ActionStarted | ActionOutput | ActionProgress | ActionEnded | SessionMessage | TaskCount
EventCallback = Callable[[Event], None]


@dataclass
class HumanSink:
    """Plain lines for pipes; on a terminal also a live status line at the bottom."""

    stream: IO[str] = field(default_factory=lambda: sys.stdout)
    live: bool = False
    _progress: str = ""
    _action: str = ""
    _tasks: str = ""
    _shown: bool = False

    closed: bool = False
    """The reader went away (``| head``): stop writing, let the session tear down."""

    def __call__(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self._write(event)
        except BrokenPipeError:
            self.closed = True

    def _write(self, event: Event) -> None:
        out = self.stream
        if self._shown:
            out.write("\r\x1b[K")
            self._shown = False
        if isinstance(event, ActionOutput):
            self._write_bytes(event.data)
        elif isinstance(event, ActionStarted):
            via = f" via {event.wrapped_by}.{event.kind}" if event.wrapped_by else ""
            # Only the command: arguments may carry values (secrets, text the job
            # prints later) that must not appear in the log before the job says so.
            out.write(f"==> {event.label}{via}: {event.argv[0]}\n")
            self._action, self._progress = event.label, ""
        elif isinstance(event, ActionEnded):
            if event.exit_code is not None:
                out.write(f"Process exited with code: {event.exit_code}\n")
            detail = f": {event.message}" if event.message else ""
            out.write(f"<== {event.label}: {event.state}{detail}\n")
            self._action, self._progress = "", ""
        elif isinstance(event, ActionProgress):
            parts = []
            if event.progress is not None:
                parts.append(f"{event.progress:.0f}%")
            if event.status:
                parts.append(event.status)
            self._progress = " ".join(parts)
        elif isinstance(event, TaskCount):
            self._tasks = f"tasks {event.done}/{event.total}"
        elif isinstance(event, SessionMessage):
            prefix = "" if event.level == "info" else f"{event.level.upper()}: "
            out.write(f"{prefix}{event.text}\n")
        if self.live and (self._action or self._tasks):
            status = " | ".join(p for p in (self._tasks, self._action, self._progress) if p)
            out.write(status[:200])
            self._shown = True
        out.flush()

    def _write_bytes(self, data: bytes) -> None:
        """Relay output as the process wrote it: bytes straight to the underlying buffer."""
        raw = getattr(self.stream, "buffer", None)
        if raw is None:
            self.stream.write(data.decode("utf-8", "replace"))
            return
        self.stream.flush()
        raw.write(data)
        raw.flush()

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


@dataclass
class JsonLinesSink:
    """One JSON object per event, for machines."""

    stream: IO[str] = field(default_factory=lambda: sys.stdout)

    def __call__(self, event: Event) -> None:
        record: dict[str, object] = {"event": type(event).__name__}
        if isinstance(event, ActionOutput):
            record["lines"] = event.lines
        else:
            record.update(asdict(event))
            if isinstance(event, ActionStarted):
                record["argv"] = list(event.argv[:1])  # see HumanSink: arguments stay out of logs
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass
