"""What a run leaves behind: the result document (``--output json|yaml``) and the HTML report.

The report (``--report FILE.html``) is one self-contained page, no script and
nothing fetched: a header (job, state, duration, tasks, when), then a
timeline with one bar per action, placed by its start and duration on the
session's scale and coloured by its state. Environments are shaded spans
that enclose the actions run inside them; a wrap hook is a band over the
action it ran for (``via ENV.onWrapTaskRun``). Each bar's row gives its
duration, exit code, last progress and status, and folds its output
(``<details>``). Every text from a job is HTML-escaped, ANSI sequences are
dropped and other control characters shown as symbols (␀, ␛).
"""

from __future__ import annotations

import datetime
import errno
import html
import math
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import events
from .check import EXIT_CANCELED, EXIT_FAILED, EXIT_OK
from .events import SessionState
from .interrupts import silence_stdout
from .record import (
    ActionRecord,
    EnvironmentSpan,
    Masker,
    Recorder,
    SessionRecord,
    document,
    dump,
    merged_document,
    omission,
    walk,
)

if TYPE_CHECKING:
    from .parallel import ParallelRun
    from .runner import JobOutcome, Runner

STATES = ("SUCCEEDED", "FAILED", "CANCELED", "TIMEOUT", "RUNNING")
INDENT = 14
"""Pixels of label indent per environment level."""


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


# --- the run's records, for the CLI -------------------------------------------------------------


@dataclass
class Lane:
    """One session's record, with its tag and what it ran (``--sessions N``)."""

    tag: str
    work: str
    record: SessionRecord


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
            duration=_extent(lanes)[1],
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


# --- rendering --------------------------------------------------------------------------------


def render(lanes: list[Lane], status: SessionState, message: str = "") -> str:
    """The whole page for these sessions (one lane per session) on one time scale."""
    base, total = _extent(lanes)
    scale = _Scale(base, max(total, 1e-3) * 1.02)  # a little room after the last bar
    job = next((lane.record.job_name for lane in lanes if lane.record.job_name), "")
    started = min((lane.record.started_at for lane in lanes if lane.record.started_at), default=0.0)
    tasks = sum(lane.record.tasks_run for lane in lanes)
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f"<title>{_label(job or 'wraprun')} — {status}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n",
        _header(lanes, status, message, job, started, total, tasks),
        f'<div class="timeline" style="--grid:{scale.width(_step(scale.total)):.4f}%">\n',
        _ruler(scale),
    ]
    for lane in lanes:
        parts.append(_lane(lane, scale, several=len(lanes) > 1 or bool(lane.tag)))
    parts.append("</div>\n</body>\n</html>\n")
    return "".join(parts)


def _extent(lanes: list[Lane]) -> tuple[float, float]:
    """The earliest session start (monotonic) and the seconds from it to the last event."""
    started = [lane.record for lane in lanes if lane.record.origin or lane.record.last]
    if not started:
        return 0.0, 0.0
    base = min(record.origin for record in started)
    return base, max(record.origin - base + record.length for record in started)


@dataclass(frozen=True)
class _Scale:
    base: float
    total: float

    def left(self, shift: float, at: float) -> float:
        return min(100.0, max(0.0, (shift + at) / self.total * 100))

    def width(self, seconds: float) -> float:
        return min(100.0, max(0.0, seconds / self.total * 100))


def _header(
    lanes: list[Lane], status: str, message: str, job: str, started: float, total: float, tasks: int
) -> str:
    when = datetime.datetime.fromtimestamp(started, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    facts = [f"<b>{_duration(total)}</b>", f"{tasks} task{'s' if tasks != 1 else ''} run"]
    if len(lanes) > 1 or any(lane.tag for lane in lanes):
        facts.append(f"{len(lanes)} sessions")
    facts.append(f"started {when}")
    out = [
        f"<header><h1>{_label(job or '(no job)')} "
        f'<span class="badge s-{_state(status)}">{_label(status)}</span></h1>\n',
        f'<p class="meta">{" · ".join(facts)}</p>\n',
    ]
    if message:
        out.append(f'<p class="failure">{_text(message)}</p>\n')
    steps = [(lane.tag, step) for lane in lanes for step in lane.record.steps]
    if steps:
        out.append('<table class="steps"><tr><th>step</th><th>runs</th><th>tasks done</th></tr>\n')
        merged: dict[str, list[int]] = {}
        for _, step in steps:
            counts = merged.setdefault(step.name, [0, 0])
            counts[0] += step.tasks_run
            counts[1] += step.tasks_done
        for name, (runs, done) in merged.items():
            out.append(f"<tr><td>{_label(name)}</td><td>{runs}</td><td>{done}</td></tr>\n")
        out.append("</table>\n")
    out.append(_legend())
    messages = [(lane, m) for lane in lanes for m in lane.record.messages]
    if messages:
        plural = "s" if len(messages) != 1 else ""
        out.append(
            f'<details class="messages"><summary>{len(messages)} session message{plural}</summary><ul>'
        )
        for lane, m in messages:
            tag = f"[{_label(lane.tag)}] " if lane.tag else ""
            level = f'<span class="level-{_word(m.level)}">{_label(m.level)}</span>'
            out.append(f"<li>{_duration(m.at)} {tag}{level} {_text(m.text)}</li>")
        out.append("</ul></details>\n")
    out.append("</header>\n")
    return "".join(out)


def _legend() -> str:
    swatches = [f'<span class="sw s-{state}"></span>{state.lower()}' for state in STATES]
    swatches.append('<span class="sw env"></span>environment')
    swatches.append('<span class="sw wrap"></span>wrap hook')
    return f'<p class="legend">{"".join(swatches)}</p>\n'


def _ruler(scale: _Scale) -> str:
    unit, name = _unit(scale.total)
    step = _step(scale.total)
    ticks = []
    for index in range(int(scale.total / step + 1e-9) + 1):
        left = scale.width(index * step)
        anchor = " first" if index == 0 else ""
        label = f"{round(index * step / unit, 6):g} {name}"
        ticks.append(f'<span class="tick{anchor}" style="left:{left:.3f}%">{label}</span>')
    return (
        '<div class="row ruler"><span class="lab">action</span>'
        f'<span class="track">{"".join(ticks)}</span>'
        '<span class="info">duration · exit · progress</span></div>\n'
    )


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


def _lane(lane: Lane, scale: _Scale, several: bool) -> str:
    record = lane.record
    shift = record.origin - scale.base if (record.origin or record.last) else 0.0
    out = []
    if several:
        state = record.state or "RUNNING"
        title = " · ".join(p for p in (f"Session {lane.tag}" if lane.tag else "Session", lane.work) if p)
        tasks = f"{record.tasks_run} task{'s' if record.tasks_run != 1 else ''} run"
        out.append(
            f'<div class="row lanehead"><span class="lab">{_label(title)}</span><span class="track"></span>'
            f'<span class="info"><span class="badge s-{_state(state)}">{state}</span> {tasks}</span></div>\n'
        )
    children: dict[int | None, list[ActionRecord | EnvironmentSpan]] = {}
    for parent, item in walk(record):
        children.setdefault(parent, []).append(item)
    kept = record.actions
    gap_after = record.first_actions[-1].index if record.actions_omitted and record.first_actions else None
    ctx = _Context(scale, shift, record.length, children, gap_after, record.actions_omitted)
    out.append(_items(ctx, children.get(None, []), 0))
    if not kept and not record.environments:
        out.append('<div class="row empty"><span class="lab">no action ran</span></div>\n')
    return "".join(out)


@dataclass
class _Context:
    scale: _Scale
    shift: float
    length: float
    children: dict[int | None, list[ActionRecord | EnvironmentSpan]]
    gap_after: int | None
    omitted: int

    def place(self, start: float, seconds: float) -> str:
        return f"left:{self.scale.left(self.shift, start):.3f}%;width:{self.scale.width(seconds):.3f}%"


def _items(ctx: _Context, items: Iterable[ActionRecord | EnvironmentSpan], depth: int) -> str:
    out = []
    for item in items:
        if isinstance(item, EnvironmentSpan):
            out.append(_environment(ctx, item, depth))
        else:
            out.append(_action(ctx, item, depth))
            if item.index == ctx.gap_after:
                out.append(
                    f'<div class="row gap"><span class="lab" style="{_pad(depth)}">… {ctx.omitted:,} '
                    "actions not kept …</span></div>\n"
                )
    return "".join(out)


def _environment(ctx: _Context, span: EnvironmentSpan, depth: int) -> str:
    end = span.end if span.end is not None else ctx.length
    place = ctx.place(span.start, end - span.start)
    how = "" if span.enter_action is not None else " · entered without an action"
    wraps = '<span class="chip wraps">wraps</span>' if span.wraps else ""
    name = _label(span.name)
    return (
        f'<div class="env"><span class="lane-bg"><span class="shade" style="{place}"></span></span>'
        f'<span class="guide" style="left:{depth * INDENT + 9}px"></span>\n'
        f'<div class="row envhead"><span class="lab" style="{_pad(depth)}" title="{name}">'
        f'<span class="chip">env</span> {name} {wraps}</span>'
        f'<span class="track"><span class="span-bar" style="{place}"></span></span>'
        f'<span class="info">{_duration(end - span.start)}{how}</span></div>\n'
        f"{_items(ctx, ctx.children.get(span.index, []), depth + 1)}</div>\n"
    )


def _action(ctx: _Context, action: ActionRecord, depth: int) -> str:
    seconds = action.duration(ctx.length)
    state = _state(action.state)
    place = ctx.place(action.start, seconds)
    label = _label(action.label)
    track = []
    wrapped = bool(action.wrapped_by)
    if wrapped:
        via = f"via {_label(action.wrapped_by)}.{_label(action.kind)}"
        left = ctx.scale.left(ctx.shift, action.start)
        anchor = (
            f"left:{left:.3f}%"
            if left < 60
            else f"right:{100 - left - ctx.scale.width(seconds):.3f}%;text-align:right"
        )
        track.append(
            f'<span class="band" style="{place}"></span><span class="via" style="{anchor}">{via}</span>'
        )
    track.append(f'<span class="bar s-{state}" style="{place}"></span>')
    facts = [f"<b>{_duration(seconds)}</b>"]
    if action.exit_code is not None:
        facts.append(f"exit {action.exit_code}")
    if action.state != "SUCCEEDED":
        facts.append(f'<span class="t-{state}">{_label(action.state)}</span>')
    if action.progress is not None:
        facts.append(f"{action.progress:.0f}%")
    if action.status:
        facts.append(f'<span class="status">{_label(action.status)}</span>')
    message = f'<span class="msg">{_label(action.message)}</span>' if action.message else ""
    has_output = action.output.total > 0 or len(action.updates) > 0
    row = (
        f'<span class="lab" style="{_pad(depth)}" title="{label}">'
        f'<span class="fold">{"▸" if has_output else ""}</span>{label}</span>'
        f'<span class="track">{"".join(track)}</span>'
        f'<span class="info">{" · ".join(facts)}{message}</span>'
    )
    classes = "row act" + (" wrapped" if wrapped else "")
    if not has_output:
        return f'<div class="{classes}">{row}</div>\n'
    unfolded = " open" if action.state in ("FAILED", "TIMEOUT") else ""  # why it failed, at once
    return (
        f'<details class="action"{unfolded}><summary class="{classes}">{row}</summary>'
        f'<div class="detail" style="margin-left:{depth * INDENT + 12}px">{_detail(action, seconds)}</div>'
        "</details>\n"
    )


def _detail(action: ActionRecord, seconds: float) -> str:
    where = f" via {_label(action.wrapped_by)}" if action.wrapped_by else ""
    facts = [
        f"{_label(action.kind)}{where}",
        *([f"command <code>{_label(action.command)}</code>"] if action.command else []),
        f"started at {_duration(action.start)}",
        f"took {_duration(seconds)}",
        f"{action.output.total:,} bytes of output",
    ]
    if not action.started:
        facts.append("failed before its process started")
    out = [f'<p class="facts">{" · ".join(facts)}</p>']
    if action.updates:
        shown = [
            f"{_duration(u.at)}: "
            + " ".join(
                p
                for p in (
                    f"{u.progress:.0f}%" if u.progress is not None else "",
                    _label(u.status) if u.status else "",
                )
                if p
            )
            for u in action.updates
        ]
        dropped = f"{action.updates_dropped} earlier update(s) not kept; " if action.updates_dropped else ""
        out.append(f'<p class="updates">{dropped}{" · ".join(shown)}</p>')
    if action.output.total:
        head, omitted, tail = action.output.parts()
        body = _text(head, multiline=True)
        if omitted:
            body += f'<span class="cut">{html.escape(omission(omitted))}</span>\n'
            body += _text(tail, multiline=True)
        out.append(f'<pre class="out">{body}</pre>')
    return "".join(out)


# --- text ---------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        symbol = chr(0x2400 + code)  # ␀ … ␟
    elif code == 0x7F:
        symbol = "␡"
    else:
        symbol = "�"
    return f"\x00{symbol}\x01"


def _text(text: str, multiline: bool = False) -> str:
    """Text from a job as HTML: escaped, ANSI sequences dropped, control characters shown."""
    text = _ANSI.sub("", text)
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    else:
        text = text.replace("\n", "\u2424")
    marked = _UNSAFE.sub(_visible, text)
    escaped = html.escape(marked, quote=True)
    return escaped.replace("\x00", '<span class="ctl">').replace("\x01", "</span>")


def _label(text: str) -> str:
    """One-line text for a label or an attribute: escaped, control characters as symbols."""
    text = _ANSI.sub("", text).replace("\r", "\u240d").replace("\n", "\u2424")
    return html.escape(_UNSAFE.sub(lambda m: _visible(m)[1], text), quote=True)


def _word(text: str) -> str:
    """A class-name-safe word."""
    return re.sub(r"[^a-z]", "", text.lower())[:20] or "info"


def _state(state: str) -> str:
    return state if state in STATES else "RUNNING"


def _pad(depth: int) -> str:
    return f"padding-left:{depth * INDENT + 10}px"


def _duration(seconds: float) -> str:
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


_CSS = """
:root{--label:340px;--info:300px}
*{box-sizing:border-box}
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1f2933;
margin:22px 26px;background:#fff}
h1{font-size:20px;margin:0 0 2px;font-weight:650}
.meta{color:#52606d;margin:2px 0 10px}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;color:#fff;font-size:11px;font-weight:700;
letter-spacing:.03em;vertical-align:3px}
.failure{background:#fdecea;border:1px solid #f3beb8;color:#8a1c14;padding:6px 10px;border-radius:5px;
margin:6px 0 10px;white-space:pre-wrap}
table.steps{border-collapse:collapse;margin:4px 0 10px;font-size:12px}
table.steps th,table.steps td{padding:2px 12px 2px 0;text-align:left}
table.steps th{color:#7b8794;font-weight:600}
.legend{color:#52606d;font-size:12px;margin:6px 0}
.legend .sw{display:inline-block;width:14px;height:10px;border-radius:2px;margin:0 5px 0 14px;
vertical-align:-1px}
.legend .sw:first-child{margin-left:0}
.sw.env{background:#e7eff8;border:1px solid #8fadd0}
.sw.wrap{background:#e4dcfa;border-top:3px solid #7c5cc4}
details.messages{margin:4px 0 12px;font-size:12px;color:#3e4c59}
details.messages ul{margin:4px 0;padding-left:18px}
.level-warning{color:#b45309;font-weight:600}.level-error{color:#b91c1c;font-weight:600}
.timeline{border:1px solid #d9e2ec;border-radius:7px;overflow:hidden;margin-top:8px}
.row{display:grid;grid-template-columns:var(--label) 1fr var(--info);align-items:stretch;min-height:26px;
border-top:1px solid #eef2f6;position:relative;z-index:1}
.row>span{display:block;min-width:0}
.lab{padding:4px 8px 4px 10px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;align-self:center}
.track{position:relative;background-image:repeating-linear-gradient(to right,#e4e9ef 0,#e4e9ef 1px,
transparent 1px,transparent var(--grid,100%));border-left:1px solid #d9e2ec;border-right:1px solid #d9e2ec}
.info{padding:4px 10px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;color:#3e4c59;
font-variant-numeric:tabular-nums;align-self:center}
.info .msg{display:block;color:#b3261e;font-size:11.5px;overflow:hidden;text-overflow:ellipsis}
.info .status{color:#52606d;font-style:italic}
.ruler{background:#f5f7fa;color:#616e7c;font-size:11px;border-top:0;min-height:24px;position:sticky;top:0;
z-index:3}
.ruler .track{background-image:none}
.tick{position:absolute;top:5px;transform:translateX(-50%);white-space:nowrap}
.tick.first{transform:none;padding-left:3px}
.bar{position:absolute;top:50%;height:14px;margin-top:-7px;border-radius:3px;min-width:3px;
box-shadow:inset 0 -1px 0 rgba(0,0,0,.15)}
.wrapped{min-height:38px}
.wrapped .bar{top:19px;margin-top:0}
.band{position:absolute;top:15px;height:4px;background:#7c5cc4;border-radius:2px 2px 0 0;min-width:3px}
.via{position:absolute;top:3px;font-size:10px;line-height:11px;color:#5b3fb0;white-space:nowrap}
.s-SUCCEEDED{background:#2f9e5b}.s-FAILED{background:#d64541}.s-CANCELED{background:#8a94a6}
.s-TIMEOUT{background:#e07b12}
.s-RUNNING{background:repeating-linear-gradient(45deg,#3b82c4 0,#3b82c4 6px,#6aa6dc 6px,#6aa6dc 12px)}
.t-FAILED{color:#b3261e;font-weight:600}.t-TIMEOUT{color:#b45309;font-weight:600}
.t-CANCELED{color:#616e7c;font-weight:600}.t-RUNNING{color:#1f6fb2;font-weight:600}
.env{position:relative}
.lane-bg{position:absolute;top:0;bottom:0;left:var(--label);right:var(--info);z-index:0;pointer-events:none}
.shade{position:absolute;top:3px;bottom:3px;background:rgba(80,130,190,.08);border:1px solid #9db7d6;
border-radius:5px;min-width:3px}
.guide{position:absolute;top:13px;bottom:8px;width:2px;background:#c6d6e9;border-radius:1px;z-index:2}
.envhead .lab{font-weight:600;color:#243b53}
.envhead .info{color:#486581}
.span-bar{position:absolute;top:50%;height:3px;margin-top:-1px;background:#8fadd0;border-radius:2px;min-width:3px}
.chip{display:inline-block;font-size:9.5px;font-weight:700;color:#335c8c;background:#dde8f5;border-radius:3px;
padding:0 4px;margin-right:3px;vertical-align:1px;text-transform:uppercase;letter-spacing:.04em}
.chip.wraps{color:#5b3fb0;background:#e9e2fb}
.lanehead{background:#f0f4f8;border-top:1px solid #cbd2d9}
.lanehead .lab{font-weight:650}
.gap .lab,.empty .lab{color:#7b8794;font-style:italic}
details.action>summary{list-style:none;cursor:pointer}
details.action>summary::-webkit-details-marker{display:none}
details.action>summary:hover{background:rgba(15,40,80,.035)}
.fold{display:inline-block;width:12px;color:#7b8794;font-size:10px}
details[open].action .fold{transform:rotate(90deg)}
.detail{padding:4px 14px 10px 14px;position:relative;z-index:1;background:#fff;border-top:1px solid #eef2f6}
.facts,.updates{margin:2px 0 4px;color:#52606d;font-size:12px}
.facts code{font:11.5px ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;color:#243b53}
pre.out{margin:0;max-height:360px;overflow:auto;background:#f7f9fb;border:1px solid #e1e6ec;border-radius:5px;
padding:7px 10px;font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;
white-space:pre-wrap;word-break:break-all}
.ctl{color:#9a6700;background:#fff4d6;border-radius:2px}
.cut{display:block;color:#7b8794;font-style:italic;border-top:1px dashed #cbd2d9;
border-bottom:1px dashed #cbd2d9;margin:3px 0}
"""
