"""``wraprun summary`` against what ``wraprun run`` actually runs, for every job of the public suite.

Each bundle is laid out as the conformance runner lays it out; ``summary``
gets the same template, parameters and environments (path mapping changes no
count). What ran is read from ``run --output jsonl``: one ``ActionEnded`` per
task action (its label names the step and the task's values, so a chunk's
tasks are counted from its CHUNK[INT] value) and one per environment entered.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wraprun.conformance.discover import discover
from wraprun.conformance.execute import bundle_command, child_env, load_bundle
from wraprun.conformance.expect import runs_here
from wraprun.conformance.models import TestCase

from .conformance_helpers.paths import PUBLIC_2023
from .test_summary import task_runs

WRAPRUN = [sys.executable, "-m", "wraprun"]
CASES = [
    case
    for case in discover([PUBLIC_2023])
    if case.kind == "run" and runs_here(load_bundle(case.path).run_on)  # posix ones, as the runner
]


@dataclass(frozen=True)
class Outcome:
    run_code: int
    events: list[dict[str, Any]]
    run_err: str
    summary_code: int
    summary: dict[str, Any]
    summary_err: str


def both(case: TestCase) -> Outcome:
    """``run --output jsonl`` and ``summary --output json`` of one bundle, each a process of its own."""
    bundle = load_bundle(case.path)
    with tempfile.TemporaryDirectory(prefix="wraprun-summary-") as tmp:
        command = bundle_command(bundle, Path(tmp), WRAPRUN)
        run = subprocess.run(
            [*command, "--output", "jsonl"],
            cwd=tmp,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        options = command[len(WRAPRUN) + 1 :]
        if "--path-mapping-rules" in options:
            at = options.index("--path-mapping-rules")
            del options[at : at + 2]
        summary = subprocess.run(
            [*WRAPRUN, "summary", *options, "--output", "json"],
            cwd=tmp,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    document = json.loads(summary.stdout or "{}")
    return Outcome(run.returncode, events, run.stderr, summary.returncode, document, summary.stderr)


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest) -> dict[str, Outcome]:
    """Every selected case, two at a time (the cases mostly wait on their processes)."""
    wanted = set()
    for item in request.session.items:
        case = getattr(item, "callspec", None) and item.callspec.params.get("case")
        if isinstance(case, TestCase):
            wanted.add(case.name)
        if item.name == test_the_comparison_meets_every_kind_of_step.__name__:
            wanted.update(case.name for case in CASES)
    selected = [case for case in CASES if case.name in wanted]
    with ThreadPoolExecutor(2) as pool:
        return dict(zip([c.name for c in selected], pool.map(both, selected), strict=True))


def started(events: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "ActionStarted" and e["label"].startswith(prefix)]


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_summary_counts_what_run_runs(case: TestCase, outcomes: dict[str, Outcome]) -> None:
    got = outcomes[case.name]
    if got.run_code == 2:  # refused before anything ran: summary refuses it too
        assert got.summary_code == 2 and got.summary["status"] == "error", got.summary_err
        assert got.summary_err == got.run_err and got.summary_err.strip()  # the same lines
        return
    assert got.run_code in (0, 1), f"run exited {got.run_code}"
    assert got.summary_code == 0, got.summary_err
    steps = got.summary["steps"]
    ran = [task_runs(step, got.events) for step in steps]
    # Steps run in the summary's order; after a failure (exit 1) the run stops where it failed.
    last = max((i for i, (actions, _) in enumerate(ran) if actions), default=-1)
    order = []
    for event in started(got.events, "Task "):
        step = next((s["name"] for s in steps if event["label"].split(" (")[0] == f"Task {s['name']}"), None)
        assert step is not None, f"a task of no step in the summary: {event['label']!r}"
        if not order or order[-1] != step:
            order.append(step)
    assert order == [s["name"] for s, (actions, _) in zip(steps, ran, strict=True) if actions]
    for index, (step, (actions, tasks)) in enumerate(zip(steps, ran, strict=True)):
        if got.run_code == 1 and index >= last:
            assert tasks <= step["total_tasks"]  # the failing step, and those never reached
            continue
        assert tasks == step["total_tasks"], step["name"]
        chunks = step["chunks"]
        if chunks is None:
            assert actions == step["total_tasks"]
        elif not chunks["adaptive"]:
            assert actions == step["total_chunks"]
        else:  # sized while running: the first chunk is the starting size (or what is left)
            assert step["total_chunks"] is None and actions >= 1
    assert got.summary["total_tasks"] == sum(s["total_tasks"] for s in steps)
    # Environments are entered in the summary's order (one without onEnter leaves no action),
    # and a task runs through the wrapping environment the summary names.
    entry = [e["name"] for e in got.summary["root_environments"]] + [
        e["name"] for s in steps for e in s["environments"]
    ]
    entered = [
        re.sub(r"^Enter environment '(.*)'$", r"\1", e["label"]) for e in started(got.events, "Enter ")
    ]
    assert is_subsequence(entered, entry), (entered, entry)
    for step in steps:
        for event in started(got.events, f"Task {step['name']}"):
            if event["label"].split(" (")[0] != f"Task {step['name']}":
                continue
            if step["wrapped_by"] is None:
                assert event["kind"] == "onRun" and event["wrapped_by"] == ""
            else:
                assert event["kind"] == "onWrapTaskRun" and event["wrapped_by"] == step["wrapped_by"]


def test_every_public_job_is_compared() -> None:
    assert len(CASES) > 200, "the public suite is there (shared/openjd-conformance)"


def test_the_comparison_meets_every_kind_of_step(outcomes: dict[str, Outcome]) -> None:
    """The suite has what the comparison is for: chunks, wrapped tasks, failures and refusals."""
    steps = [s for o in outcomes.values() if o.summary_code == 0 for s in o.summary["steps"]]
    assert any(s["chunks"] and not s["chunks"]["adaptive"] and s["total_chunks"] > 1 for s in steps)
    assert any(s["chunks"] and s["total_tasks"] > s["total_chunks"] for s in steps if s["total_chunks"])
    assert any(s["wrapped_by"] for s in steps)
    assert any(s["total_tasks"] > 1 and not s["chunks"] for s in steps)
    assert {o.run_code for o in outcomes.values()} == {0, 1, 2}
