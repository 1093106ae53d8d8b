"""--sessions N and the local backend: a job's tasks over concurrent sessions, real processes.

Ordering is checked with what the tasks themselves record (CLOCK_MONOTONIC,
one clock for every process of the host), never with time limits.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from wraprun import events, job
from wraprun.backends import Slice
from wraprun.backends.local import LocalBackend
from wraprun.parallel import work_of

from .helpers import gone, on_a_terminal, survivors, survivors_of, wraprun, write

TAG = re.compile(r"^\[(s\d+)\] ")

# Records one line per run of an action: NAME WHEN(ns, monotonic) PID, in a file per name.
RECORD = (
    "import os, sys, time; "
    "open(os.path.join(sys.argv[1], sys.argv[2]), 'a').write(f'{time.monotonic_ns()} {os.getpid()}\\n')"
)


def record(folder: Path, name: str) -> dict[str, Any]:
    return {"command": sys.executable, "args": ["-c", RECORD, str(folder), name]}


def task_script(folder: Path, step: str, extra: str = "") -> dict[str, Any]:
    """A task that records its start, does ``extra`` (Python), records its end."""
    code = (
        "import os, sys, time\n"
        "folder, name = sys.argv[1], sys.argv[2]\n"
        "def mark(what):\n"
        "    with open(os.path.join(folder, name + '.' + what), 'a') as out:\n"
        "        out.write(f'{time.monotonic_ns()} {os.getpid()}\\n')\n"
        "mark('start')\n"
        f"{extra}\n"
        "mark('end')\n"
    )
    name = f"{step}-{{{{Task.Param.N}}}}"
    return {"actions": {"onRun": {"command": sys.executable, "args": ["-c", code, str(folder), name]}}}


def two_step_job(tmp_path: Path, a_extra: str = "", b_extra: str = "", a_tasks: int = 6) -> Path:
    """Step A (``a_tasks`` tasks) and step B (4 tasks) that depends on A; a job environment and
    a step environment on each step, every enter and exit recorded."""
    folder = tmp_path / "records"
    folder.mkdir()

    def env(name: str) -> dict[str, Any]:
        actions = {"onEnter": record(folder, f"{name}.enter"), "onExit": record(folder, f"{name}.exit")}
        return {"name": name, "script": {"actions": actions}}

    def space(count: int) -> dict[str, Any]:
        return {"taskParameterDefinitions": [{"name": "N", "type": "INT", "range": f"1-{count}"}]}

    steps = [
        {
            "name": "A",
            "stepEnvironments": [env("StepA")],
            "parameterSpace": space(a_tasks),
            "script": task_script(folder, "A", a_extra),
        },
        {
            "name": "B",
            "dependencies": [{"dependsOn": "A"}],
            "stepEnvironments": [env("StepB")],
            "parameterSpace": space(4),
            "script": task_script(folder, "B", b_extra),
        },
    ]
    document = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "Parallel",
        "jobEnvironments": [env("JobEnv")],
        "steps": steps,
    }
    return write(tmp_path / "job.yaml", document)


def times(folder: Path, pattern: str) -> list[int]:
    return [int(line.split()[0]) for path in folder.glob(pattern) for line in path.read_text().splitlines()]


def runs_per_task(folder: Path) -> Counter[str]:
    return Counter(
        {path.name[: -len(".start")]: len(path.read_text().splitlines()) for path in folder.glob("*.start")}
    )


def by_session(stdout: str) -> dict[str, list[str]]:
    lines: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        found = TAG.match(line)
        if found:
            lines.setdefault(found.group(1), []).append(line[found.end() :])
    return lines


def test_a_dependent_step_starts_after_every_task_of_its_dependency(tmp_path: Path) -> None:
    path = two_step_job(tmp_path, a_extra="time.sleep(0.05)")
    folder = tmp_path / "records"
    result = wraprun("run", str(path), "--sessions", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    # Ordering evidence: every task of B started after the last task of A ended.
    assert max(times(folder, "A-*.end")) < min(times(folder, "B-*.start"))
    # Each task ran exactly once, over all the sessions.
    assert runs_per_task(folder) == Counter(
        {f"A-{n}": 1 for n in range(1, 7)} | {f"B-{n}": 1 for n in range(1, 5)}
    )
    assert result.stdout.splitlines()[-1] == "Run succeeded: 10 task(s) run in 4 session(s)."


def test_each_session_enters_and_exits_its_environments_once(tmp_path: Path) -> None:
    path = two_step_job(tmp_path)
    folder = tmp_path / "records"
    result = wraprun("run", str(path), "--sessions", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    sessions = by_session(result.stdout)
    assert sorted(sessions) == ["s1", "s2", "s3", "s4"]  # two slices of each step
    for tag, lines in sessions.items():
        counted = Counter(line for line in lines if line.startswith(("==> Enter", "==> Exit")))
        step = "StepA" if any(line.startswith("==> Task A") for line in lines) else "StepB"
        assert counted == {
            "==> Enter environment 'JobEnv': " + sys.executable: 1,
            f"==> Enter environment '{step}': " + sys.executable: 1,
            f"==> Exit environment '{step}': " + sys.executable: 1,
            "==> Exit environment 'JobEnv': " + sys.executable: 1,
        }, tag
        assert lines[-1].startswith("Session succeeded: ")
    # The records agree: four job environment enters and exits, two of each step's.
    for name, count in {"JobEnv": 4, "StepA": 2, "StepB": 2}.items():
        assert len(times(folder, f"{name}.enter")) == count == len(times(folder, f"{name}.exit"))
    # Never more than two sessions at once: between a job environment's enter and its exit.
    enters, exits = times(folder, "JobEnv.enter"), times(folder, "JobEnv.exit")
    edges = sorted([(when, 1) for when in enters] + [(when, -1) for when in exits])
    depth = peak = 0
    for _, change in edges:
        depth += change
        peak = max(peak, depth)
    assert peak <= 2


def test_a_failed_task_stops_new_work_of_its_step_and_its_dependents(tmp_path: Path) -> None:
    # Slices of A: tasks 1-3 (one session) and 4-6 (the other). Task 2 fails once task 4 has
    # started; task 4 waits until the failed session has exited its step environment, so its
    # own session surely learns of the failure while task 4 runs: it must start neither 5 nor 6.
    folder = tmp_path / "records"

    def wait_for(record: str) -> str:
        return (
            f"    path, deadline = os.path.join(folder, '{record}'), time.monotonic() + 60\n"
            "    while not os.path.exists(path) and time.monotonic() < deadline:\n"
            "        time.sleep(0.02)\n"
        )

    fail = f"if name == 'A-2':\n{wait_for('A-4.start')}    sys.exit(1)"
    wait = f"if name == 'A-4':\n{wait_for('StepA.exit')}"
    path = two_step_job(tmp_path, a_extra=f"{fail}\n{wait}")
    result = wraprun("run", str(path), "--sessions", "2")
    assert result.returncode == 1, result.stdout + result.stderr
    ran = set(runs_per_task(folder))
    assert ran == {"A-1", "A-2", "A-4"}, result.stdout
    assert not any(name.startswith("B") for name in ran)
    sessions = by_session(result.stdout)
    assert len(sessions) == 2  # B's slices never started
    ends = sorted(lines[-1] for lines in sessions.values())
    assert ends == ["Session canceled.", "Session failed: FAILED"]
    # Both sessions tore down what they entered.
    assert len(times(folder, "StepA.exit")) == 2 and len(times(folder, "JobEnv.exit")) == 2
    last = result.stdout.splitlines()[-1]
    assert last.startswith("Run failed: 3 task(s) run in 2 session(s); 2 slice(s) not started.")


def interruptible_job(tmp_path: Path, exit_code: str = "") -> tuple[Path, Path]:
    """Tasks that write their pid and sleep; a job environment whose exit records itself
    (after ``exit_code``, Python)."""
    pids = tmp_path / "pids"
    pids.mkdir()
    token = f"wraprun-parallel-{os.getpid()}-{tmp_path.name}"
    task = (
        "import os, sys, time\n"
        "open(os.path.join(sys.argv[1], f'{os.getpid()}.pid'), 'w').write(str(os.getpid()))\n"
        "time.sleep(600)\n"
    )
    leave = (
        f"import os, sys, time\n{exit_code}\nopen(os.path.join(sys.argv[1], f'exit-{{os.getpid()}}'), 'w')\n"
    )
    actions = {
        "onEnter": {"command": sys.executable, "args": ["-c", "print('entered')", token]},
        "onExit": {"command": sys.executable, "args": ["-c", leave, str(tmp_path), token]},
    }
    space = {"taskParameterDefinitions": [{"name": "N", "type": "INT", "range": "1-6"}]}
    run = {"command": sys.executable, "args": ["-c", task, str(pids), token, "{{Task.Param.N}}"]}
    document = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "Interrupted",
        "jobEnvironments": [{"name": "JobEnv", "script": {"actions": actions}}],
        "steps": [{"name": "S", "parameterSpace": space, "script": {"actions": {"onRun": run}}}],
    }
    return write(tmp_path / "job.yaml", document), pids


def start_and_wait_for(args: list[str], pids: Path, count: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wraprun", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while len(list(pids.glob("*.pid"))) < count:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"the tasks never started:\n{proc.communicate()[0]}")
        time.sleep(0.02)
    return proc


def test_sigint_tears_down_every_session(tmp_path: Path) -> None:
    path, pids = interruptible_job(tmp_path)
    proc = start_and_wait_for(["run", str(path), "--sessions", "3"], pids, 3)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 3, out
    assert len(list(tmp_path.glob("exit-*"))) == 3  # every session's onExit ran
    sessions = by_session(out)
    assert sorted(sessions) == ["s1", "s2", "s3"]
    assert all(lines[-1] == "Session canceled." for lines in sessions.values())
    assert out.splitlines()[-1] == "Run canceled: 3 task(s) run in 3 session(s)."
    assert survivors(pids) == []
    assert gone(tmp_path.name)


def test_a_second_sigint_skips_the_teardown_that_remains(tmp_path: Path) -> None:
    # The exits hang: only a second interrupt ends the run, killing them.
    hang = "open(os.path.join(sys.argv[1], f'exiting-{os.getpid()}'), 'w'); time.sleep(600)"
    path, pids = interruptible_job(tmp_path, exit_code=hang)
    proc = start_and_wait_for(["run", str(path), "--sessions", "2"], pids, 2)
    proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("exiting-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 3, out
    assert list(tmp_path.glob("exit-*")) == []  # no exit finished: they were killed
    exiting = [int(p.name.split("-")[1]) for p in tmp_path.glob("exiting-*")]
    assert len(exiting) == 2
    assert survivors_of(exiting) == [] and survivors(pids) == []
    assert gone(tmp_path.name)


def test_every_line_is_tagged_when_piped(tmp_path: Path) -> None:
    path = two_step_job(tmp_path, b_extra="sys.stdout.write('no newline at the end'); sys.stdout.flush()")
    result = wraprun("run", str(path), "--sessions", "2")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Running job 'Parallel': 10 task(s) in 4 slice(s), at most 2 session(s) at a time"
    assert lines[-1].startswith("Run succeeded:")
    assert all(TAG.match(line) for line in lines[1:-1]), result.stdout
    # An action's last line without a newline is ended in its own session, before its next line.
    unterminated = [line for line in lines if line.endswith("no newline at the end")]
    assert len(unterminated) == 4 and all(TAG.match(line) for line in unterminated)
    assert "\x1b" not in result.stdout  # no live line on a pipe


def test_json_lines_carry_the_session(tmp_path: Path) -> None:
    path = two_step_job(tmp_path)
    result = wraprun("run", str(path), "--sessions", "2", "--output", "jsonl")
    assert result.returncode == 0
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    *sessions, last = objects
    assert last["event"] == "RunEnded" and "session" not in last
    assert (last["state"], last["tasks_run"], last["sessions"], last["not_started"]) == (
        "SUCCEEDED",
        10,
        4,
        0,
    )
    assert all(re.fullmatch(r"s\d+", record["session"]) for record in sessions)
    assert all(list(record)[:2] == ["event", "session"] for record in sessions)
    started = Counter(r["session"] for r in sessions if r["event"] == "SessionStarted")
    ended = Counter(r["session"] for r in sessions if r["event"] == "SessionEnded")
    assert started == ended == Counter({"s1": 1, "s2": 1, "s3": 1, "s4": 1})


def test_one_session_is_exactly_a_run_without_the_flag(tmp_path: Path) -> None:
    path = two_step_job(tmp_path, b_extra="print('partial', end='')")
    plain, one = wraprun("run", str(path)), wraprun("run", str(path), "--sessions", "1")
    assert plain.returncode == one.returncode == 0
    assert plain.stdout == one.stdout and plain.stderr == one.stderr
    assert not any(TAG.match(line) for line in one.stdout.splitlines())

    def without_durations(text: str) -> list[dict[str, Any]]:
        return [{k: v for k, v in json.loads(line).items() if k != "duration"} for line in text.splitlines()]

    plain, one = (
        wraprun("run", str(path), "--output", "jsonl"),
        wraprun("run", str(path), "--output", "jsonl", "--sessions", "1"),
    )
    assert without_durations(plain.stdout) == without_durations(one.stdout)


def test_the_live_line_on_a_terminal(tmp_path: Path) -> None:
    path = two_step_job(tmp_path)
    code, screen = on_a_terminal("run", str(path), "--sessions", "2")
    assert code == 0
    assert "tasks 10/10 | failed 0" in screen
    assert re.search(r"tasks \d+/10 \| failed 0 \| s\d: Task [AB] \(N=\d\)", screen)
    assert screen.endswith("\r\x1b[K")  # the live line is cleared at the end
    assert "Run succeeded: 10 task(s) run in 4 session(s)." in screen


def test_the_backend_reports_each_slice_and_drops_dependents_of_a_failure(tmp_path: Path) -> None:
    # A-1 fails; every other task of A waits until that session has exited its step
    # environment, so the failure is known by then whatever the machine's speed.
    wait = (
        "if name == 'A-1': sys.exit(1)\n"
        "deadline = time.monotonic() + 60\n"
        "while not os.path.exists(os.path.join(folder, 'StepA.exit')) and time.monotonic() < deadline:\n"
        "    time.sleep(0.02)"
    )
    path = two_step_job(tmp_path, a_extra=wait)
    plan = job.plan_request(job.Request(path))
    seen: dict[str, list[events.Event]] = {}

    def emit_for(tag: str, piece: Slice) -> events.EventCallback:
        return seen.setdefault(tag, []).append

    backend = LocalBackend(plan, sessions=2, emit_for=emit_for)
    backend.submit(work_of(plan, 3))
    deadline = time.monotonic() + 60
    while not backend.wait(0.1):
        assert time.monotonic() < deadline
    states = {str(status.slice): status.state for status in backend.poll()}
    assert states["A[0:2]"] == "FAILED"
    assert states["B[0:2]"] == states["B[2:3]"] == states["B[3:4]"] == "CANCELED"
    # The slice running beside it stops before its next task; the third never starts.
    assert states["A[2:4]"] == states["A[4:6]"] == "CANCELED"
    assert backend.tags() == {Slice("A", 0, 2): "s1", Slice("A", 2, 4): "s2"}
    # (Task 3 ran when its session reached it before the failure was known; task 4 never did.)
    assert set(runs_per_task(tmp_path / "records")) in ({"A-1"}, {"A-1", "A-3"})
    assert all(isinstance(evs[-1], events.SessionEnded) for evs in seen.values())
    assert backend.errors == []


def test_a_reader_that_goes_away_stops_every_session_and_tears_down(tmp_path: Path) -> None:
    """``wraprun run JOB --sessions 2 | head -c 65536``: as for one session, quietly, exit 3."""
    marker = tmp_path / "exited"
    actions = {"onExit": {"command": "sh", "args": ["-c", f"echo x >> {marker}"]}}
    flood = {"command": "sh", "args": ["-c", "while :; do echo flood-3704; done"]}
    space = {"taskParameterDefinitions": [{"name": "N", "type": "INT", "range": "1-4"}]}
    document = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "Flood",
        "jobEnvironments": [{"name": "E", "script": {"actions": actions}}],
        "steps": [{"name": "S", "parameterSpace": space, "script": {"actions": {"onRun": flood}}}],
    }
    (tmp_path / "t").mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wraprun",
            "run",
            str(write(tmp_path / "job.yaml", document)),
            "--sessions",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmp_path / "t")},
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(65536)) == 65536
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 3 and err == b""
    assert marker.read_text() == "x\nx\n"  # both sessions tore down
    assert gone("flood-3704") and list((tmp_path / "t").iterdir()) == []


def test_sessions_must_be_at_least_one(tmp_path: Path) -> None:
    result = wraprun("run", str(two_step_job(tmp_path)), "--sessions", "0")
    assert result.returncode == 2 and "argument --sessions:" in result.stderr.splitlines()[-1]


def test_a_secret_one_session_declares_is_masked_in_every_session_from_then_on(tmp_path: Path) -> None:
    """The sessions' output is one log: a value one declares with openjd_redacted_env is
    masked in the others' lines too, as it would be in one session."""
    secret = "s3cr3t-4711"
    declare = {"command": "sh", "args": ["-c", f"echo openjd_redacted_env: TOKEN={secret}"]}
    show = {"command": "sh", "args": ["-c", f"echo token is {secret}"]}
    space = {"taskParameterDefinitions": [{"name": "N", "type": "INT", "range": "1-2"}]}
    document = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "Secret",
        "steps": [
            {"name": "A", "script": {"actions": {"onRun": declare}}},
            {
                "name": "B",
                "dependencies": [{"dependsOn": "A"}],
                "parameterSpace": space,
                "script": {"actions": {"onRun": show}},
            },
        ],
    }
    for output in ("human", "jsonl"):
        result = wraprun(
            "run", str(write(tmp_path / "job.yaml", document)), "--sessions", "2", "--output", output
        )
        assert result.returncode == 0, result.stdout
        assert secret not in result.stdout and secret not in result.stderr
        assert result.stdout.count("token is ********") == 2
