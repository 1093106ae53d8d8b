"""The ``local`` backend: slices as concurrent sessions on this host.

Each slice runs in a session of its own, on a thread of its own: a
:class:`wraprun.runner.Runner` over the job's plan cut down to the slice's step
and tasks, so the job's and the step's environments are entered once for the
slice, its tasks run in order, and every environment entered is exited. At
most ``sessions`` run at once. A step's slices start, in order, once every
slice of the steps it waits on has succeeded.

A slice that fails (or is canceled) stops new work for its step and for every
step that waits on it, directly or not: their slices that have not started end
CANCELED without starting; those of its own step that are running finish the
task they run, start no other, and tear down (:meth:`Runner.finish`).

:meth:`LocalBackend.cancel` takes no lock, so a signal handler may call it
while the main thread holds one: the first call cancels every running
session (each cancels its action and tears down) and drops what waits, a
second makes every session kill its action and skip what teardown remains.
Scheduling decisions are made under one lock, by whichever thread changes
the picture: :meth:`submit`, and each session's thread as it ends.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import events
from ..job import JobPlan
from ..redact import Redactor
from ..runner import Runner
from . import TERMINAL, Slice, SliceState, SliceStatus, StepWork

FAILING: frozenset[events.ActionState] = frozenset({"FAILED", "TIMEOUT"})

EmitFor = Callable[[str, Slice], events.EventCallback]
"""Where a session's events go, given its tag (``s1``, ``s2``... in the order sessions start) and slice."""


@dataclass
class _Entry:
    slice: Slice
    after: tuple[str, ...]
    state: SliceState = "PENDING"
    tag: str = ""
    runner: Runner | None = None
    failing: bool = False
    """An action of its session failed: the session is ending, and will end FAILED."""


class LocalBackend:
    """Runs slices of ``plan``'s steps as at most ``sessions`` concurrent sessions."""

    def __init__(
        self,
        plan: JobPlan,
        *,
        sessions: int,
        emit_for: EmitFor,
        retain_working_directory: bool = False,
        root: str | None = None,
    ) -> None:
        if sessions < 1:
            raise ValueError(f"sessions must be at least 1, got {sessions}")
        self.plan = plan
        self.sessions = sessions
        self.emit_for = emit_for
        self.retain = retain_working_directory
        self.root = root
        self._steps = {step.step.name: step for step in plan.steps}
        self._entries: list[_Entry] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._done.set()  # nothing submitted: nothing to wait for
        self._running: dict[int, Runner] = {}
        """Runners by id(entry), read without the lock by :meth:`cancel`."""
        self._started = 0
        self._cancels = 0
        self.redactor = Redactor()
        """One set of secrets for every session: a value one session declares with
        ``openjd_redacted_env`` is masked in what all of them show from then on, as
        it would be in one session (their output goes to the same place)."""
        self.errors: list[BaseException] = []
        """What went wrong inside the backend (a bug): the caller re-raises the first."""

    # --- the Backend protocol ---------------------------------------------------------------

    def submit(self, work: Sequence[StepWork]) -> None:
        with self._lock:
            for step in work:
                if step.step not in self._steps:
                    raise ValueError(f"step '{step.step}' is not in the plan")
                self._entries += [_Entry(piece, step.after) for piece in step.slices]
            self._done.clear()
            self._settle()

    def poll(self) -> list[SliceStatus]:
        with self._lock:
            return [SliceStatus(entry.slice, entry.state) for entry in self._entries]

    def cancel(self) -> None:
        """First call: cancel every session and drop what waits; second: force. No lock taken."""
        self._cancels += 1
        for runner in list(self._running.values()):  # one C-level copy: safe beside other threads
            runner.interrupt()

    # --- beyond the protocol ----------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> bool:
        """Whether every slice has ended (waits up to ``timeout`` seconds for it)."""
        return self._done.wait(timeout)

    def tags(self) -> dict[Slice, str]:
        """The session tag of every slice that started."""
        with self._lock:
            return {entry.slice: entry.tag for entry in self._entries if entry.tag}

    # --- scheduling (under the lock) --------------------------------------------------------

    def _settle(self) -> None:
        """Drop what can no longer run, start what may, and tell when all has ended."""
        stopped = self._stopped_steps()
        running = 0
        for entry in self._entries:
            if entry.state == "RUNNING":
                running += 1
                if entry.slice.step in stopped and entry.runner is not None:
                    entry.runner.finish()
            elif entry.state == "PENDING" and (self._cancels or entry.slice.step in stopped):
                entry.state = "CANCELED"
        for entry in self._entries:
            if running >= self.sessions:
                break
            if entry.state == "PENDING" and self._ready(entry):
                running += self._start(entry)
        if all(entry.state in TERMINAL for entry in self._entries):
            self._done.set()

    def _stopped_steps(self) -> set[str]:
        """Steps that may start no new work: one of their slices failed or was canceled,
        or they wait, directly or not, on such a step."""
        stopped = {e.slice.step for e in self._entries if e.failing or e.state in ("FAILED", "CANCELED")}
        changed = True
        while changed:  # to a fixed point: the order of submission need not be the order of steps
            changed = False
            for entry in self._entries:
                if entry.slice.step not in stopped and stopped.intersection(entry.after):
                    stopped.add(entry.slice.step)
                    changed = True
        return stopped

    def _ready(self, entry: _Entry) -> bool:
        return all(e.state == "SUCCEEDED" for e in self._entries if e.slice.step in entry.after)

    def _start(self, entry: _Entry) -> int:
        if self._cancels:
            entry.state = "CANCELED"
            return 0
        self._started += 1
        entry.tag = f"s{self._started}"
        step = self._steps[entry.slice.step]
        share = dataclasses.replace(step, tasks=step.tasks[entry.slice.start : entry.slice.stop])
        plan = dataclasses.replace(self.plan, steps=[share])
        runner = Runner(
            plan,
            self._watch(entry),
            retain_working_directory=self.retain,
            root=self.root,
            redactor=self.redactor,
        )
        entry.runner = runner
        # Seen by cancel() from now on; a cancel that came since the check above is seen here.
        self._running[id(entry)] = runner
        if self._cancels:
            del self._running[id(entry)]
            entry.state = "CANCELED"
            return 0
        entry.state = "RUNNING"
        thread = threading.Thread(
            target=self._serve, args=(entry, runner), name=f"wraprun-{entry.tag}", daemon=True
        )
        thread.start()
        return 1

    def _watch(self, entry: _Entry) -> events.EventCallback:
        """The session's events, to where the caller wants them; a failed action stops new work
        at once, not when the failed session has torn down."""
        emit = self.emit_for(entry.tag, entry.slice)

        def watch(event: events.Event) -> None:
            if isinstance(event, events.ActionEnded) and event.state in FAILING and not entry.failing:
                with self._lock:
                    entry.failing = True
                    self._settle()
            emit(event)

        return watch

    def _serve(self, entry: _Entry, runner: Runner) -> None:
        state: SliceState = "FAILED"
        try:
            state = runner.run().state
        except BaseException as exc:  # noqa: BLE001 - a bug: kept for the caller, the others go on
            self.errors.append(exc)
        finally:
            with self._lock:
                entry.state = state
                self._running.pop(id(entry), None)
                try:
                    self._settle()
                except BaseException as exc:  # noqa: BLE001 - never leave the caller waiting
                    self.errors.append(exc)
                    self._done.set()
