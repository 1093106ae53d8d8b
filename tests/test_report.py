"""report and results: the HTML session report and the result document (`--output json|yaml`, `--report`)."""

from __future__ import annotations

import itertools
import json
import re
import signal
import struct
import subprocess
import sys
import time
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from wraprun import events
from wraprun.record import Limits, Recorder
from wraprun.report import Lane, render
from wraprun.results import check_path

from .conformance_helpers.official import chromium, chromium_flags
from .helpers import assert_no_secret, wraprun, write
from .test_record import EVENTS

HOSTILE = "<script>alert('x')</script> & \"q\" \x00nul \x1b[31mred\x1b[0m \x07"


# --- rendering ----------------------------------------------------------------------------------


class Balance(HTMLParser):
    """Every tag opened is closed, in order; collects the text and the bars' styles."""

    VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.bars: list[dict[str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.problems.append("a script element")
        found = {k: v or "" for k, v in attrs}
        if tag == "span" and found.get("class", "").startswith("bar "):
            self.bars.append(found)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def well_formed(page: str) -> Balance:
    parser = Balance()
    parser.feed(page)
    parser.close()
    assert parser.problems == [] and parser.stack == [], (parser.problems, parser.stack)
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", page)  # control characters made visible
    assert not re.search(r"https?://|url\(|@import", page)  # nothing fetched
    return parser


def page_of(evs: list[events.Event], limits: Limits | None = None) -> str:
    ticks = itertools.count()
    recorder = Recorder(clock=lambda: float(next(ticks)), limits=limits or Limits())
    for event in evs:
        recorder(event)
    return render([Lane("", "", recorder.record)], recorder.record.state or "FAILED")


def run_of(*labels: tuple[str, str, str], output: bytes = b"out\n") -> list[events.Event]:
    """A session running (kind, label, wrapped_by) actions in order, each printing ``output``."""
    evs: list[events.Event] = [events.SessionStarted("Job")]
    for kind, label, via in labels:
        # The environment or step the session names beside each label (``Task S (..)``: S).
        subject = label.split("'")[1] if "'" in label else label.removeprefix("Task ").split(" (")[0]
        evs += [
            events.ActionStarted(kind, label, ("prog",), via, subject),  # type: ignore[arg-type]
            events.ActionOutput(output),
            events.ActionEnded(label, "SUCCEEDED", 0, "", "onRun", subject),
        ]
    return [*evs, events.SessionEnded("SUCCEEDED", 1, 5.0)]


def test_every_action_is_a_bar_placed_on_the_session_scale() -> None:
    evs = run_of(
        ("onEnter", "Enter environment 'E'", ""),
        ("onRun", "Task S (N=1)", ""),
        ("onExit", "Exit environment 'E'", ""),
    )
    parsed = well_formed(page_of(evs))
    places = [re.findall(r"([\d.]+)%", bar["style"]) for bar in parsed.bars]
    assert len(places) == 3
    lefts = [float(left) for left, _ in places]
    assert lefts == sorted(lefts) and all(0 <= float(x) <= 100 for place in places for x in place)
    assert {bar["class"] for bar in parsed.bars} == {"bar s-SUCCEEDED"}


def test_environments_enclose_their_actions_and_hooks_are_named_over_their_bars() -> None:
    page = page_of(
        run_of(
            ("onWrapEnvEnter", "Enter environment 'Inner'", "Wrap"),
            ("onWrapTaskRun", "Task S (N=1)", "Wrap"),
            ("onWrapEnvExit", "Exit environment 'Inner'", "Wrap"),
        )
    )
    well_formed(page)
    assert page.count('class="env"') == 2  # the wrapper and Inner, one inside the other
    assert re.search(r'class="env">.*?Wrap.*?class="env">.*?Inner', page, re.DOTALL)
    for hook in ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit"):
        assert f"via Wrap.{hook}" in page


def test_hostile_text_is_escaped_everywhere() -> None:
    label = f"Task S (P={HOSTILE})"
    evs: list[events.Event] = [
        events.SessionStarted(HOSTILE),
        events.ActionStarted("onWrapTaskRun", label, (HOSTILE,), HOSTILE),
        events.ActionOutput(HOSTILE.encode() + b"\n\xff\xfe\r\n"),
        events.ActionProgress(50.0, HOSTILE),
        events.ActionEnded(label, "FAILED", 1, HOSTILE),
        events.SessionMessage(HOSTILE, HOSTILE),
        events.TaskCount(1, 1, HOSTILE),
        events.SessionEnded("FAILED", 1, 1.0, HOSTILE),
    ]
    page = page_of(evs)
    parsed = well_formed(page)
    text = "".join(parsed.text)
    assert "<script>alert('x')</script> & \"q\" ␀nul red ␇" in text  # shown as text, not markup
    assert "\ufffd\ufffd" in text  # bytes that were not UTF-8


@settings(max_examples=120, deadline=None)
@given(EVENTS)
def test_any_event_sequence_renders_a_well_formed_page(evs: list[events.Event]) -> None:
    well_formed(page_of(evs, Limits(output_edge=16, output_budget=200, action_edge=3)))


def test_several_sessions_are_lanes_on_one_scale() -> None:
    lanes = []
    for n, delay in ((1, 0.0), (2, 10.0)):
        ticks = itertools.count()
        recorder = Recorder(clock=lambda t=ticks, d=delay: d + next(t))  # type: ignore[misc]
        for event in run_of(("onRun", f"Task S (N={n})", "")):
            recorder(event)
        lanes.append(Lane(f"s{n}", f"S[{n - 1}:{n}]", recorder.record))
    parsed = well_formed(render(lanes, "SUCCEEDED"))
    lefts = [float(re.findall(r"([\d.]+)%", bar["style"])[0]) for bar in parsed.bars]
    assert lefts[0] < 50 < lefts[1]  # the second session started 10 s later
    assert "Session s1" in "".join(parsed.text) and "Session s2" in "".join(parsed.text)


def test_a_report_path_must_be_a_file_in_a_directory_that_exists(tmp_path: Path) -> None:
    assert check_path(str(tmp_path / "r.html")) is None
    assert "no such directory" in (check_path(str(tmp_path / "missing" / "r.html")) or "")
    assert "is a directory" in (check_path(str(tmp_path)) or "")


# --- the CLI ------------------------------------------------------------------------------------


def job(tmp: Path, run: str, *, tasks: str = "1-3", name: str = "J") -> Path:
    """A job with one environment (Scene) and one step (S) whose tasks run ``bash -c RUN N``."""
    scene = {
        "onEnter": {"command": "bash", "args": ["-c", "echo entering"]},
        "onExit": {"command": "bash", "args": ["-c", "echo leaving"]},
    }
    step = {
        "name": "S",
        "parameterSpace": {"taskParameterDefinitions": [{"name": "N", "type": "INT", "range": tasks}]},
        "script": {"actions": {"onRun": {"command": "bash", "args": ["-c", run, "-", "{{Task.Param.N}}"]}}},
    }
    return write(
        tmp / "job.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": name,
            "jobEnvironments": [{"name": "Scene", "script": {"actions": scene}}],
            "steps": [step],
        },
    )


def wrapper(tmp: Path) -> str:
    """An environment 'Announce' whose hooks print a line, then run the inner action as it is."""

    def hook(what: str) -> dict[str, Any]:
        say = f'echo "[wrap] {what} $0"; exec "$@"'
        name = "{{WrappedStep.Name}}" if what == "task of step" else "{{WrappedEnv.Name}}"
        return {
            "command": "bash",
            "args": ["-c", say, name, "{{WrappedAction.Command}}", "{{WrappedAction.Args}}"],
        }

    hooks = {
        "onWrapEnvEnter": hook("entering"),
        "onWrapTaskRun": hook("task of step"),
        "onWrapEnvExit": hook("exiting"),
    }
    document = {
        "specificationVersion": "environment-2023-09",
        "extensions": ["WRAP_ACTIONS", "EXPR"],
        "environment": {"name": "Announce", "script": {"actions": hooks}},
    }
    return str(write(tmp / "wrapper.yaml", document))


def load(text: str, form: str) -> dict[str, Any]:
    data = json.loads(text) if form == "json" else yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def states(doc: dict[str, Any]) -> list[tuple[str, str, str, int | None]]:
    return [(a["kind"], a["label"], a["state"], a["exit_code"]) for a in doc["actions"]]


FAILING = 'echo "task $1"; if [ "$1" = 3 ]; then echo "openjd_fail: frame $1 broke"; exit 7; fi'


@pytest.mark.parametrize("form", ["json", "yaml"])
def test_a_succeeding_run_prints_one_document(tmp_path: Path, form: str) -> None:
    done = wraprun("run", str(job(tmp_path, 'echo "task $1"; echo "openjd_progress: 100"')), "--output", form)
    assert done.returncode == 0, done.stderr
    doc = load(done.stdout, form)  # the whole of stdout is the document
    assert (doc["status"], doc["job_name"], doc["tasks_run"], doc["message"]) == ("SUCCEEDED", "J", 3, "")
    assert doc["steps"] == [{"name": "S", "tasks_run": 3, "tasks_done": 3}]
    assert states(doc) == [
        ("onEnter", "Enter environment 'Scene'", "SUCCEEDED", 0),
        ("onRun", "Task S (N=1)", "SUCCEEDED", 0),
        ("onRun", "Task S (N=2)", "SUCCEEDED", 0),
        ("onRun", "Task S (N=3)", "SUCCEEDED", 0),
        ("onExit", "Exit environment 'Scene'", "SUCCEEDED", 0),
    ]
    task = doc["actions"][1]
    assert task["output"] == ["task 1", "openjd_progress: 100"] and task["progress"] == 100.0
    assert task["step"] == "S" and task["environment"] == 0 and task["duration"] >= 0
    assert [(e["name"], e["enter_action"], e["exit_action"]) for e in doc["environments"]] == [
        ("Scene", 0, 4)
    ]


@pytest.mark.parametrize("form", ["json", "yaml"])
def test_a_failing_run_prints_the_document_with_the_failure(tmp_path: Path, form: str) -> None:
    done = wraprun("run", str(job(tmp_path, FAILING)), "--output", form)
    assert done.returncode == 1, done.stderr
    doc = load(done.stdout, form)
    assert doc["status"] == "FAILED" and doc["message"] == "frame 3 broke"
    assert states(doc)[3:] == [
        ("onRun", "Task S (N=3)", "FAILED", 7),
        ("onExit", "Exit environment 'Scene'", "SUCCEEDED", 0),  # teardown still ran
    ]
    assert doc["actions"][3]["message"] == "frame 3 broke"
    assert doc["steps"] == [{"name": "S", "tasks_run": 3, "tasks_done": 2}]


@pytest.mark.parametrize("form", ["json", "yaml"])
def test_a_wrapped_run_names_each_hook_and_its_environment(tmp_path: Path, form: str) -> None:
    done = wraprun(
        "run", str(job(tmp_path, 'echo "task $1"', tasks="1-2")), "--env", wrapper(tmp_path), "--output", form
    )
    assert done.returncode == 0, done.stderr
    doc = load(done.stdout, form)
    hooks = [(a["kind"], a["wrapped_by"], a["label"]) for a in doc["actions"]]
    assert hooks == [
        ("onWrapEnvEnter", "Announce", "Enter environment 'Scene'"),
        ("onWrapTaskRun", "Announce", "Task S (N=1)"),
        ("onWrapTaskRun", "Announce", "Task S (N=2)"),
        ("onWrapEnvExit", "Announce", "Exit environment 'Scene'"),
    ]
    assert doc["actions"][1]["output"] == ["[wrap] task of step S", "task 1"]
    spans = {e["name"]: e for e in doc["environments"]}
    assert spans["Announce"]["wraps"] and spans["Scene"]["parent"] == spans["Announce"]["index"]


def run_until_ready(args: list[str], ready: Path, sig: int) -> subprocess.CompletedProcess[str]:
    """Start wraprun, send ``sig`` once ``ready`` exists; stdout and stderr kept apart."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wraprun", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    end = time.monotonic() + 60
    while not ready.exists() and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize(("form", "sig"), [("json", signal.SIGINT), ("yaml", signal.SIGTERM)])
def test_a_canceled_run_still_prints_its_document_and_report(tmp_path: Path, form: str, sig: int) -> None:
    ready = tmp_path / "ready"
    template = job(tmp_path, f'echo "task $1"; touch {ready}; exec sleep 60', tasks="1")
    report = tmp_path / "report.html"
    done = run_until_ready(["run", str(template), "--output", form, "--report", str(report)], ready, sig)
    assert done.returncode == 3, done.stderr
    doc = load(done.stdout, form)
    assert doc["status"] == "CANCELED"
    assert states(doc)[1:] == [
        ("onRun", "Task S (N=1)", "CANCELED", doc["actions"][1]["exit_code"]),
        ("onExit", "Exit environment 'Scene'", "SUCCEEDED", 0),
    ]
    page = report.read_text(encoding="utf-8")
    assert "CANCELED" in page and 'class="bar s-CANCELED"' in page
    well_formed(page)


def test_a_report_in_a_missing_directory_is_refused_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    template = job(tmp_path, f"touch {marker}")
    for target in (tmp_path / "missing" / "r.html", tmp_path):
        done = wraprun("run", str(template), "--report", str(target), "--output", "json")
        assert done.returncode == 2 and done.stdout == ""
        assert len(done.stderr.splitlines()) == 1 and str(target) in done.stderr
    assert not marker.exists()


@pytest.mark.parametrize("output", ["human", "jsonl", "json"])
def test_the_report_is_written_whatever_the_output_and_the_outcome(tmp_path: Path, output: str) -> None:
    report = tmp_path / "out" / "r.html"
    report.parent.mkdir()
    done = wraprun("run", str(job(tmp_path, FAILING)), "--output", output, "--report", str(report))
    assert done.returncode == 1
    assert [p.name for p in report.parent.iterdir()] == ["r.html"]  # no temporary file left
    parsed = well_formed(report.read_text(encoding="utf-8"))
    assert [bar["class"] for bar in parsed.bars] == ["bar s-SUCCEEDED"] * 3 + [
        "bar s-FAILED",
        "bar s-SUCCEEDED",
    ]
    if output == "human":
        assert "<== Task S (N=3): FAILED" in done.stdout  # the usual lines, unchanged


def test_a_secret_never_reaches_the_document_or_the_report(tmp_path: Path) -> None:
    secret = "s3cr3t-V4lue-xyz"
    # The enter action prints the value before any action declared it; the first task declares
    # it, then shows it in its output, its status, its fail message.
    run = (
        f'if [ "$1" = 1 ]; then echo "openjd_redacted_env: TOKEN={secret}"; fi; '
        f'echo "token {secret}"; echo "openjd_status: using {secret}"; '
        f'if [ "$1" = 2 ]; then echo "openjd_fail: bad {secret}"; exit 1; fi'
    )
    template = job(tmp_path, run, tasks="1-2")
    data = yaml.safe_load(template.read_text())
    data["jobEnvironments"][0]["script"]["actions"]["onEnter"]["args"] = ["-c", f"echo early {secret}"]
    write(template, data)
    report = tmp_path / "r.html"
    for form in ("json", "yaml"):
        done = wraprun("run", str(template), "--output", form, "--report", str(report))
        assert done.returncode == 1, done.stderr
        assert "********" in done.stdout
        assert_no_secret(done.stdout.encode(), [secret.encode()])
        assert_no_secret(report.read_bytes(), [secret.encode()])


@pytest.mark.parametrize("form", ["json", "yaml"])
def test_parallel_sessions_make_one_document_with_a_part_per_session(tmp_path: Path, form: str) -> None:
    report = tmp_path / "r.html"
    args = ["run", str(job(tmp_path, 'echo "task $1"', tasks="1-4")), "--sessions", "2"]
    done = wraprun(*args, "--output", form, "--report", str(report))
    assert done.returncode == 0, done.stderr
    doc = load(done.stdout, form)
    assert (doc["status"], doc["tasks_run"]) == ("SUCCEEDED", 4)
    assert sorted(s["session"] for s in doc["sessions"]) == ["s1", "s2"]
    assert sum(s["tasks_run"] for s in doc["sessions"]) == 4
    assert all(s["status"] == "SUCCEEDED" and len(s["actions"]) == 4 for s in doc["sessions"])
    page = report.read_text(encoding="utf-8")
    assert "Session s1" in page and "Session s2" in page
    well_formed(page)


# --- in a browser -------------------------------------------------------------------------------


def png_pixels(png: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the colours (RGB) of a PNG that Chromium wrote (8-bit RGB or RGBA)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at, chunks, header = 8, [], b""
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at : at + 8])
        body = png[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        at += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    size = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * size
    previous, colours = bytearray(stride), set()
    for row in range(height):
        kind, line = (
            raw[row * (stride + 1)],
            bytearray(raw[row * (stride + 1) + 1 : (row + 1) * (stride + 1)]),
        )
        if kind == 2:  # undo the row's PNG filter
            line = bytearray((x + up) & 255 for x, up in zip(line, previous, strict=True))
        elif kind in (1, 3, 4):
            for i in range(stride):
                left = line[i - size] if i >= size else 0
                up, corner = previous[i], previous[i - size] if i >= size else 0
                if kind == 1:
                    line[i] = (line[i] + left) & 255
                elif kind == 3:
                    line[i] = (line[i] + ((left + up) >> 1)) & 255
                else:
                    guess = left + up - corner
                    near = min(
                        (abs(guess - left), 0, left),
                        (abs(guess - up), 1, up),
                        (abs(guess - corner), 2, corner),
                    )
                    line[i] = (line[i] + near[2]) & 255
        colours.update(bytes(line[i : i + 3]) for i in range(0, stride, size))
        previous = line
    return width, height, colours


def test_the_report_of_a_wrapped_failing_job_renders_in_chromium(tmp_path: Path) -> None:
    browser = chromium()
    report = tmp_path / "report.html"
    slow = 'echo "openjd_progress: 50"; sleep 0.2; ' + FAILING
    template = job(tmp_path, slow, name="Render <shot> & co")
    done = wraprun("run", str(template), "--env", wrapper(tmp_path), "--report", str(report))
    assert done.returncode == 1, done.stderr
    shot = tmp_path / "report.png"
    flags = chromium_flags(tmp_path / "profile")
    run = [browser, *flags, f"--screenshot={shot}", "--window-size=1400,1000", report.as_uri()]
    subprocess.run(run, capture_output=True, timeout=180, check=False)
    width, height, colours = png_pixels(shot.read_bytes())
    assert (width, height) == (1400, 1000)
    assert len(colours) > 50  # text, bars, shades: not a blank page
    assert bytes.fromhex("2f9e5b") in colours and bytes.fromhex("d64541") in colours  # green and red bars

    dom = subprocess.run(
        [browser, *flags, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=180
    ).stdout
    assert dom.count('class="bar s-SUCCEEDED"') == 4 and dom.count('class="bar s-FAILED"') == 1
    assert dom.count("via Announce.onWrapTaskRun") == 3
    assert "Render &lt;shot&gt; &amp; co" in dom
