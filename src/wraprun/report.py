"""The HTML session report (``--report FILE.html``): the page of one run's sessions.

One self-contained page, no script and nothing fetched: a header (job, state,
duration, tasks, when), then a timeline with one bar per action, placed by its
start and duration on the session's scale and coloured by its state.
Environments are shaded spans that enclose the actions run inside them; a wrap
hook is a band over the action it ran for (``via ENV.onWrapTaskRun``). Each
bar's row gives its duration, exit code, last progress and status, and folds
its output (``<details>``).

The markup is the jinja2 template ``report.html.j2`` (autoescaped); this module
only works out what it shows: where bars go, which rows nest in which, the
durations as text. jinja2 is imported when a page is rendered, never before.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from .events import SessionState
from .record import ActionRecord, EnvironmentSpan, MessageRecord, SessionRecord, omission, walk

if TYPE_CHECKING:
    import jinja2

STATES = ("SUCCEEDED", "FAILED", "CANCELED", "TIMEOUT", "RUNNING")
INDENT = 14
"""Pixels of label indent per environment level."""


@dataclass
class Lane:
    """One session's record, with its tag and what it ran (``--sessions N``)."""

    tag: str
    work: str
    record: SessionRecord


def extent(lanes: list[Lane]) -> tuple[float, float]:
    """The earliest session start (monotonic) and the seconds from it to the last event."""
    started = [lane.record for lane in lanes if lane.record.origin or lane.record.last]
    if not started:
        return 0.0, 0.0
    base = min(record.origin for record in started)
    return base, max(record.origin - base + record.length for record in started)


def render(lanes: list[Lane], status: SessionState, message: str = "") -> str:
    """The whole page for these sessions (one lane per session) on one time scale."""
    base, total = extent(lanes)
    scale = _Scale(base, max(total, 1e-3) * 1.02)  # a little room after the last bar
    started = min((lane.record.started_at for lane in lanes if lane.record.started_at), default=0.0)
    merged: dict[str, list[int]] = {}  # a step's counts over every session
    for lane in lanes:
        for step in lane.record.steps:
            counts = merged.setdefault(step.name, [0, 0])
            counts[0] += step.tasks_run
            counts[1] += step.tasks_done
    page = _Page(
        job=next((lane.record.job_name for lane in lanes if lane.record.job_name), ""),
        status=status,
        message=message,
        total=total,
        tasks=sum(lane.record.tasks_run for lane in lanes),
        several=len(lanes) > 1 or any(lane.tag for lane in lanes),
        when=datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S UTC"
        ),
        steps=[(name, runs, done) for name, (runs, done) in merged.items()],
        messages=[(lane.tag, m) for lane in lanes for m in lane.record.messages],
        grid=scale.width(_step(scale.total)),
        ticks=_ticks(scale),
        lanes=[_lane(lane, scale) for lane in lanes],
    )
    return _template().render(page=page, states=STATES, indent=INDENT)


# --- what the template shows ----------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """Where a bar sits on its track, in percent of the track's width."""

    left: float
    width: float


@dataclass(frozen=True)
class _Tick:
    left: float
    label: str


@dataclass
class _Action:
    kind: ClassVar[str] = "action"
    action: ActionRecord
    depth: int
    seconds: float
    place: _Place
    via_left: float | None
    """Where ``via ENV.HOOK`` starts; None: it ends at ``via_right`` (a bar far right)."""
    via_right: float | None
    output: tuple[str, str, str] | None
    """(first text, the omission line or "", last text), or None without output."""


@dataclass
class _Gap:
    kind: ClassVar[str] = "gap"
    depth: int
    omitted: int


@dataclass
class _Environment:
    kind: ClassVar[str] = "env"
    span: EnvironmentSpan
    depth: int
    seconds: float
    place: _Place
    rows: list[_Row]


_Row = _Action | _Gap | _Environment


@dataclass
class _LaneView:
    title: str
    state: str
    tasks: int
    rows: list[_Row]
    empty: bool


@dataclass
class _Page:
    job: str
    status: str
    message: str
    total: float
    tasks: int
    several: bool
    when: str
    steps: list[tuple[str, int, int]]
    messages: list[tuple[str, MessageRecord]]
    grid: float
    ticks: list[_Tick]
    lanes: list[_LaneView]


@dataclass(frozen=True)
class _Scale:
    base: float
    total: float

    def left(self, shift: float, at: float) -> float:
        return min(100.0, max(0.0, (shift + at) / self.total * 100))

    def width(self, seconds: float) -> float:
        return min(100.0, max(0.0, seconds / self.total * 100))


def _ticks(scale: _Scale) -> list[_Tick]:
    unit, name = _unit(scale.total)
    step = _step(scale.total)
    return [
        _Tick(scale.width(index * step), f"{round(index * step / unit, 6):g} {name}")
        for index in range(int(scale.total / step + 1e-9) + 1)
    ]


def _unit(total: float) -> tuple[float, str]:
    """The unit a timeline of ``total`` seconds reads best in."""
    if total < 0.001:
        return 1e-6, "µs"
    if total < 1:
        return 1e-3, "ms"
    if total < 120:
        return 1.0, "s"
    if total < 7200:
        return 60.0, "min"
    return 3600.0, "h"


def _step(total: float) -> float:
    """Seconds between two ticks of a timeline of ``total`` seconds."""
    unit = _unit(total)[0]
    return _tick(total / unit) * unit


def _tick(total: float) -> float:
    """A round step (1, 2 or 5 × 10^k) giving at most 8 ticks over ``total``."""
    rough = total / 8
    power = 10 ** math.floor(math.log10(rough)) if rough > 0 else 1.0
    for factor in (1, 2, 5, 10):
        if factor * power >= rough:
            return float(factor * power)
    return 10 * power


def _lane(lane: Lane, scale: _Scale) -> _LaneView:
    record = lane.record
    rows = _Rows(scale, record)
    return _LaneView(
        title=" · ".join(p for p in (f"Session {lane.tag}" if lane.tag else "Session", lane.work) if p),
        state=record.state or "RUNNING",
        tasks=record.tasks_run,
        rows=rows.of(rows.children.get(None, []), 0),
        empty=not record.actions and not record.environments,
    )


class _Rows:
    """One lane's rows: each environment holding the rows of what ran inside it."""

    def __init__(self, scale: _Scale, record: SessionRecord) -> None:
        self.scale, self.length = scale, record.length
        self.shift = record.origin - scale.base if (record.origin or record.last) else 0.0
        self.children: dict[int | None, list[ActionRecord | EnvironmentSpan]] = {}
        for parent, item in walk(record):
            self.children.setdefault(parent, []).append(item)
        self.omitted = record.actions_omitted
        # The kept actions are the first and the last ones: the gap row goes after the first.
        self.gap_after = record.first_actions[-1].index if self.omitted and record.first_actions else None

    def place(self, start: float, seconds: float) -> _Place:
        return _Place(self.scale.left(self.shift, start), self.scale.width(seconds))

    def of(self, items: list[ActionRecord | EnvironmentSpan], depth: int) -> list[_Row]:
        rows: list[_Row] = []
        for item in items:
            if isinstance(item, EnvironmentSpan):
                seconds = (item.end if item.end is not None else self.length) - item.start
                inside = self.of(self.children.get(item.index, []), depth + 1)
                rows.append(_Environment(item, depth, seconds, self.place(item.start, seconds), inside))
            else:
                rows.append(self.action(item, depth))
                if item.index == self.gap_after:
                    rows.append(_Gap(depth, self.omitted))
        return rows

    def action(self, action: ActionRecord, depth: int) -> _Action:
        seconds = action.duration(self.length)
        place = self.place(action.start, seconds)
        # The hook's name reads from the bar's start, or back from its end for a bar far right.
        via_left = place.left if place.left < 60 else None
        via_right = None if via_left is not None else 100 - place.left - place.width
        output = None
        if action.output.total:
            head, omitted, tail = action.output.parts()
            output = (head, omission(omitted), tail) if omitted else (head, "", "")
        return _Action(action, depth, seconds, place, via_left, via_right, output)


# --- filters: text from a job, made visible -----------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def _symbol(character: str) -> str:
    """The symbol shown for a control character: ␀ … ␟, ␡, else U+FFFD."""
    code = ord(character)
    if code < 0x20:
        return chr(0x2400 + code)
    return "␡" if code == 0x7F else "\ufffd"


def visible(text: str) -> str:
    """One line of a job's text for a label or an attribute: ANSI dropped, controls as symbols."""
    text = _ANSI.sub("", text).replace("\r", "\u240d").replace("\n", "\u2424")
    return _UNSAFE.sub(lambda m: _symbol(m.group()), text)


def pieces(text: str, multiline: bool = False) -> list[tuple[str, bool]]:
    """A job's text as (text, is a control character's symbol) pieces: ANSI dropped.

    ``multiline``: line breaks kept (``\\r\\n`` and ``\\r`` as ``\\n``); else each shown as ␤.
    """
    text = _ANSI.sub("", text)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    else:
        text = text.replace("\n", "\u2424")
    found: list[tuple[str, bool]] = []
    at = 0
    for match in _UNSAFE.finditer(text):
        if match.start() > at:
            found.append((text[at : match.start()], False))
        found.append((_symbol(match.group()), True))
        at = match.end()
    if at < len(text):
        found.append((text[at:], False))
    return found


def state(text: str) -> str:
    """A state as a class name: one of STATES."""
    return text if text in STATES else "RUNNING"


def word(text: str) -> str:
    """A class-name-safe word."""
    return re.sub(r"[^a-z]", "", text.lower())[:20] or "info"


def duration(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1000:.2f} ms" if seconds > 0 else "0 s"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes:.0f} min {rest:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours:.0f} h {minutes:.0f} min"


@functools.cache
def _template() -> jinja2.Template:
    """report.html.j2, read from the installed package (jinja2 imported here, on first use)."""
    from importlib import resources

    import jinja2

    source = resources.files(__package__).joinpath("report.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(visible=visible, pieces=pieces, state=state, word=word, duration=duration)
    return env.from_string(source)
