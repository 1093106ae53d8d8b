"""The Deadline Cloud worker agent's session runtimes side by side: per-task overhead, in one run.

    .venv/bin/python benchmarks/bench_deadline.py [--runs 3] [--json results.json]

Each runtime gets the same session, driven as the worker agent drives it
(``deadline_worker_agent.sessions.session.Session``): built from a
``SessionRuntimeConfig``, it enters one job environment, runs TASKS tasks of a
step whose onRun is ``/bin/true {{Task.Param.Frame}}``, exits the environment
and is cleaned up. After every action the harness waits, on a
``threading.Event``, for the callback whose ``ActionStatus.state`` is no longer
RUNNING, as the agent does. The runtimes:

- ``python``: the agent's ``PythonSessionRuntime`` (openjd-sessions);
- ``rust``: the agent's ``RustSessionRuntime`` (``openjd.sessions._v1``), shown
  as unavailable, with the reason, when it cannot be built or run here;
- ``wraprun``: ``wraprun.integrations.deadline.WraprunSessionRuntime``, shown as
  unavailable, with the reason, when it cannot be imported.

Measured per runtime, medians over ``--runs`` repetitions (each repetition
runs every runtime and the floor once, in an order rotated by one place per
repetition, so each takes every position in turn):

- ms/task: wall time of the TASKS tasks (first ``run_task`` call to the last
  terminal callback) / TASKS; the session's start and end are outside it;
- overhead: ms/task minus the floor of the same repetition, TASKS spawns of
  ``/bin/true`` from Python with stdout piped and a session of its own (as
  ``benchmarks/bench.py`` measures it);
- in ``run_task``: time spent inside the ``run_task`` calls, per task;
- peak RSS growth: this process's RSS (psutil, every 10 ms) over the whole
  session, minus its RSS just before the runtime was built; the largest of the
  repetitions;
- log records: records reaching the ``openjd.sessions`` logger per task.

Every runtime runs once, untimed, before the first repetition (warm-up). All
runtimes share this process, as sessions share the agent's. It reports and
never asserts; benchmarks/README.md has the latest numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
from deadline_worker_agent.sessions.runtime import (
    SessionRuntime,
    SessionRuntimeConfig,
    SessionRuntimeKind,
    create_session_runtime,
)
from openjd.model import ParameterValue, ParameterValueType, decode_job_template
from openjd.sessions import LOG as SESSION_LOG
from openjd.sessions import ActionState, ActionStatus

TASKS = 300
WARM_UP_TASKS = 20
ACTION_TIMEOUT = 60.0
"""Seconds to wait for an action's terminal callback before the runtime is given up on."""
RSS_INTERVAL = 0.01
STEP = "Frames"
JOB_PARAMETERS = {"Label": ParameterValue(type=ParameterValueType.STRING, value="bench")}

Factory = Callable[[SessionRuntimeConfig], SessionRuntime]


def job_template(tasks: int) -> dict[str, Any]:
    """One job parameter, one job environment (a variable, enter/exit actions), a step of ``tasks`` tasks."""
    true = {"command": "/bin/true"}
    environment = {
        "name": "BenchEnv",
        "variables": {"BENCH_LABEL": "{{Param.Label}}"},
        "script": {"actions": {"onEnter": true, "onExit": true}},
    }
    space = {"taskParameterDefinitions": [{"name": "Frame", "type": "INT", "range": f"1-{tasks}"}]}
    run = {"command": "/bin/true", "args": ["{{Task.Param.Frame}}"]}
    step = {"name": STEP, "parameterSpace": space, "script": {"actions": {"onRun": run}}}
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "DeadlineBench",
        "parameterDefinitions": [{"name": "Label", "type": "STRING", "default": "bench"}],
        "jobEnvironments": [environment],
        "steps": [step],
    }


@dataclass(frozen=True)
class Workload:
    """The decoded models and the per-task inputs, built before any timing starts."""

    environment: Any
    """openjd.model.v2023_09.Environment"""
    step_script: Any
    """openjd.model.v2023_09.StepScript"""
    task_parameters: list[dict[str, ParameterValue]]
    task_env_vars: list[dict[str, str]]

    @classmethod
    def build(cls, tasks: int) -> Workload:
        job = decode_job_template(template=job_template(tasks))
        step_id = f"step-{uuid.uuid4().hex}"
        parameters, env_vars = [], []
        for frame in range(1, tasks + 1):
            parameters.append({"Frame": ParameterValue(type=ParameterValueType.INT, value=str(frame))})
            # What the agent's RunStepTaskAction passes beside each task.
            env_vars.append(
                {
                    "DEADLINE_STEP_ID": step_id,
                    "DEADLINE_SESSIONACTION_ID": f"sessionaction-bench-{frame}",
                    "DEADLINE_TASK_ID": f"task-{uuid.uuid4().hex}-{frame}",
                }
            )
        assert job.jobEnvironments, "the template has one job environment"
        return cls(job.jobEnvironments[0], job.steps[0].script, parameters, env_vars)


class RuntimeFailed(Exception):
    """An action did not succeed, or its terminal callback never came."""


class Waiter:
    """The session's action callback: sets an event once an action's state is no longer RUNNING."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.status: ActionStatus | None = None

    def callback(self, session_id: str, status: ActionStatus) -> None:
        self.status = status
        if status.state != ActionState.RUNNING:
            self.done.set()

    def arm(self) -> None:
        self.done.clear()

    def wait(self, what: str) -> None:
        if not self.done.wait(ACTION_TIMEOUT):
            raise TimeoutError(f"no terminal callback for {what} within {ACTION_TIMEOUT:.0f} s")
        status = self.status
        if status is None or status.state != ActionState.SUCCESS:
            state = status.state.name if status else "no status"
            fail = f": {status.fail_message}" if status and status.fail_message else ""
            raise RuntimeFailed(f"{what} ended {state}{fail}")


class LogCounter(logging.Handler):
    """Counts the records the runtimes send to ``openjd.sessions`` (the logger the agent captures)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class RssPeak:
    """This process's peak RSS while in the ``with`` block, sampled every RSS_INTERVAL on a thread."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.stop = threading.Event()
        self.baseline = self.peak = 0
        self.thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        while not self.stop.wait(RSS_INTERVAL):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> RssPeak:
        self.baseline = self.peak = self.process.memory_info().rss
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@dataclass(frozen=True)
class Sample:
    """One session of one runtime."""

    tasks_s: float
    """Wall time of the tasks: first run_task call to the last terminal callback."""
    in_call_s: float
    """Time spent inside the run_task calls."""
    start_s: float
    """Building the runtime and entering the environment."""
    end_s: float
    """Exiting the environment and cleanup()."""
    rss_growth: int
    """Bytes."""
    log_records: int
    """Records during the tasks."""


def run_session(factory: Factory, workload: Workload, root: Path, log: LogCounter) -> Sample:
    """One session, the agent's way: enter the job environment, run the tasks one by one, exit, clean up."""
    waiter = Waiter()
    config = SessionRuntimeConfig(
        session_id=f"session-{uuid.uuid4().hex}",
        job_parameter_values=dict(JOB_PARAMETERS),
        path_mapping_rules=None,
        retain_working_dir=False,
        user=None,
        action_callback=waiter.callback,
        os_env_vars=None,
        session_root_directory=root,
        spec_revision="2023-09",
        supported_extensions=(),
    )
    with RssPeak() as rss:
        started = time.perf_counter()
        runtime = factory(config)
        try:
            waiter.arm()
            env_id = runtime.enter_environment(
                environment=workload.environment,
                identifier=f"JOB-ENV-{uuid.uuid4().hex}",
                os_env_vars={"DEADLINE_SESSIONACTION_ID": "sessionaction-bench-enter"},
                resolved_symbol_table_json=None,
                step_name=None,
                step_let_declarations=None,
            )
            waiter.wait("entering the environment")
            entered = time.perf_counter()
            records = log.count
            in_call = 0.0
            for parameters, env_vars in zip(workload.task_parameters, workload.task_env_vars, strict=True):
                waiter.arm()
                called = time.perf_counter()
                runtime.run_task(
                    step_script=workload.step_script,
                    task_parameter_values=parameters,
                    os_env_vars=env_vars,
                    step_name=STEP,
                    resolved_symbol_table_json=None,
                )
                in_call += time.perf_counter() - called
                waiter.wait(f"task Frame={parameters['Frame'].value}")
            finished = time.perf_counter()
            records = log.count - records
            waiter.arm()
            runtime.exit_environment(
                identifier=env_id,
                os_env_vars={"DEADLINE_SESSIONACTION_ID": "sessionaction-bench-exit"},
                resolved_symbol_table_json=None,
            )
            waiter.wait("exiting the environment")
        except BaseException:
            with contextlib.suppress(Exception):
                if not waiter.done.is_set():
                    runtime.cancel_action()
            with contextlib.suppress(Exception):
                runtime.cleanup()
            raise
        runtime.cleanup()
        ended = time.perf_counter()
    return Sample(finished - entered, in_call, entered - started, ended - finished, rss.growth, records)


def spawn_floor(tasks: int) -> float:
    """Seconds per ``/bin/true`` spawned and waited for, stdout piped and a session of its own."""
    started = time.perf_counter()
    for _ in range(tasks):
        subprocess.run(
            ["/bin/true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            check=True,
        )
    return (time.perf_counter() - started) / tasks


def agent_runtime(kind: SessionRuntimeKind) -> Factory:
    def build(config: SessionRuntimeConfig) -> SessionRuntime:
        return create_session_runtime(kind, config)

    return build


def wraprun_runtime() -> Factory:
    """Raises ImportError (or whatever a half-written module raises) when it is not there yet."""
    from wraprun.integrations.deadline import WraprunSessionRuntime

    factory: Factory = WraprunSessionRuntime
    return factory


def reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


@dataclass
class Runtime:
    name: str
    factory: Factory | None
    unavailable: str = ""
    samples: list[Sample] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    """The floor of each repetition this runtime completed, for its overhead."""

    def give_up(self, why: str) -> None:
        self.factory, self.unavailable = None, why
        print(f"{self.name}: unavailable ({why})", file=sys.stderr)


@dataclass(frozen=True)
class Row:
    runtime: str
    ms_per_task: float
    overhead_ms: float
    ratio: float
    overhead_ratio: float
    in_call_ms: float
    rss_growth_mb: float
    log_records_per_task: float
    start_ms: float
    end_ms: float
    unavailable: str = ""


def summarize(runtime: Runtime, tasks: int) -> Row:
    if runtime.unavailable or not runtime.samples:
        nan = math.nan
        why = runtime.unavailable or "no samples"
        return Row(runtime.name, nan, nan, nan, nan, nan, nan, nan, nan, nan, unavailable=why)
    per_task = [s.tasks_s / tasks * 1e3 for s in runtime.samples]
    overhead = [p - f * 1e3 for p, f in zip(per_task, runtime.floors, strict=True)]

    def median(values: list[float]) -> float:
        return statistics.median(values)

    return Row(
        runtime=runtime.name,
        ms_per_task=median(per_task),
        overhead_ms=median(overhead),
        ratio=math.nan,
        overhead_ratio=math.nan,
        in_call_ms=median([s.in_call_s / tasks * 1e3 for s in runtime.samples]),
        rss_growth_mb=max(s.rss_growth for s in runtime.samples) / 1e6,
        log_records_per_task=median([s.log_records / tasks for s in runtime.samples]),
        start_ms=median([s.start_s * 1e3 for s in runtime.samples]),
        end_ms=median([s.end_s * 1e3 for s in runtime.samples]),
    )


def with_ratios(rows: list[Row]) -> list[Row]:
    """Each row's ms/task and overhead over the Python runtime's (NaN without it)."""
    python = next((r for r in rows if r.runtime == "python"), None)
    out = []
    for r in rows:
        ratio = overhead_ratio = math.nan
        if python is not None and not math.isnan(python.ms_per_task):
            ratio = r.ms_per_task / python.ms_per_task
            if python.overhead_ms > 0:
                overhead_ratio = r.overhead_ms / python.overhead_ms
        out.append(Row(**{**asdict(r), "ratio": ratio, "overhead_ratio": overhead_ratio}))
    return out


def cell(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def table(rows: list[Row], floor_ms: float) -> str:
    """A Markdown table (README.md carries the latest one)."""
    lines = [
        "| runtime | ms/task | overhead ms/task | ratio to Python | overhead ratio to Python "
        "| in run_task ms/task | peak RSS growth MB | log records/task |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
        f"| floor: spawn /bin/true, stdout piped, own session | {cell(floor_ms)} | – | – | – | – | – | – |",
    ]
    for r in rows:
        if r.unavailable:
            lines.append(f"| {r.runtime} | unavailable ({r.unavailable}) | | | | | | |")
            continue
        values = (r.ms_per_task, r.overhead_ms, r.ratio, r.overhead_ratio, r.in_call_ms)
        more = (r.rss_growth_mb, r.log_records_per_task)
        lines.append(f"| {r.runtime} | {' | '.join(cell(v) for v in (*values, *more))} |")
    return "\n".join(lines)


def as_json(row: Row) -> dict[str, Any]:
    """JSON has no NaN: a value that does not apply is null."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(row).items()}


class Bench:
    def __init__(self, runtimes: list[Runtime], tasks: int, runs: int, root: Path) -> None:
        self.runtimes = runtimes
        self.tasks = tasks
        self.runs = runs
        self.root = root
        self.workload = Workload.build(tasks)
        self.floors: list[float] = []
        self.log = LogCounter()

    def session(self, runtime: Runtime, workload: Workload) -> Sample | None:
        assert runtime.factory is not None
        try:
            return run_session(runtime.factory, workload, self.root, self.log)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a Rust panic arrives as a BaseException
            runtime.give_up(reason(exc))
            return None

    def warm_up(self) -> None:
        small = Workload.build(WARM_UP_TASKS)
        spawn_floor(WARM_UP_TASKS)
        for runtime in self.runtimes:
            if runtime.factory is not None:
                self.session(runtime, small)

    def measure(self) -> None:
        turns: list[Runtime | None] = [None, *self.runtimes]  # None: the floor
        for run in range(self.runs):
            shift = run % len(turns)
            floor = math.nan
            done: list[tuple[Runtime, Sample]] = []
            for turn in turns[shift:] + turns[:shift]:
                if turn is None:
                    floor = spawn_floor(self.tasks)
                    self.floors.append(floor)
                    print(f"  run {run + 1}: floor {floor * 1e3:.3f} ms", file=sys.stderr)
                elif turn.factory is not None:
                    sample = self.session(turn, self.workload)
                    if sample is not None:
                        done.append((turn, sample))
                        ms = sample.tasks_s / self.tasks * 1e3
                        print(f"  run {run + 1}: {turn.name} {ms:.3f} ms/task", file=sys.stderr)
            for runtime, sample in done:
                runtime.samples.append(sample)
                runtime.floors.append(floor)

    def __enter__(self) -> Bench:
        # The agent gives openjd.sessions its own handlers and keeps it out of its own log.
        self.propagate = SESSION_LOG.propagate
        SESSION_LOG.addHandler(self.log)
        SESSION_LOG.propagate = False
        return self

    def __exit__(self, *exc: object) -> None:
        SESSION_LOG.removeHandler(self.log)
        SESSION_LOG.propagate = self.propagate


def runtimes(names: list[str]) -> list[Runtime]:
    out = []
    for name in names:
        if name == "wraprun":
            try:
                out.append(Runtime(name, wraprun_runtime()))
            except Exception as exc:  # ImportError while it is being written, or a broken module
                out.append(Runtime(name, None, reason(exc)))
                print(f"wraprun: unavailable ({reason(exc)})")
        else:
            out.append(Runtime(name, agent_runtime(SessionRuntimeKind[name.upper()])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (median)")
    parser.add_argument("--tasks", type=int, default=TASKS, help=f"tasks per session (default {TASKS})")
    parser.add_argument(
        "--runtimes",
        default="python,rust,wraprun",
        help="comma-separated, of python, rust, wraprun (default: all three)",
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.runtimes.split(",") if n.strip()]
    if unknown := set(names) - {"python", "rust", "wraprun"}:
        parser.error(f"unknown runtimes: {', '.join(sorted(unknown))}")
    started, load = time.perf_counter(), os.getloadavg()[0]
    chosen = runtimes(names)
    with tempfile.TemporaryDirectory(prefix="wraprun-bench-deadline-") as tmp:
        with Bench(chosen, args.tasks, args.runs, Path(tmp)) as bench:
            bench.warm_up()
            bench.measure()
    elapsed = time.perf_counter() - started
    floor_ms = statistics.median(bench.floors) * 1e3
    rows = with_ratios([summarize(r, args.tasks) for r in chosen])
    machine = f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}"
    load_end = os.getloadavg()[0]
    print(f"\n{machine}; load average {load:.2f} → {load_end:.2f}; {elapsed:.0f} s; --runs {args.runs}")
    print(f"{args.tasks} tasks per session; overhead = ms/task − floor of the same repetition\n")
    print(table(rows, floor_ms))
    if args.json:
        document = {
            "machine": machine,
            "runs": args.runs,
            "tasks": args.tasks,
            "seconds": elapsed,
            "load_average": [load, load_end],
            "floor_ms": floor_ms,
            "floors_ms": [f * 1e3 for f in bench.floors],
            "rows": [as_json(r) for r in rows],
            "samples": {r.name: [asdict(s) for s in r.samples] for r in chosen},
        }
        Path(args.json).write_text(json.dumps(document, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
