"""wraprun beside the official OpenJD runtime (openjd-cli over openjd-sessions), in one run.

    .venv/bin/python benchmarks/bench.py [--runs 5] [--json results.json]

Measures (medians over ``--runs`` repetitions; within a repetition the two
runtimes take turns, so both see the same machine load; wraprun, the quicker,
gives WRAPRUN_SAMPLES samples of the 300-task jobs per repetition):

1. per-task overhead: a step of 300 INT tasks whose onRun is ``/bin/true``:
   wall time / 300, and the same with start-up taken out, beside the floor of
   spawning ``/bin/true`` 300 times from Python;
2. the same 300 tasks under a pass-through wrap environment (``--env`` whose
   hooks exec ``{{WrappedAction.Command}} {{WrappedAction.Args}}``): wrapped
   minus unwrapped, per task;
3. relaying 100-byte stdout lines (the runtime's stdout to /dev/null): MB/s,
   and peak RSS of the runtime process at two output sizes;
4. CLI start: ``check TEMPLATE`` and ``--help`` wall time;
5. sessions: 200 tasks of ``sleep 0.05`` with ``--sessions 2`` beside ``--sessions 1``
   (wraprun only: the official runtime runs one session), as a ratio;
6. a huge step: one task (``--maximum-tasks 1``) of a step of 2,000,000 tasks (an INT
   range of 1,000,000 times a STRING range of 2): wall time and peak RSS.

It reports and never asserts. benchmarks/README.md has the latest numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.official_runtime import official_openjd  # noqa: E402

CONSOLE_SCRIPT = Path(sys.executable).with_name("wraprun")
WRAPRUN = [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "wraprun"]
TASKS = 300
RELAY_MB = (50, 200)
OFFICIAL_RELAY_MB = 10
"""openjd-cli logs every line through Python logging (a few MB/s): a small size keeps the run short."""
CHECK_RUNS = 9
SLEEP_TASKS = 200
SESSIONS_RUNS = 3
"""At most this many repetitions of the sessions measure: each takes about 15 s."""
HUGE_INTS = 1_000_000
WRAPRUN_SAMPLES = 3
"""wraprun's 300-task runs take a quarter of the official ones: it gets this many samples per repetition."""

PASS_THROUGH = {
    "specificationVersion": "environment-2023-09",
    "extensions": ["WRAP_ACTIONS", "EXPR"],
    "environment": {
        "name": "PassThrough",
        "script": {
            "actions": {
                hook: {"command": "{{WrappedAction.Command}}", "args": ["{{WrappedAction.Args}}"]}
                for hook in ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")
            }
        },
    },
}
LINE_WRITER = """\
import sys
block = (b'x' * 99 + b'\\n') * 10_000  # 10,000 lines of exactly 100 bytes: 1 MB
for _ in range(int(sys.argv[1])):
    sys.stdout.buffer.write(block)
"""


@dataclass(frozen=True)
class Row:
    measure: str
    unit: str
    wraprun: float
    official: float
    target: str = ""

    @property
    def ratio(self) -> float:
        return self.wraprun / self.official if self.official else math.nan


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_rss: int
    """Bytes; 0 unless asked for."""


def tasks_job(count: int) -> dict[str, Any]:
    space = {"taskParameterDefinitions": [{"name": "N", "type": "INT", "range": f"1-{count}"}]}
    step = {"name": "S", "parameterSpace": space, "script": {"actions": {"onRun": {"command": "/bin/true"}}}}
    return {"specificationVersion": "jobtemplate-2023-09", "name": "Trivial", "steps": [step]}


def sleep_job(count: int) -> dict[str, Any]:
    space = {"taskParameterDefinitions": [{"name": "N", "type": "INT", "range": f"1-{count}"}]}
    run = {"command": "sleep", "args": ["0.05"]}
    step = {"name": "S", "parameterSpace": space, "script": {"actions": {"onRun": run}}}
    return {"specificationVersion": "jobtemplate-2023-09", "name": "Sleep", "steps": [step]}


def huge_job() -> dict[str, Any]:
    definitions = [
        {"name": "N", "type": "INT", "range": f"1-{HUGE_INTS}"},
        {"name": "C", "type": "STRING", "range": ["a", "b"]},
    ]
    run = {"command": "/bin/true"}
    step = {
        "name": "S",
        "parameterSpace": {"taskParameterDefinitions": definitions},
        "script": {"actions": {"onRun": run}},
    }
    return {"specificationVersion": "jobtemplate-2023-09", "name": "Huge", "steps": [step]}


def output_job(megabytes: int) -> dict[str, Any]:
    run = {"command": sys.executable, "args": ["-c", LINE_WRITER, str(megabytes)]}
    step = {"name": "S", "script": {"actions": {"onRun": run}}}
    return {"specificationVersion": "jobtemplate-2023-09", "name": "Output", "steps": [step]}


def execute(command: list[str], env: dict[str, str] | None = None, watch_memory: bool = False) -> Sample:
    """Run a runtime with its output discarded: wall time, and its own peak RSS when asked."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    peak = 0
    if watch_memory:
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.01)
    proc.wait()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {proc.returncode}")
    return Sample(seconds, peak)


def spawn_floor(piped: bool) -> float:
    """Seconds per `/bin/true` spawned and waited for; ``piped``: stdout piped, own session, as a runtime."""
    options: dict[str, Any] = {}
    if piped:
        options = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "start_new_session": True}
    started = time.perf_counter()
    for _ in range(TASKS):
        subprocess.run(["/bin/true"], stdin=subprocess.DEVNULL, check=True, **options)
    return (time.perf_counter() - started) / TASKS


class Bench:
    def __init__(self, folder: Path, official: list[str], runs: int) -> None:
        self.folder = folder
        self.runtimes = {"wraprun": WRAPRUN, "official": official}
        self.runs = runs
        self.rows: list[Row] = []
        # Both runtimes run with a bytecode cache, as installed wheels have. This checkout's
        # environment may say PYTHONDONTWRITEBYTECODE=1, which leaves wraprun's editable src/
        # without .pyc files (recompiled on every start); that case gets a row of its own.
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")

    def run(self, runtime: str, *args: str, watch_memory: bool = False) -> Sample:
        return execute([*self.runtimes[runtime], *args], self.env, watch_memory)

    def write(self, name: str, document: dict[str, Any]) -> str:
        path = self.folder / name
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return str(path)

    def add(self, measure: str, unit: str, ours: float, theirs: float, target: str = "") -> None:
        self.rows.append(Row(measure, unit, ours, theirs, target))
        print(f"  {measure}: wraprun {ours:.3f} {unit}, official {theirs:.3f} {unit}", file=sys.stderr)

    def warm_up(self) -> None:
        """Fill the bytecode cache of both runtimes (the first start compiles every module)."""
        job = self.write("warm-up.yaml", tasks_job(1))
        for name in self.runtimes:
            self.run(name, "check", job)
            self.run(name, "run", job, "--env", self.write("pass-through.yaml", PASS_THROUGH))

    def floor(self) -> None:
        samples: dict[bool, list[float]] = defaultdict(list)
        for _ in range(self.runs):
            for piped in (False, True):
                samples[piped].append(spawn_floor(piped))
        plain, piped = statistics.median(samples[False]), statistics.median(samples[True])
        self.add("floor: spawn+wait /bin/true from Python", "ms", plain * 1e3, math.nan)
        self.add("floor: same, stdout piped, own session", "ms", piped * 1e3, math.nan)

    def per_task(self) -> None:
        many, one = self.write("tasks.yaml", tasks_job(TASKS)), self.write("task1.yaml", tasks_job(1))
        wrap = ["--env", self.write("pass-through.yaml", PASS_THROUGH)]
        jobs = {"one": [one], "many": [many], "one_w": [one, *wrap], "many_w": [many, *wrap]}
        # Each derived value is computed within one repetition, then the median is taken:
        # differences of back-to-back runs cancel most of the drift in machine load.
        derived: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        turns = ["wraprun"] * WRAPRUN_SAMPLES + ["official"]
        for _ in range(self.runs):
            for name in turns:
                t = {job: self.run(name, "run", *args).seconds for job, args in jobs.items()}
                net, net_w = t["many"] - t["one"], t["many_w"] - t["one_w"]
                for key, value in {
                    "start": t["one"],
                    "per": t["many"] / TASKS * 1e3,
                    "net": net / (TASKS - 1) * 1e3,
                    "per_w": t["many_w"] / TASKS * 1e3,
                    "cost": (t["many_w"] - t["many"]) / TASKS * 1e3,
                    "cost_net": (net_w - net) / (TASKS - 1) * 1e3,
                }.items():
                    derived[key][name].append(value)

        def both(key: str) -> tuple[float, float]:
            return statistics.median(derived[key]["wraprun"]), statistics.median(derived[key]["official"])

        self.add("start-up: run a 1-task job", "s", *both("start"))
        given: dict[str, list[float]] = defaultdict(list)
        for _ in range(self.runs):
            for name, runtime in self.runtimes.items():
                given[name].append(execute([*runtime, "run", one]).seconds)  # os.environ as it is
        ours, theirs = (statistics.median(given[name]) for name in self.runtimes)
        self.add("start-up, environment as given (README: bytecode)", "s", ours, theirs)
        self.add(f"per task, {TASKS} tasks: wall / {TASKS}", "ms", *both("per"))
        # The target's "per-task overhead": what one more task costs, start-up apart
        # (the official runtime's figure on this measure is the "about 5 ms" it quotes).
        self.add("per task, start-up excluded", "ms", *both("net"), "≤ 1.2 ms")
        self.add(f"per wrapped task: wall / {TASKS}", "ms", *both("per_w"))
        self.add("wrap cost per task: wrapped − unwrapped", "ms", *both("cost"), "≤ 0.3 ms")
        self.add("wrap cost, start-up excluded", "ms", *both("cost_net"))

    def relay(self) -> None:
        official_job = self.write("out-official.yaml", output_job(OFFICIAL_RELAY_MB))
        theirs = [self.run("official", "run", official_job, watch_memory=True) for _ in range(self.runs)]
        theirs_rate = OFFICIAL_RELAY_MB / statistics.median(s.seconds for s in theirs)
        theirs_rss = max(s.peak_rss for s in theirs) / 1e6
        seconds: dict[int, float] = {}
        for size in RELAY_MB:
            job = self.write(f"out{size}.yaml", output_job(size))
            ours = [self.run("wraprun", "run", job, watch_memory=True) for _ in range(self.runs)]
            seconds[size] = statistics.median(s.seconds for s in ours)
            where = f"{size} MB (official: {OFFICIAL_RELAY_MB} MB)"
            rate = size / seconds[size]
            self.add(f"relay 100-byte lines, {where}", "MB/s", rate, theirs_rate, "≥ 150 MB/s")
            rss = max(s.peak_rss for s in ours) / 1e6
            self.add(f"peak RSS of the runtime, {where}", "MB", rss, theirs_rss, "flat in size")
        small, large = RELAY_MB
        steady = (large - small) / (seconds[large] - seconds[small])
        self.add(f"relay, start-up excluded: ({large}−{small} MB) / Δt", "MB/s", steady, math.nan)

    def check(self) -> None:
        template = self.write("check.yaml", tasks_job(TASKS))
        times: dict[str, list[float]] = defaultdict(list)
        for _ in range(CHECK_RUNS):
            for name in self.runtimes:
                times[name].append(self.run(name, "check", template).seconds)
        ours, theirs = (statistics.median(times[name]) for name in self.runtimes)
        self.add(f"CLI start: check TEMPLATE (median of {CHECK_RUNS})", "s", ours, theirs, "≤ 0.15 s")
        helped: dict[str, list[float]] = defaultdict(list)
        for _ in range(CHECK_RUNS):
            for name in self.runtimes:
                helped[name].append(self.run(name, "--help").seconds)
        ours, theirs = (statistics.median(helped[name]) for name in self.runtimes)
        self.add(f"CLI start: --help (median of {CHECK_RUNS})", "s", ours, theirs, "≤ 0.15 s")

    def sessions(self) -> None:
        job = self.write("sleep.yaml", sleep_job(SLEEP_TASKS))
        seconds: dict[int, list[float]] = defaultdict(list)
        ratios = []
        for _ in range(min(self.runs, SESSIONS_RUNS)):
            # Back to back in one repetition, the ratio of the pair: drift in load mostly cancels.
            pair = {n: self.run("wraprun", "run", job, "--sessions", str(n)).seconds for n in (1, 2)}
            for n, value in pair.items():
                seconds[n].append(value)
            ratios.append(pair[2] / pair[1])
        what = f"{SLEEP_TASKS} × `sleep 0.05`"
        for n in (1, 2):
            self.add(f"{what}, --sessions {n}", "s", statistics.median(seconds[n]), math.nan)
        self.add(
            f"{what}: --sessions 2 / --sessions 1", "ratio", statistics.median(ratios), math.nan, "≤ 0.6"
        )

    def huge(self) -> None:
        job = self.write("huge.yaml", huge_job())
        samples: dict[str, list[Sample]] = defaultdict(list)
        for _ in range(self.runs):
            for name in self.runtimes:
                samples[name].append(self.run(name, "run", job, "--maximum-tasks", "1", watch_memory=True))
        what = f"one task of a {2 * HUGE_INTS:,}-task step (--maximum-tasks 1)"
        ours, theirs = (statistics.median(s.seconds for s in samples[name]) for name in self.runtimes)
        self.add(what, "s", ours, theirs, "≤ 0.5 s")
        ours, theirs = (max(s.peak_rss for s in samples[name]) / 1e6 for name in self.runtimes)
        self.add("same: peak RSS of the runtime", "MB", ours, theirs, "≤ 60 MB")


def cell(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def table(rows: list[Row]) -> str:
    """A Markdown table (README.md carries the latest one)."""
    header = "| measure | unit | wraprun | official | ratio | target (wraprun) |"
    lines = [header, "|---|---|--:|--:|--:|---|"]
    for r in rows:
        values = " | ".join(cell(v) for v in (r.wraprun, r.official, r.ratio))
        lines.append(f"| {r.measure} | {r.unit} | {values} | {r.target} |")
    return "\n".join(lines)


def as_json(row: Row) -> dict[str, Any]:
    """JSON has no NaN: a value that does not apply is null."""
    values = {**asdict(row), "ratio": row.ratio}
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--runs", type=int, default=5, help="repetitions per measure (median)")
    parser.add_argument(
        "--only",
        action="append",
        choices=("floor", "per_task", "relay", "check", "sessions", "huge"),
        help="measure only this part (repeatable; default: all)",
    )
    args = parser.parse_args()
    official = [str(official_openjd())]
    started, load = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="wraprun-bench-") as tmp:
        bench = Bench(Path(tmp), official, args.runs)
        parts = (
            bench.warm_up,
            bench.floor,
            bench.per_task,
            bench.relay,
            bench.check,
            bench.sessions,
            bench.huge,
        )
        for part in parts:
            if args.only is None or part.__name__ in (*args.only, "warm_up"):
                part()
    elapsed = time.perf_counter() - started
    machine = f"{os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}"
    load_end = os.getloadavg()[0]
    print(f"\n{machine}; load average {load:.2f} → {load_end:.2f}; {elapsed:.0f} s; --runs {args.runs}\n")
    print(table(bench.rows))
    if args.json:
        rows = [as_json(r) for r in bench.rows]
        document = {"machine": machine, "runs": args.runs, "seconds": elapsed, "rows": rows}
        document["load_average"] = [load, load_end]
        Path(args.json).write_text(json.dumps(document, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
