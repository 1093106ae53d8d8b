"""What a session did, kept as data: the source of the result document and the HTML report.

A :class:`Recorder` is an event callable (like a sink) that builds a
:class:`SessionRecord`: the job, its end, each step's task counts, each
action in order (kind, label, wrap hook, start and duration, state, exit
code, progress and status updates, output) and the environments as nested
spans of time. Times are ``time.monotonic`` at the moment an event arrives,
in seconds since the session started.

Memory is bounded whatever a job prints or however many tasks it runs:

- an action keeps the first and the last ``OUTPUT_EDGE`` bytes of its output
  (32 KiB each); what lies between is counted, not kept;
- all actions together keep at most ``OUTPUT_BUDGET`` bytes (8 MiB): once it
  is spent, later actions keep less (down to nothing, only counted);
- the first and the last ``ACTION_EDGE`` actions (1000 each) are kept; those
  between are counted; likewise the last 64 progress updates of an action and
  the first 500 session messages.

Output arrives already masked by the session; :meth:`SessionRecord.mask`
masks everything once more at the end, for secrets declared after the text
that holds them was printed. Pure data: no I/O.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import events
from .events import ENTER_KINDS, EXIT_KINDS, ActionKind, ActionState, SessionState

OUTPUT_EDGE = 32 << 10
"""Bytes kept at each end of one action's output."""
OUTPUT_BUDGET = 8 << 20
"""Bytes of output kept over all actions of a session."""
ACTION_EDGE = 1000
"""Actions kept at each end of a session."""
UPDATE_LIMIT = 64
"""Progress/status updates kept per action (the latest ones)."""
MESSAGE_LIMIT = 500
"""Session messages kept (the first ones)."""
TASK_KINDS: tuple[ActionKind, ...] = ("onRun", "onWrapTaskRun")


@dataclass(frozen=True)
class Limits:
    output_edge: int = OUTPUT_EDGE
    output_budget: int = OUTPUT_BUDGET
    action_edge: int = ACTION_EDGE
    update_limit: int = UPDATE_LIMIT
    message_limit: int = MESSAGE_LIMIT


class Masker(Protocol):
    """What masks secrets (:class:`wraprun.redact.Redactor` is one)."""

    def mask(self, data: bytes) -> bytes: ...

    def text(self, text: str) -> str: ...


class Output:
    """One action's output: the first ``head_cap`` and the last ``tail_cap`` bytes, and a count."""

    def __init__(self, head_cap: int, tail_cap: int) -> None:
        self.head_cap, self.tail_cap = head_cap, tail_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_cap - len(self.head)
        if room > 0 and not self.tail:
            self.head += data[:room]
            data = data[room:]
        if not data or not self.tail_cap:
            return
        self.tail += data[-self.tail_cap :]
        if len(self.tail) > self.tail_cap:
            del self.tail[: len(self.tail) - self.tail_cap]

    @property
    def kept(self) -> int:
        return len(self.head) + len(self.tail)

    @property
    def omitted(self) -> int:
        return self.total - self.kept

    def freeze(self) -> int:
        """The output ended: give back the room it did not use; returns the bytes given back."""
        spare = self.head_cap + self.tail_cap - self.kept
        self.head_cap, self.tail_cap = len(self.head), len(self.tail)
        return spare

    def mask(self, masker: Masker) -> None:
        self.head = bytearray(masker.mask(bytes(self.head)))
        self.tail = bytearray(masker.mask(bytes(self.tail)))

    def parts(self) -> tuple[str, int, str]:
        """(first text, bytes omitted between, last text), decoded as UTF-8 with U+FFFD."""
        head, tail = bytes(self.head), bytes(self.tail)
        if self.omitted:  # a cut through a character: drop its pieces rather than show U+FFFD
            head = _whole_characters(head)
            cut = 0
            while cut < min(3, len(tail)) and 0x80 <= tail[cut] < 0xC0:
                cut += 1
            tail = tail[cut:]
        return _decode(head), self.omitted, _decode(tail)

    def lines(self) -> list[str]:
        """The output's lines, with one ``… N bytes omitted …`` line where it was cut."""
        head, omitted, tail = self.parts()
        found = _split(head)
        if omitted:
            found.append(omission(omitted))
        return found + _split(tail)


def omission(count: int) -> str:
    return f"… {count:,} bytes omitted …"


@dataclass
class Update:
    at: float
    progress: float | None
    status: str | None


@dataclass
class ActionRecord:
    index: int
    """Position among all actions of the session (0-based), kept or not."""
    kind: ActionKind
    label: str
    wrapped_by: str
    step: str
    start: float
    output: Output
    environment: int | None = None
    """Index of the innermost environment span the action ran in (an enter or exit: its own)."""
    end: float | None = None
    state: ActionState = "RUNNING"
    exit_code: int | None = None
    message: str = ""
    started: bool = True
    """False when it failed before its process could start (no ActionStarted came)."""
    command: str = ""
    """The program run (argv[0]); never its arguments, which may hold values not yet masked."""
    updates: deque[Update] = field(default_factory=deque)
    updates_dropped: int = 0

    def duration(self, now: float) -> float:
        return (self.end if self.end is not None else now) - self.start

    @property
    def progress(self) -> float | None:
        return self.updates[-1].progress if self.updates else None

    @property
    def status(self) -> str | None:
        return self.updates[-1].status if self.updates else None


@dataclass
class EnvironmentSpan:
    index: int
    name: str
    start: float
    depth: int
    parent: int | None
    enter_action: int | None = None
    """None when the environment has no enter action (only its exit was seen)."""
    exit_action: int | None = None
    end: float | None = None
    wraps: bool = False
    """It is the wrapping environment: its hooks ran in place of inner actions."""


@dataclass
class StepRecord:
    name: str
    tasks_run: int = 0
    """Runs of the step's onRun (a chunk counts once), failed ones included."""
    succeeded: int = 0
    first_done: int | None = None
    last_done: int = 0

    @property
    def tasks_done(self) -> int:
        """Task positions covered by the runs that succeeded (each task of a chunk counts), as
        far as the session counted them; at least the runs that succeeded."""
        return max(self.last_done - (self.first_done or 0), self.succeeded)


@dataclass
class MessageRecord:
    at: float
    level: str
    text: str
    action: int | None


@dataclass
class SessionRecord:
    job_name: str = ""
    started_at: float = 0.0
    """Wall-clock time (seconds since the epoch) of the first event."""
    origin: float = 0.0
    """Monotonic time of the first event: lanes of several sessions share one scale by it."""
    state: SessionState | None = None
    """None while the session has not ended (or when it never said so)."""
    duration: float | None = None
    message: str = ""
    tasks_run: int = 0
    kept_directory: str = ""
    last: float = 0.0
    """Offset of the last event seen."""
    steps: list[StepRecord] = field(default_factory=list)
    environments: list[EnvironmentSpan] = field(default_factory=list)
    first_actions: list[ActionRecord] = field(default_factory=list)
    last_actions: deque[ActionRecord] = field(default_factory=deque)
    actions_omitted: int = 0
    messages: list[MessageRecord] = field(default_factory=list)
    messages_omitted: int = 0

    @property
    def actions(self) -> list[ActionRecord]:
        return [*self.first_actions, *self.last_actions]

    @property
    def length(self) -> float:
        """Seconds from the first event to the last (the timeline's extent)."""
        ends = [self.last, self.duration or 0.0]
        ends += [a.end for a in self.last_actions if a.end is not None]
        return max(ends)

    def mask(self, masker: Masker) -> None:
        """Mask every text and output once more with the session's final secrets."""
        self.job_name = masker.text(self.job_name)
        self.message = masker.text(self.message)
        for action in self.actions:
            action.label = masker.text(action.label)
            action.step = masker.text(action.step)
            action.command = masker.text(action.command)
            action.message = masker.text(action.message)
            action.output.mask(masker)
            for update in action.updates:
                update.status = masker.text(update.status) if update.status is not None else None
        for span in self.environments:
            span.name = masker.text(span.name)
        for step in self.steps:
            step.name = masker.text(step.name)
        for message in self.messages:
            message.text = masker.text(message.text)


class Recorder:
    """An event callable that keeps what a session did in :attr:`record`."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        limits: Limits = Limits(),
    ) -> None:
        self.record = SessionRecord()
        self.limits = limits
        self._clock, self._wall = clock, wall
        self._started = False
        self._count = 0
        self._budget = limits.output_budget
        self._current: ActionRecord | None = None
        self._open: list[EnvironmentSpan] = []
        self._closing: EnvironmentSpan | None = None
        """The span whose exit action runs: it ends when that action does."""
        self._wrapper: EnvironmentSpan | None = None
        """The open span of the wrapping environment, once a hook of it ran."""
        self._last_end = 0.0
        self._steps: dict[str, StepRecord] = {}

    def __call__(self, event: events.Event) -> None:
        now = self._clock()
        record = self.record
        if not self._started:
            self._started = True
            record.origin, record.started_at = now, self._wall()
        at = max(now - record.origin, record.last)
        record.last = at
        if isinstance(event, events.ActionOutput):
            if self._current is not None:
                self._current.output.add(event.data)
        elif isinstance(event, events.ActionProgress):
            if self._current is not None:
                status = None if event.status is None else _clean(event.status)
                self._update(self._current, Update(at, event.progress, status))
        elif isinstance(event, events.ActionStarted):
            label, subject = _clean(event.label), _clean(event.subject) or _clean(event.label)
            action = self._start(at, event.kind, label, subject, _clean(event.wrapped_by))
            action.command = _clean(event.argv[0]) if event.argv else ""
        elif isinstance(event, events.ActionEnded):
            self._ended(at, event)
        elif isinstance(event, events.TaskCount):
            self._count_tasks(event)
        elif isinstance(event, events.SessionMessage):
            self._message(at, event)
        elif isinstance(event, events.SessionStarted):
            record.job_name = _clean(event.job_name)
        elif isinstance(event, events.SessionEnded):
            self._session_ended(at, event)

    # --- actions ----------------------------------------------------------------------------

    def _start(
        self, at: float, kind: ActionKind, label: str, subject: str, wrapped_by: str, started: bool = True
    ) -> ActionRecord:
        """``subject``: the environment entered or exited, or the task's step."""
        if self._current is not None:  # it never said it ended: it stops here
            self._finish(self._current, at)
        step = ""
        if kind in TASK_KINDS:
            stepped = self._step_named(subject)
            stepped.tasks_run += 1
            step = stepped.name
        if started:  # one that failed before it started does not say whether it was a hook
            self._follow_wrapper(kind, subject, wrapped_by, at)
        edge = max(0, min(self.limits.output_edge, self._budget // 2))
        self._budget -= 2 * edge
        action = ActionRecord(self._count, kind, label, wrapped_by, step, at, Output(edge, edge))
        self._count += 1
        span: EnvironmentSpan | None
        if kind in ENTER_KINDS:
            span = self._open_span(subject, at)
            span.enter_action = action.index
        elif kind in EXIT_KINDS:
            span = self._close_span(subject, at)
            span.exit_action = action.index
            self._closing = span
        else:
            span = self._open[-1] if self._open else None
        action.environment = span.index if span is not None else None
        self._keep(action)
        self._current = action
        return action

    def _keep(self, action: ActionRecord) -> None:
        record = self.record
        if len(record.first_actions) < self.limits.action_edge:
            record.first_actions.append(action)
            return
        record.last_actions.append(action)
        if len(record.last_actions) > max(1, self.limits.action_edge):
            gone = record.last_actions.popleft()
            self._budget += gone.output.head_cap + gone.output.tail_cap
            record.actions_omitted += 1

    def _ended(self, at: float, event: events.ActionEnded) -> None:
        action = self._current
        if action is None:  # it failed before its process started: no ActionStarted came
            label = _clean(event.label)
            subject = _clean(event.subject) or label
            action = self._start(at, event.purpose, label, subject, "", started=False)
            action.started = False
        action.state = event.state
        action.exit_code = event.exit_code
        if action.kind in TASK_KINDS and event.state == "SUCCEEDED" and action.step:
            self._step_named(action.step).succeeded += 1
        action.message = _clean(event.message)
        self._finish(action, at)

    def _finish(self, action: ActionRecord, at: float) -> None:
        action.end = self._last_end = at
        self._budget += action.output.freeze()
        self._current = None
        if self._closing is not None:
            self._closing.end = at
            self._closing = None

    def _update(self, action: ActionRecord, update: Update) -> None:
        action.updates.append(update)
        if len(action.updates) > self.limits.update_limit:
            action.updates.popleft()
            action.updates_dropped += 1

    # --- environments -----------------------------------------------------------------------

    def _follow_wrapper(self, kind: ActionKind, subject: str, wrapped_by: str, at: float) -> None:
        """The wrapping environment's span, also when it has no enter or exit action of its own.

        While it is entered every inner action runs as its hook, so a hook names it open
        (entered silently, when not seen before), and an unwrapped action other than its own
        exit means it has left (silently, after the last hook ended).
        """
        if wrapped_by:
            found = [span for span in self._open if span.name == wrapped_by]
            if found:
                self._wrapper = found[-1]
            else:
                self._wrapper = self._open_span(wrapped_by, at)
            self._wrapper.wraps = True
        elif self._wrapper is not None and self._wrapper in self._open:
            leaving = kind in EXIT_KINDS and subject == self._wrapper.name
            if not leaving:
                position = self._open.index(self._wrapper)
                for span in self._open[position:]:
                    span.end = self._last_end
                del self._open[position:]
                self._wrapper = None

    def _open_span(self, name: str, at: float) -> EnvironmentSpan:
        parent = self._open[-1].index if self._open else None
        span = EnvironmentSpan(len(self.record.environments), name, at, len(self._open), parent)
        self.record.environments.append(span)
        self._open.append(span)
        return span

    def _close_span(self, name: str, at: float) -> EnvironmentSpan:
        """The innermost open span of that name leaves the stack (those inside it, which had no
        exit action, end now); with none open, the environment had no enter action: its span
        is its exit alone."""
        for position in range(len(self._open) - 1, -1, -1):
            if self._open[position].name == name:
                for inner in self._open[position + 1 :]:
                    inner.end = at
                span = self._open[position]
                del self._open[position:]
                return span
        span = self._open_span(name, at)
        self._open.pop()
        return span

    # --- the rest ---------------------------------------------------------------------------

    def _step_named(self, name: str) -> StepRecord:
        step = self._steps.get(name)
        if step is None:
            step = self._steps[name] = StepRecord(name)
            self.record.steps.append(step)
        return step

    def _count_tasks(self, event: events.TaskCount) -> None:
        step = self._step_named(_clean(event.step))
        if step.first_done is None:
            step.first_done = event.done
        step.last_done = max(step.last_done, event.done)

    def _message(self, at: float, event: events.SessionMessage) -> None:
        record = self.record
        if len(record.messages) >= self.limits.message_limit:
            record.messages_omitted += 1
            return
        action = self._current.index if self._current is not None else None
        record.messages.append(MessageRecord(at, _clean(event.level), _clean(event.text), action))

    def _session_ended(self, at: float, event: events.SessionEnded) -> None:
        if self._current is not None:
            self._finish(self._current, at)
        for span in self._open:
            span.end = at
        self._open.clear()
        record = self.record
        record.state = event.state
        record.duration = event.duration
        record.message = _clean(event.message)
        record.tasks_run = event.tasks_run
        record.kept_directory = _clean(event.kept_directory)


# --- the result document ----------------------------------------------------------------------


def document(record: SessionRecord, state: SessionState | None = None) -> dict[str, Any]:
    """One session as plain data (JSON/YAML-ready); ``state`` overrides a missing end."""
    length = record.length
    status = state or record.state or "FAILED"
    return {
        "status": status,
        "job_name": record.job_name,
        "started": _iso(record.started_at),
        "duration": _seconds(record.duration if record.duration is not None else length),
        "message": record.message,
        "tasks_run": record.tasks_run,
        "kept_directory": record.kept_directory,
        "steps": [
            {"name": s.name, "tasks_run": s.tasks_run, "tasks_done": s.tasks_done} for s in record.steps
        ],
        "environments": [_span(span, length) for span in record.environments],
        "actions": [_action(action, length) for action in record.actions],
        "actions_omitted": record.actions_omitted,
        "messages": [
            {"at": _seconds(m.at), "level": m.level, "text": m.text, "action": m.action}
            for m in record.messages
        ],
        "messages_omitted": record.messages_omitted,
    }


def merged_document(
    records: list[tuple[str, SessionRecord]],
    status: SessionState,
    *,
    job_name: str,
    duration: float,
    message: str,
    tasks_run: int,
) -> dict[str, Any]:
    """Several sessions of one run (``--sessions N``): the run's end, then each session."""
    started = min((r.started_at for _, r in records), default=time.time())
    return {
        "status": status,
        "job_name": job_name,
        "started": _iso(started),
        "duration": _seconds(duration),
        "message": message,
        "tasks_run": tasks_run,
        "sessions": [{"session": tag, **document(record)} for tag, record in records],
    }


def dump(data: dict[str, Any], form: str) -> str:
    """The document as ``json`` (indented) or ``yaml`` text, ending with a newline."""
    if form == "yaml":
        return _yaml(data)
    return json.dumps(data, indent=2) + "\n"


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # PyYAML reads back NEL and the Unicode line separators wrongly in its other styles.
        style = '"' if any(char in value for char in "\x85\u2028\u2029") else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return str(yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=1 << 16))


def _action(action: ActionRecord, length: float) -> dict[str, Any]:
    return {
        "index": action.index,
        "kind": action.kind,
        "label": action.label,
        "command": action.command,
        "wrapped_by": action.wrapped_by,
        "step": action.step,
        "environment": action.environment,
        "start": _seconds(action.start),
        "duration": _seconds(action.duration(length)),
        "state": action.state,
        "exit_code": action.exit_code,
        "message": action.message,
        "progress": action.progress,
        "status": action.status,
        "updates": [
            {"at": _seconds(u.at), "progress": u.progress, "status": u.status} for u in action.updates
        ],
        "output": action.output.lines(),
        "output_bytes": action.output.total,
        "output_omitted": action.output.omitted,
    }


def _span(span: EnvironmentSpan, length: float) -> dict[str, Any]:
    end = span.end if span.end is not None else length
    return {
        "index": span.index,
        "name": span.name,
        "parent": span.parent,
        "start": _seconds(span.start),
        "duration": _seconds(end - span.start),
        "enter_action": span.enter_action,
        "exit_action": span.exit_action,
        "wraps": span.wraps,
    }


def walk(record: SessionRecord) -> Iterator[tuple[int | None, ActionRecord | EnvironmentSpan]]:
    """Every span and kept action with the span that holds it, in the order they began."""
    items: list[tuple[float, int, int | None, ActionRecord | EnvironmentSpan]] = []
    for span in record.environments:
        first = span.enter_action if span.enter_action is not None else span.exit_action
        items.append((first if first is not None else 0, 0, span.parent, span))
    for action in record.actions:
        items.append((action.index, 1, action.environment, action))
    items.sort(key=lambda item: (item[0], item[1]))
    for _, _, parent, item in items:
        yield parent, item


def _seconds(value: float) -> float:
    return round(value, 6)


def _iso(epoch: float) -> str:
    import datetime

    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clean(text: str | None) -> str:
    """Text safe to encode anywhere: lone surrogates (bytes that were not UTF-8) become U+FFFD."""
    if not text:
        return ""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _whole_characters(data: bytes) -> bytes:
    """``data`` without a UTF-8 sequence cut at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data
        if byte >= 0xC0:  # a lead byte: is its sequence complete?
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= need else data[:-back]
    return data


def _split(text: str) -> list[str]:
    if not text:
        return []
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines
