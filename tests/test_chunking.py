"""TASK_CHUNKING targetRuntimeSeconds: chunks sized while the step runs.

The rule's direction is checked with lower bounds only (a task that sleeps
takes at least that long), never with an upper bound on a machine's speed.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wraprun import chunking, job
from wraprun.model import rs

from .helpers import wraprun, write

# Each run of a chunk: sleep SECONDS per frame, then append "X FRAME" lines to the record.
CHUNK_TASK = """\
import sys, time
record, frames, other, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
values = []
for part in frames.split(","):
    first, _, last = part.partition("-")
    values += range(int(first), int(last or first) + 1)
time.sleep(seconds * len(values))
with open(record, "a") as out:
    out.writelines(f"{other} {v}\\n" for v in values)
"""


def chunked_job(
    tmp_path: Path,
    frames: str | list[int] = "1-30",
    *,
    default: int = 1,
    target: int | str = 5,
    seconds: float = 0.0,
    constraint: str = "CONTIGUOUS",
    others: list[str] | None = None,
    combination: str | None = None,
) -> Path:
    definitions: list[dict[str, Any]] = [
        {
            "name": "F",
            "type": "CHUNK[INT]",
            "range": frames,
            "chunks": {
                "defaultTaskCount": default,
                "targetRuntimeSeconds": target,
                "rangeConstraint": constraint,
            },
        }
    ]
    if others is not None:
        definitions.append({"name": "X", "type": "STRING", "range": others})
    space: dict[str, Any] = {"taskParameterDefinitions": definitions}
    if combination:
        space["combination"] = combination
    other = "{{Task.Param.X}}" if others is not None else "-"
    args = ["-c", CHUNK_TASK, str(tmp_path / "record"), "{{Task.Param.F}}", other, str(seconds)]
    step = {
        "name": "S",
        "parameterSpace": space,
        "script": {"actions": {"onRun": {"command": sys.executable, "args": args}}},
    }
    document = {
        "specificationVersion": "jobtemplate-2023-09",
        "extensions": ["TASK_CHUNKING"],
        "name": "Chunks",
        "steps": [step],
    }
    return write(tmp_path / "job.yaml", document)


def chunks_run(stdout: str) -> list[str]:
    """The chunk parameter of each task started, in order (any session)."""
    return re.findall(r"==> Task S \((?:F=([^,)]*))", stdout)


def size(chunk: str) -> int:
    return len(rs.RangeExpr(chunk))


def recorded(tmp_path: Path) -> Counter[str]:
    return Counter((tmp_path / "record").read_text().splitlines())


# --- the rule ---------------------------------------------------------------------------------


def test_faster_than_the_target_grows_a_quarter_of_the_way_while_few_tasks_have_run() -> None:
    # 2 tasks in 0.2 s: 50 would take the 5 s target; with little evidence, a quarter of the way.
    assert chunking.next_chunk_size(2, 2, 0.2, 5) == 14
    # From FEW_TASKS on, all the way.
    assert chunking.next_chunk_size(14, chunking.FEW_TASKS, 0.5, 5) == 100


def test_slower_than_the_target_shrinks_at_once() -> None:
    assert chunking.next_chunk_size(8, 8, 16.0, 5) == 2  # 2 s a task: 2.5 tasks fill 5 s
    assert chunking.next_chunk_size(8, 8, 800.0, 5) == 1  # never below one task


def test_without_a_measurable_time_the_size_stays() -> None:
    assert chunking.next_chunk_size(3, 3, 0.0, 5) == 3
    assert chunking.next_chunk_size(3, 0, 1.0, 5) == 3
    assert chunking.next_chunk_size(3, 3, float("inf"), 5) == 3


@given(
    current=st.integers(1, 10_000),
    tasks=st.integers(1, 10_000),
    seconds=st.floats(1e-6, 1e6),
    target=st.integers(1, 100_000),
)
def test_the_size_moves_toward_the_target(current: int, tasks: int, seconds: float, target: int) -> None:
    ideal = target * tasks / seconds
    new = chunking.next_chunk_size(current, tasks, seconds, target)
    assert new >= 1
    if ideal >= current:
        assert current <= new <= max(current, int(ideal))
    else:
        assert max(1, int(ideal)) == new <= current


# --- which tasks each chunk holds ---------------------------------------------------------------


def every_task(step: rs.Step) -> Counter[tuple[str, int]]:
    """(other parameters, frame) of each task of the step, from openjd-model's own walk."""
    walk = rs.StepParameterSpaceIterator(step=step, chunks_task_count_override=1)
    return Counter(
        (task["X"].value if "X" in task else "-", int(task["F"].value.split("-")[0])) for task in walk
    )


def frames_of(chunk: str, contiguous: bool, values: list[int]) -> list[int]:
    if contiguous:
        first, last = (int(v) for v in chunk.split("-"))
        # A contiguous chunk of a list range follows the list's order, consecutive integers.
        start = values.index(first)
        assert values[start : start + last - first + 1] == list(range(first, last + 1))
        return list(range(first, last + 1))
    return list(rs.RangeExpr(chunk))


@settings(max_examples=40, deadline=None)
@given(
    frames=st.sampled_from(["1-12", "1-3,7-9,20-30:5", "2-40:3", "5", "1-6,8"]),
    listed=st.booleans(),
    contiguous=st.booleans(),
    others=st.sampled_from([None, ["a"], ["a", "b", "c"]]),
    combination=st.sampled_from([None, "F * X", "X * F"]),
    default=st.integers(1, 5),
    cut=st.tuples(st.integers(0, 40), st.integers(1, 40)),
    timings=st.lists(st.floats(0.001, 50.0), min_size=1, max_size=20),
)
def test_every_task_is_in_exactly_one_chunk_of_one_combination(
    tmp_path_factory: Any,
    frames: str,
    listed: bool,
    contiguous: bool,
    others: list[str] | None,
    combination: str | None,
    default: int,
    cut: tuple[int, int],
    timings: list[float],
) -> None:
    """Whatever the sizes the timings call for, and whatever the slice, each task of the
    slice is in one chunk, every chunk lies in one combination of the other parameters,
    and a CONTIGUOUS chunk is a run of consecutive frames."""
    if others is None:
        combination = None
    values = list(rs.RangeExpr(frames))
    if listed:  # a list range keeps the template's order: take it shuffled
        values = values[1::2] + values[::2]
    tmp = tmp_path_factory.mktemp("chunks")
    path = chunked_job(
        tmp,
        values if listed else frames,
        default=default,
        constraint="CONTIGUOUS" if contiguous else "NONCONTIGUOUS",
        others=others,
        combination=combination,
    )
    step = job.plan_request(job.Request(path)).steps[0]
    chunks = step.tasks
    assert isinstance(chunks, chunking.AdaptiveChunks)
    everything = every_task(step.step)
    assert len(chunks) == sum(everything.values())
    start = min(cut[0], len(chunks))
    part = chunks[start : start + cut[1]]
    walk = iter(part)
    seen: Counter[tuple[str, int]] = Counter()
    for number, task in enumerate(walk):
        assert walk.size >= 1
        held = frames_of(task["F"].value, contiguous, values)
        assert len(held) <= walk.size  # the size this chunk was made at (ran() sizes the next)
        other = task["X"].value if "X" in task else "-"
        seen.update((other, frame) for frame in held)
        walk.ran(timings[number % len(timings)])
    assert sum(seen.values()) == len(part) == walk.covered
    assert not seen - everything  # nothing outside the step, nothing twice
    # The slice is the tasks at those positions: each combination's frames, in order, innermost.
    rows = sorted({other for other, _ in everything}, key=lambda x: (others or ["-"]).index(x))
    layout = [(other, frame) for other in rows for frame in values]
    assert seen == Counter(layout[start : start + cut[1]])


def test_a_picked_task_of_an_adaptive_step_runs_as_given(tmp_path: Path) -> None:
    """``--tasks`` picks chunks of defaultTaskCount: nothing is left to adapt."""
    path = chunked_job(tmp_path, "1-10", default=4)
    picked = job.plan_request(job.Request(path, tasks=[{"F": "5-7"}])).steps[0].tasks
    assert isinstance(picked, job.TaskSpace)
    assert [task["F"].value for task in picked] == ["5-7"]


# --- runs -------------------------------------------------------------------------------------


def test_quick_tasks_get_bigger_chunks(tmp_path: Path) -> None:
    path = chunked_job(tmp_path, "1-40", default=1, target=5, seconds=0.01)
    result = wraprun("run", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    sizes = [size(chunk) for chunk in chunks_run(result.stdout)]
    assert sizes[0] == 1 and sizes[1] > 1  # a 1-task chunk far under 5 s: the next is larger
    assert "Chunk size of step 'S': 1 -> " in result.stdout
    assert recorded(tmp_path) == Counter(f"- {frame}" for frame in range(1, 41))  # each exactly once
    assert result.stdout.splitlines()[-1] == f"Session succeeded: {len(sizes)} task(s) run."


def test_slow_tasks_get_smaller_chunks(tmp_path: Path) -> None:
    # Each frame takes at least 0.25 s, so 4 frames take at least 1 s: twice the 0.5 s target.
    path = chunked_job(tmp_path, "1-8", default=4, target=1, seconds=0.25)
    result = wraprun("run", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    sizes = [size(chunk) for chunk in chunks_run(result.stdout)]
    assert sizes[0] == 4 and sizes[1] < 4
    assert recorded(tmp_path) == Counter(f"- {frame}" for frame in range(1, 9))


def test_each_session_sizes_the_chunks_of_its_own_slice(tmp_path: Path) -> None:
    path = chunked_job(tmp_path, "1-40", default=2, target=5, seconds=0.01)
    result = wraprun("run", str(path), "--sessions", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    per_session: dict[str, list[str]] = {}
    for tag, chunk in re.findall(r"^\[(s\d)\] ==> Task S \(F=([^)]*)\)", result.stdout, re.MULTILINE):
        per_session.setdefault(tag, []).append(chunk)
    assert sorted(per_session) == ["s1", "s2"]
    firsts = sorted(chunks[0] for chunks in per_session.values())
    assert firsts == ["1-2", "21-22"]  # each starts its own slice at defaultTaskCount
    for chunks in per_session.values():
        assert size(chunks[1]) > 2  # and grows from its own timings
        frames = [frame for chunk in chunks for frame in rs.RangeExpr(chunk)]
        assert frames in (list(range(1, 21)), list(range(21, 41)))  # never across the slices
    assert recorded(tmp_path) == Counter(f"- {frame}" for frame in range(1, 41))


def test_chunks_stay_within_a_combination_whatever_the_combination_order(tmp_path: Path) -> None:
    path = chunked_job(tmp_path, "1-6", default=2, target=5, others=["a", "b"], combination="F * X")
    result = wraprun("run", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    labels = re.findall(r"==> Task S \(F=([^,]*), X=(\w)\)", result.stdout)
    # The chunk parameter is innermost: every chunk of X=a before any of X=b.
    assert [x for _, x in labels] == sorted(x for _, x in labels)
    assert labels[0] == ("1-2", "a")
    assert recorded(tmp_path) == Counter(f"{x} {frame}" for x in "ab" for frame in range(1, 7))


def test_maximum_tasks_counts_chunks(tmp_path: Path) -> None:
    path = chunked_job(tmp_path, "1-10", default=3)
    result = wraprun("run", str(path), "--maximum-tasks", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert chunks_run(result.stdout) == ["1-3"]


def test_a_slice_of_an_adaptive_step_is_a_slice_of_its_tasks(tmp_path: Path) -> None:
    path = chunked_job(tmp_path, "1-10", default=3)
    result = wraprun("run", str(path), "--step", "S", "--slice", "4:9")
    assert result.returncode == 0, result.stdout + result.stderr
    assert chunks_run(result.stdout)[0] == "5-7"
    assert recorded(tmp_path) == Counter(f"- {frame}" for frame in range(5, 10))


@pytest.mark.parametrize("target", [0, "{{Param.Zero}}"])
def test_a_zero_target_keeps_the_chunks_of_default_task_count(tmp_path: Path, target: int | str) -> None:
    path = chunked_job(tmp_path, "1-7", default=3, target=target)
    if isinstance(target, str):
        document = yaml.safe_load(path.read_text())
        document["parameterDefinitions"] = [{"name": "Zero", "type": "INT", "default": 0}]
        write(path, document)
    step = job.plan_request(job.Request(path)).steps[0]
    assert not chunking.adaptive(step.step) and isinstance(step.tasks, job.TaskSpace)
    result = wraprun("run", str(path))
    assert chunks_run(result.stdout) == ["1-3", "4-5", "6-7"]  # openjd-model's even chunks
