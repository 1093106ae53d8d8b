"""wraprun beside the official OpenJD runtime (openjd-cli), in one run, as ratios.

    .venv/bin/python benchmarks/bench.py [--json results.json]

Measures: per-task overhead on 300 trivial tasks; the extra cost of a
pass-through wrap environment; relaying 100-byte output lines (throughput and
peak memory at two output sizes); and CLI start (`check`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.official_runtime import official_openjd  # noqa: E402

WRAPRUN = [sys.executable, "-m", "wraprun"]
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
LINE_WRITER = (
    "import sys\n"
    "line = b'x' * 99 + b'\\n'\n"
    "block = line * 10000\n"
    "for _ in range(int(sys.argv[1]) // len(block)): sys.stdout.buffer.write(block)\n"
)


def tasks_job(count: int) -> dict:
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "Trivial",
        "steps": [
            {
                "name": "S",
                "parameterSpace": {
                    "taskParameterDefinitions": [{"name": "N", "type": "INT", "range": f"1-{count}"}]
                },
                "script": {"actions": {"onRun": {"command": "/bin/true"}}},
            }
        ],
    }


def output_job(size: int) -> dict:
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "Output",
        "steps": [
            {
                "name": "S",
                "script": {
                    "actions": {"onRun": {"command": sys.executable, "args": ["-c", LINE_WRITER, str(size)]}}
                },
            }
        ],
    }


def write(folder: Path, name: str, document: dict) -> str:
    path = folder / name
    path.write_text(yaml.safe_dump(document))
    return str(path)


def timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of the runtime process, output discarded."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    try:
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.01)
    finally:
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"{command} exited with {proc.returncode}")
    return time.perf_counter() - started, peak


def median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def per_task(runtime: list[str], folder: Path, count: int, env: list[str]) -> float:
    """Seconds per task, start-up excluded: (T(count) - T(1)) / (count - 1)."""
    many = write(folder, f"tasks{count}.yaml", tasks_job(count))
    one = write(folder, "tasks1.yaml", tasks_job(1))
    return (timed([*runtime, "run", many, *env])[0] - timed([*runtime, "run", one, *env])[0]) / (count - 1)


def spawn_floor(count: int = 300) -> float:
    started = time.perf_counter()
    for _ in range(count):
        subprocess.run(["/bin/true"])
    return (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    official = [str(official_openjd())]
    rows: list[tuple[str, float, float, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = ["--env", write(folder, "wrap.yaml", PASS_THROUGH)]
        ours = median(args.runs, lambda: per_task(WRAPRUN, folder, 300, []))
        theirs = median(args.runs, lambda: per_task(official, folder, 100, []))
        rows.append(("per task, 300 trivial tasks (ms)", ours * 1e3, theirs * 1e3, "target ≤ 1.2 ms"))
        ours_w = median(args.runs, lambda: per_task(WRAPRUN, folder, 300, env))
        theirs_w = median(args.runs, lambda: per_task(official, folder, 100, env))
        rows.append(("per wrapped task (ms)", ours_w * 1e3, theirs_w * 1e3, ""))
        rows.append(
            ("wrap cost per task (ms)", (ours_w - ours) * 1e3, (theirs_w - theirs) * 1e3, "target ≤ 0.3 ms")
        )
        for size_mb in (50, 200):
            job = write(folder, f"out{size_mb}.yaml", output_job(size_mb * 1_000_000))
            seconds, peak = timed([*WRAPRUN, "run", job])
            rows.append(
                (
                    f"relay {size_mb} MB of 100-byte lines (MB/s)",
                    size_mb / seconds,
                    float("nan"),
                    "target ≥ 150 MB/s",
                )
            )
            rows.append((f"peak RSS relaying {size_mb} MB (MB)", peak / 1e6, float("nan"), "flat with size"))
        small = write(folder, "out20.yaml", output_job(20_000_000))
        seconds, peak = timed([*official, "run", small])
        rows.append(
            (
                "official: relay 20 MB (MB/s, peak RSS MB)",
                20 / seconds,
                peak / 1e6,
                "official measured on 20 MB only: it is slow",
            )
        )
        check_target = write(folder, "tasks300.yaml", tasks_job(300))
        ours_c = median(5, lambda: timed([*WRAPRUN, "check", check_target])[0])
        theirs_c = median(5, lambda: timed([*official, "check", check_target])[0])
        rows.append(("CLI start: check (s)", ours_c, theirs_c, "target ≤ 0.15 s"))
    floor = spawn_floor()
    print(f"Floor: spawning /bin/true from Python takes {floor * 1e3:.2f} ms per process here.\n")
    print(f"{'measure':46} {'wraprun':>9} {'official':>9} {'ratio':>7}  note")
    for name, mine, other, note in rows:
        ratio = mine / other if other == other and other else float("nan")
        print(f"{name:46} {mine:9.2f} {other:9.2f} {ratio:7.2f}  {note}")
    if args.json:
        Path(args.json).write_text(json.dumps({"floor_ms": floor * 1e3, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
