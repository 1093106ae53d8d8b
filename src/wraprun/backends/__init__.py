"""Where a job's work runs when it outgrows one session: this host's sessions, or a cluster.

The unit of work is a :class:`Slice`: some of one step's tasks (positions
[start, stop) of the step's task order), run in ONE session, so that the
step's environments are entered once for all of them, exactly as
``wraprun run JOB --step STEP --slice START:STOP`` does. A :class:`Backend`
takes the slices of every step with the steps each waits on, reports each
slice's state, and cancels what is left. Scheduling itself (queues, retries,
priorities, placement) is the backend's engine's: wraprun does not
re-implement a scheduler. ``local`` runs slices as concurrent sessions on this
host; ``slurm`` as Slurm job arrays. A Kubernetes Indexed Job or an HTCondor
backend is one more module of the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

SliceState = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"]
TERMINAL: frozenset[SliceState] = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})


@dataclass(frozen=True)
class Slice:
    step: str
    start: int
    stop: int
    """Positions [start, stop) of the step's task (or chunk) order."""

    @property
    def size(self) -> int:
        return self.stop - self.start

    def __str__(self) -> str:
        return f"{self.step}[{self.start}:{self.stop}]"


@dataclass(frozen=True)
class StepWork:
    """One step's slices, and the steps that must have succeeded before any of them starts."""

    step: str
    slices: tuple[Slice, ...]
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class SliceStatus:
    slice: Slice
    state: SliceState
    log: str = ""
    """Where the slice's output is (a file), when the backend keeps it apart."""


class Backend(Protocol):
    """Runs slices somewhere; the caller watches and may cancel."""

    def submit(self, work: Sequence[StepWork]) -> None:
        """Start (or queue) every slice; a step's slices wait for the steps in its ``after``,
        and never start when one of those fails."""

    def poll(self) -> list[SliceStatus]:
        """Every submitted slice's state now."""

    def cancel(self) -> None:
        """Stop what runs and drop what waits (running slices tear their sessions down)."""


def split(step: str, count: int, parts: int | None = None, size: int | None = None) -> tuple[Slice, ...]:
    """``count`` positions cut into ``parts`` near-equal slices, or slices of ``size``."""
    if count <= 0:
        return ()
    if size is None:
        parts = max(1, min(parts or 1, count))
        size, extra = divmod(count, parts)
        bounds, start = [], 0
        for index in range(parts):
            stop = start + size + (1 if index < extra else 0)
            bounds.append((start, stop))
            start = stop
        return tuple(Slice(step, a, b) for a, b in bounds)
    return tuple(Slice(step, a, min(a + size, count)) for a in range(0, count, size))
