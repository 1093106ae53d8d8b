"""TASK_CHUNKING (RFC 0001): chunks sized while the step runs, to come near ``targetRuntimeSeconds``.

A step whose CHUNK[INT] parameter has ``targetRuntimeSeconds`` above 0 has no
chunk list fixed in advance: its chunks start at ``defaultTaskCount`` tasks
and the next chunk is sized from how long the finished ones took. (With 0, or
without the field, openjd-model's iterator makes the chunks, all
``defaultTaskCount``, and this module is not involved.)

**Order.** The step's tasks are laid out as the parameter space's other
combinations, in openjd-model's order, each with the chunk parameter's values
innermost, in the order of its range; this is the order openjd-model's Python
reference gives adaptive iteration. A position is one task of that layout, so
a slice of positions (another session's share) is a run of values for each
combination, and a chunk never spans two combinations. A chunk takes the next
values up to the current size; with ``CONTIGUOUS`` it also stops where the
values stop being consecutive integers, and its text is ``FIRST-LAST``; with
``NONCONTIGUOUS`` its text is the range expression of its values.

**Sizing** (:func:`next_chunk_size`) is the rule the official CLI uses: from
the tasks a walk has run so far and the seconds their chunks took, the size
that would take the target; when that is larger than the current size and
fewer than :data:`FEW_TASKS` tasks have run, only a quarter of the way there
(little evidence: grow with care); shrinking is never damped. Each walk (one
session's run of one slice) keeps its own figures: sessions that share a
step do not pool them, so one session's slow hardware or slow frames do not
size another's chunks, and no session waits on another to size its next chunk.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from .model import TaskParameters, rs

FEW_TASKS = 10
"""Below this many tasks run, a size estimate larger than the current size is only partly taken."""


def next_chunk_size(current: int, tasks_run: int, seconds: float, target: float) -> int:
    """The size of the next chunk, after ``tasks_run`` tasks took ``seconds`` in all.

    Without a measurable time (nothing ran, or a clock that did not move) the
    size stays: there is nothing to go by.
    """
    if tasks_run <= 0 or not (seconds > 0.0 and math.isfinite(seconds)):
        return current
    ideal = target * tasks_run / seconds
    if ideal > current and tasks_run < FEW_TASKS:
        ideal = current + (ideal - current) / 4
    return max(1, int(ideal))


def adaptive(step: rs.Step) -> bool:
    """Whether the step's chunks are sized while it runs (a CHUNK[INT] with targetRuntimeSeconds > 0)."""
    return _chunk_parameter(step) is not None


def static_iterator(step: rs.Step) -> rs.StepParameterSpaceIterator:
    """openjd-model's iterator over the step's tasks (or chunks), with random access.

    For an adaptive step that is the chunks at ``defaultTaskCount``: what runs
    when the user picks tasks (``--tasks``), where there is nothing to adapt.
    """
    found = _chunk_parameter(step)
    if found is None:
        return rs.StepParameterSpaceIterator(step=step)
    return rs.StepParameterSpaceIterator(
        step=step, chunks_task_count_override=found[1].chunks.default_task_count
    )


def _chunk_parameter(step: rs.Step) -> tuple[str, rs.ChunkIntTaskParameter] | None:
    """The step's CHUNK[INT] parameter (there is at most one), when its chunks adapt."""
    space = step.parameter_space
    if space is None:
        return None
    for name, parameter in space.task_parameter_definitions.items():
        if isinstance(parameter, rs.ChunkIntTaskParameter):
            target = parameter.chunks.target_runtime_seconds
            return (name, parameter) if target is not None and target > 0 else None
    return None


class _Layout:
    """Where each position of an adaptive step is: (combination of the other parameters, value).

    A plain class, not a dataclass: it is read on every run's start, and the
    decorator's work would cost that start more than the class does.
    """

    def __init__(self, step: rs.Step, name: str, parameter: rs.ChunkIntTaskParameter) -> None:
        space = step.parameter_space
        assert space is not None
        chunks = parameter.chunks
        assert chunks.target_runtime_seconds is not None
        self.name = name
        self.values: list[int] | rs.RangeExpr = parameter.range
        """The chunk parameter's values in range order (a RangeExpr is sorted and without repeats)."""
        self.contiguous = chunks.range_constraint == "CONTIGUOUS"
        self.first_size = chunks.default_task_count
        self.target = chunks.target_runtime_seconds
        # The same space with the chunk parameter held to one value: its iterator walks the
        # other parameters' combinations in openjd-model's order, whatever the combination
        # expression (a CHUNK[INT] may not sit in an association, so the expression stays valid).
        held = {
            "type": "CHUNK[INT]",
            "range": [self.values[0]],
            "chunks": {"defaultTaskCount": 1, "rangeConstraint": "NONCONTIGUOUS"},
        }
        definitions = {
            other: held if other == name else {"type": p.type, "range": p.range}
            for other, p in space.task_parameter_definitions.items()
        }
        others = rs.StepParameterSpace(taskParameterDefinitions=definitions, combination=space.combination)
        self.combinations = rs.StepParameterSpaceIterator(space=others)
        """The other parameters' combinations, in openjd-model's order (random access)."""

    @property
    def size(self) -> int:
        return len(self.combinations) * len(self.values)

    def chunk(self, position: int, most: int) -> tuple[TaskParameters, int]:
        """The chunk that starts at ``position``, of at most ``most`` tasks, and how many it holds.

        ``most`` must not reach past the end of the position's combination.
        """
        combination, index = divmod(position, len(self.values))
        count = self._run(index, most) if self.contiguous else most
        if self.contiguous:
            text = f"{self.values[index]}-{self.values[index + count - 1]}"
        else:
            text = str(rs.RangeExpr.from_list([self.values[i] for i in range(index, index + count)]))
        task = dict(self.combinations[combination])
        task[self.name] = rs.TaskParameterValue(type=rs.TaskParameterType.CHUNK_INT, value=text)
        return task, count

    def _run(self, index: int, most: int) -> int:
        """How many values from ``index`` (at most ``most``) are consecutive integers."""
        values, first = self.values, self.values[index]
        if isinstance(values, list):  # a list range: at most 1024 values, in the template's order
            count = 1
            while count < most and values[index + count] == values[index + count - 1] + 1:
                count += 1
            return count
        # Sorted without repeats: the values from index to index+k are consecutive exactly
        # when the last is first+k, so the longest such run is found by bisection.
        low, high = 1, most
        while low < high:
            middle = (low + high + 1) // 2
            if values[index + middle - 1] == first + middle - 1:
                low = middle
            else:
                high = middle - 1
        return low


class AdaptiveChunks:
    """The tasks of an adaptive step (or of a slice of it), handed out as chunks while they run.

    Its length is the number of tasks (positions; what a slice counts), not of
    chunks, which are known only as they are made. Each iteration is a
    :class:`ChunkWalk` with figures of its own.
    """

    def __init__(self, layout: _Layout, positions: range, limit: int | None = None) -> None:
        self.layout = layout
        self.positions = positions
        self.limit = limit
        """At most this many chunks (``--maximum-tasks``)."""

    @classmethod
    def of(cls, step: rs.Step) -> AdaptiveChunks:
        found = _chunk_parameter(step)
        if found is None:
            raise ValueError(f"step '{step.name}' has no chunk parameter with a target runtime")
        layout = _Layout(step, *found)
        return cls(layout, range(layout.size))

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, index: slice) -> AdaptiveChunks:
        return AdaptiveChunks(self.layout, self.positions[index], self.limit)

    def limited(self, chunks: int) -> AdaptiveChunks:
        return AdaptiveChunks(
            self.layout, self.positions, chunks if self.limit is None else min(self.limit, chunks)
        )

    def __iter__(self) -> ChunkWalk:
        return ChunkWalk(self)

    @property
    def target(self) -> int:
        return self.layout.target


class ChunkWalk(Iterator[TaskParameters]):
    """One run through an :class:`AdaptiveChunks`: each chunk is made when asked for, at the
    size the chunks before it call for (tell it how long each took with :meth:`ran`)."""

    def __init__(self, chunks: AdaptiveChunks) -> None:
        self._layout = chunks.layout
        positions = chunks.positions
        assert positions.step == 1, "a slice of positions is contiguous"
        self._next, self._stop = positions.start, positions.stop
        self._left = chunks.limit
        self.target = chunks.target
        self.size = self._layout.first_size
        """How many tasks the next chunk takes (fewer where its combination or slice ends)."""
        self.covered = 0
        """Tasks in the chunks handed out so far."""
        self._last = 0
        self.tasks_run = 0
        self.seconds = 0.0

    def __next__(self) -> TaskParameters:
        if self._next >= self._stop or self._left == 0:
            raise StopIteration
        per_combination = len(self._layout.values)
        end = min(self._stop, (self._next // per_combination + 1) * per_combination)
        task, count = self._layout.chunk(self._next, min(self.size, end - self._next))
        self._next += count
        self._last = count
        self.covered += count
        if self._left is not None:
            self._left -= 1
        return task

    def ran(self, seconds: float) -> None:
        """The chunk handed out last took ``seconds``: size the next one."""
        self.tasks_run += self._last
        self.seconds += seconds
        self.size = next_chunk_size(self.size, self.tasks_run, self.seconds, self._layout.target)
