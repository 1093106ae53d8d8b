"""``wraprun summary``: the job a template makes, its steps, counts and environments; nothing runs."""

from __future__ import annotations

import json
import math
import re
from itertools import groupby
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wraprun import job
from wraprun.model import rs
from wraprun.summary import summarize

from .helpers import wraprun, write

ECHO = {"actions": {"onRun": {"command": "echo", "args": ["{{Task.Param.F}}"]}}}


def wrapping(name: str) -> dict[str, Any]:
    """An environment (template side) whose hooks wrap every action inside it."""
    run = {"command": "{{WrappedAction.Command}}"}  # summary never runs it
    hooks = {"onWrapEnvEnter": run, "onWrapTaskRun": run, "onWrapEnvExit": run}
    return {"name": name, "script": {"actions": hooks}}


def env_template(tmp: Path, environment: dict[str, Any], name: str = "env.yaml", **more: Any) -> Path:
    document = {"specificationVersion": "environment-2023-09", **more, "environment": environment}
    return write(tmp / name, document)


def demo(tmp: Path) -> Path:
    """Two steps (B after A), a job parameter feeding A's range, chunks, job and step environments."""
    return write(
        tmp / "job.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "extensions": ["TASK_CHUNKING"],
            "name": "Demo",
            "parameterDefinitions": [
                {"name": "N", "type": "INT", "default": 5, "description": "frames"},
                {"name": "Where", "type": "STRING", "default": "here"},
            ],
            "jobEnvironments": [{"name": "JobEnv", "variables": {"A": "1"}}],
            "steps": [
                {
                    "name": "B",
                    "dependencies": [{"dependsOn": "A"}],
                    "script": {"actions": {"onRun": {"command": "echo"}}},
                },
                {
                    "name": "A",
                    "parameterSpace": {
                        "taskParameterDefinitions": [
                            {
                                "name": "F",
                                "type": "CHUNK[INT]",
                                "range": "1-{{Param.N}}",
                                "chunks": {"defaultTaskCount": 2, "rangeConstraint": "CONTIGUOUS"},
                            },
                            {"name": "X", "type": "STRING", "range": ["a", "b"]},
                        ]
                    },
                    "stepEnvironments": [{"name": "StepEnv", "variables": {"B": "2"}}],
                    "script": ECHO,
                },
            ],
        },
    )


def summary_json(*args: str, cwd: Path | None = None) -> dict[str, Any]:
    out = wraprun("summary", *args, "--output", "json", cwd=cwd)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    document: dict[str, Any] = json.loads(out.stdout)
    return document


def test_human_output_names_the_job_its_values_steps_in_order_and_environments(tmp_path: Path) -> None:
    out = wraprun("summary", str(demo(tmp_path)), "-p", "N=7")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "Job 'Demo'",
        "Parameters:",
        "  N (INT) = 7",
        "  Where (STRING) = here",
        "Steps: 2; tasks: 15; environments: 2",
        # A runs first (B depends on it): 7 frames x 2 letters, chunks of 2 within each letter.
        "Step 1 'A': 14 tasks in 8 chunks of up to 2 (F CHUNK[INT])",
        "  task parameters: F (CHUNK[INT]), X (STRING)",
        "  environments: StepEnv",
        "Step 2 'B': 1 task",
        "  depends on: A",
        "Environments, in entry order:",
        "  1. JobEnv (job environment)",
        "  2. StepEnv (step 'A' environment)",
    ]


def test_json_uses_openjd_cli_keys_and_adds_dependencies_chunks_and_wrapping(tmp_path: Path) -> None:
    document = summary_json(str(demo(tmp_path)))
    assert document["status"] == "success" and document["message"] == "Summary for 'Demo'"
    assert document["name"] == "Demo"
    assert document["parameter_definitions"] == [
        {"name": "N", "description": "frames", "type": "INT", "value": 5},
        {"name": "Where", "description": None, "type": "STRING", "value": "here"},
    ]
    assert (document["total_steps"], document["total_tasks"], document["total_environments"]) == (2, 11, 2)
    [root] = document["root_environments"]
    assert root == {
        "name": "JobEnv",
        "description": None,
        "parent": "root",
        "template": None,
        "wraps": False,
        "wrap_hooks": [],
    }
    a, b = document["steps"]
    assert a["name"] == "A" and a["dependencies"] == [] and b["dependencies"] == ["A"]
    assert a["parameter_definitions"] == [
        {"name": "F", "type": "CHUNK[INT]"},
        {"name": "X", "type": "STRING"},
    ]
    assert (a["total_tasks"], a["total_chunks"]) == (10, 6)  # 1-2, 3-4, 5 for each of a, b
    assert a["chunks"] == {
        "parameter": "F",
        "default_task_count": 2,
        "target_runtime_seconds": None,
        "range_constraint": "CONTIGUOUS",
        "adaptive": False,
    }
    assert [e["name"] for e in a["environments"]] == ["StepEnv"] and a["environments"][0]["parent"] == "A"
    assert (b["total_tasks"], b["total_chunks"], b["chunks"], b["parameter_definitions"]) == (
        1,
        None,
        None,
        [],
    )
    assert a["wrapped_by"] is None and b["wrapped_by"] is None


def test_yaml_is_the_json_document(tmp_path: Path) -> None:
    template = str(demo(tmp_path))
    out = wraprun("summary", template, "--output", "yaml")
    assert out.returncode == 0, out.stderr
    assert yaml.safe_load(out.stdout) == summary_json(template)


def test_step_restricts_the_summary_to_that_step(tmp_path: Path) -> None:
    template = str(demo(tmp_path))
    whole = summary_json(template)
    for step in whole["steps"]:
        document = summary_json(template, "--step", step["name"])
        assert document["steps"] == [step]
        assert document["message"] == f"Summary for Step '{step['name']}' in Job 'Demo'"
        assert document["total_steps"] == 1 and document["total_tasks"] == step["total_tasks"]
        assert document["total_environments"] == 1 + len(step["environments"])  # JobEnv wraps every step
    human = wraprun("summary", template, "--step", "B")
    assert "Step 1 'B': 1 task" in human.stdout and "Step 2" not in human.stdout


def test_an_unknown_step_is_one_line_and_exit_2(tmp_path: Path) -> None:
    template = str(demo(tmp_path))
    out = wraprun("summary", template, "--step", "Nope")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == [f"{template}: --step 'Nope': no such step (steps: A, B)"]


def test_job_parameters_are_merged_and_resolved_before_counting(tmp_path: Path) -> None:
    template = str(demo(tmp_path))
    values = write(tmp_path / "values.yaml", {"N": 3, "Where": "there"})
    document = summary_json(template, "-p", f"file://{values}", "--job-param", "N=9")  # later wins
    assert [p["value"] for p in document["parameter_definitions"]] == [9, "there"]
    assert document["steps"][0]["total_tasks"] == 18 and document["steps"][0]["total_chunks"] == 10


def test_bad_parameters_and_bad_templates_are_one_line_and_exit_2(tmp_path: Path) -> None:
    template = str(demo(tmp_path))
    out = wraprun("summary", template, "-p", "N=many")
    assert out.returncode == 2 and out.stdout == ""
    [line] = out.stderr.splitlines()
    assert line.startswith(f"{template}: parameters:") and "'many'" in line
    broken = write(tmp_path / "broken.yaml", {"specificationVersion": "jobtemplate-2023-09", "name": "X"})
    out = wraprun("summary", str(broken), "--output", "json")
    assert out.returncode == 2
    [line] = out.stderr.splitlines()
    assert line.startswith(f"{broken}: ")
    assert json.loads(out.stdout) == {"status": "error", "message": line, "problems": [line]}


def test_env_templates_come_first_and_the_wrapping_one_is_named(tmp_path: Path) -> None:
    outer = env_template(
        tmp_path,
        {"name": "Outer", "description": "first", "variables": {"O": "{{Param.Tag}}"}},
        "outer.yaml",
        parameterDefinitions=[{"name": "Tag", "type": "STRING", "default": "t"}],
    )
    wrapper = env_template(tmp_path, wrapping("Wrapper"), "wrapper.yaml", extensions=["EXPR", "WRAP_ACTIONS"])
    template = str(demo(tmp_path))
    document = summary_json(template, "--env", str(outer), "--env", str(wrapper), "-p", "Tag=x")
    roots = document["root_environments"]
    assert [(e["name"], e["template"], e["wraps"]) for e in roots] == [
        ("Outer", str(outer), False),
        ("Wrapper", str(wrapper), True),
        ("JobEnv", None, False),
    ]
    assert roots[1]["wrap_hooks"] == ["onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit"]
    assert {"name": "Tag", "description": None, "type": "STRING", "value": "x"} in document[
        "parameter_definitions"
    ]
    assert [s["wrapped_by"] for s in document["steps"]] == ["Wrapper", "Wrapper"]
    assert document["total_environments"] == 4
    human = wraprun("summary", template, "--env", str(outer), "--env", str(wrapper)).stdout
    assert f"  2. Wrapper (--env {wrapper}); wraps (onWrapEnvEnter, onWrapTaskRun, onWrapEnvExit)" in human
    assert "  tasks wrapped by: Wrapper" in human


def test_two_wrapping_environments_are_refused_as_run_refuses_them(tmp_path: Path) -> None:
    first = env_template(tmp_path, wrapping("One"), "one.yaml", extensions=["EXPR", "WRAP_ACTIONS"])
    second = env_template(tmp_path, wrapping("Two"), "two.yaml", extensions=["EXPR", "WRAP_ACTIONS"])
    template = str(demo(tmp_path))
    args = [template, "--env", str(first), "--env", str(second)]
    summary, run = wraprun("summary", *args), wraprun("run", *args)
    assert summary.returncode == run.returncode == 2
    assert summary.stderr == run.stderr and len(summary.stderr.splitlines()) == 1
    assert "'One'" in summary.stderr and "'Two'" in summary.stderr


def adaptive_job(tmp: Path, frames: str, size: int) -> Path:
    chunks = {"defaultTaskCount": size, "targetRuntimeSeconds": 30, "rangeConstraint": "NONCONTIGUOUS"}
    space = {
        "taskParameterDefinitions": [{"name": "F", "type": "CHUNK[INT]", "range": frames, "chunks": chunks}]
    }
    return write(
        tmp / "adaptive.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "extensions": ["TASK_CHUNKING"],
            "name": "Adaptive",
            "steps": [{"name": "Render", "parameterSpace": space, "script": ECHO}],
        },
    )


def test_adaptive_chunks_are_sized_while_running_and_the_tasks_are_counted(tmp_path: Path) -> None:
    template = str(adaptive_job(tmp_path, "1-100,200-249", 3))
    [step] = summary_json(template)["steps"]
    assert (step["total_tasks"], step["total_chunks"]) == (150, None)
    assert step["chunks"]["adaptive"] is True and step["chunks"]["target_runtime_seconds"] == 30
    human = wraprun("summary", template).stdout
    assert (
        "Step 1 'Render': 150 tasks in chunks sized while running (first chunk 3 tasks, "
        "target 30 s a chunk; F CHUNK[INT])" in human
    )


def test_a_step_of_billions_of_tasks_is_counted_without_making_them(tmp_path: Path) -> None:
    # Chunks of a fixed size: openjd-model's job creation itself holds every value of an adaptive range.
    template = adaptive_job(tmp_path, "1-3000000000", 1000)
    fixed = yaml.safe_load(template.read_text())
    del fixed["steps"][0]["parameterSpace"]["taskParameterDefinitions"][0]["chunks"]["targetRuntimeSeconds"]
    [step] = summary_json(str(write(template, fixed)))["steps"]
    assert (step["total_tasks"], step["total_chunks"]) == (3_000_000_000, 3_000_000)
    big = write(
        tmp_path / "big.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Big",
            "steps": [
                {
                    "name": "S",
                    "parameterSpace": {
                        "taskParameterDefinitions": [
                            {"name": "F", "type": "INT", "range": "1-2000000000"},
                            {"name": "G", "type": "INT", "range": "1-1000"},
                        ]
                    },
                    "script": ECHO,
                }
            ],
        },
    )
    assert summary_json(str(big))["total_tasks"] == 2_000_000_000_000


def task_runs(step: dict[str, Any], events: list[dict[str, Any]]) -> tuple[int, int]:
    """How many task actions of a summary's ``step`` a ``run --output jsonl`` ran (its
    ``ActionEnded`` events), and how many tasks they covered (a chunk: its CHUNK[INT] value's)."""
    name = step["name"]
    chunk = (step["chunks"] or {}).get("parameter")
    actions = tasks = 0
    for event in events:
        label = event.get("label", "")
        if event["event"] != "ActionEnded" or not (
            label == f"Task {name}" or label.startswith(f"Task {name} (")
        ):
            continue
        actions += 1
        if chunk is None:
            tasks += 1
            continue
        found = re.search(rf"[(,] ?{re.escape(chunk)}=([-0-9:,]+?)(?:, |\)$)", label)
        assert found, f"no {chunk} value in {label!r}"
        tasks += len(rs.RangeExpr.from_str(found.group(1)))
    return actions, tasks


def test_adaptive_chunks_cover_the_tasks_the_summary_counts(tmp_path: Path) -> None:
    template = adaptive_job(tmp_path, "1-40,50-59,70", 3)
    document = yaml.safe_load(template.read_text())
    space = document["steps"][0]["parameterSpace"]
    space["taskParameterDefinitions"].append({"name": "X", "type": "STRING", "range": ["a", "b"]})
    space["taskParameterDefinitions"][0]["chunks"]["targetRuntimeSeconds"] = 1
    write(template, document)
    [step] = summary_json(str(template))["steps"]
    run = wraprun("run", str(template), "--output", "jsonl")
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    actions, tasks = task_runs(step, events)
    assert tasks == step["total_tasks"] == 102 and 2 <= actions < tasks
    first = next(e["label"] for e in events if e["event"] == "ActionStarted")
    assert first == "Task Render (F=1-3, X=a)"  # the starting size: defaultTaskCount


# -- counts, against the values themselves (not against openjd-model's own count) -----------------

VALUES = st.lists(st.integers(-50, 50), min_size=1, max_size=12, unique=True)


def range_text(values: list[int]) -> str:
    """The values as a range expression (openjd-model sorts them)."""
    return ",".join(str(v) for v in values)


def runs(values: list[int]) -> list[int]:
    """Lengths of the runs of consecutive integers in the sorted values."""
    ordered = sorted(values)
    return [len(list(g)) for _, g in groupby(enumerate(ordered), key=lambda pair: pair[1] - pair[0])]


@st.composite
def spaces(draw: st.DrawFn) -> tuple[dict[str, Any], int, int | None]:
    """A parameter space, its number of tasks and (with a CHUNK[INT] of fixed chunks) of chunks."""
    count = draw(st.integers(1, 3))
    names = [f"P{i}" for i in range(count)]
    association = count > 1 and draw(st.booleans())
    size = draw(st.integers(1, 8)) if association else None
    lists = [
        draw(
            VALUES
            if size is None
            else st.lists(st.integers(-50, 50), min_size=size, max_size=size, unique=True)
        )
        for _ in names
    ]
    chunked = not association and draw(st.booleans())
    definitions: list[dict[str, Any]] = []
    for index, (name, values) in enumerate(zip(names, lists, strict=True)):
        if chunked and index == 0:
            k = draw(st.integers(1, 5))
            contiguous = draw(st.booleans())
            constraint = "CONTIGUOUS" if contiguous else "NONCONTIGUOUS"
            chunks = {"defaultTaskCount": k, "rangeConstraint": constraint}
            definitions.append(
                {"name": name, "type": "CHUNK[INT]", "range": range_text(values), "chunks": chunks}
            )
            per_rest = math.prod(len(v) for v in lists[1:])
            per_combination = (
                sum(math.ceil(run / k) for run in runs(values)) if contiguous else math.ceil(len(values) / k)
            )
            chunk_count: int | None = per_combination * per_rest
        else:
            kind = draw(st.sampled_from(["INT", "STRING"]))
            if kind == "INT":
                definitions.append({"name": name, "type": "INT", "range": range_text(values)})
            else:
                definitions.append({"name": name, "type": "STRING", "range": [f"v{v}" for v in values]})
    if not chunked:
        chunk_count = None
    space: dict[str, Any] = {"taskParameterDefinitions": definitions}
    if association:
        space["combination"] = "(" + ", ".join(names) + ")"
        tasks = size or 0
    else:
        if count > 1 and draw(st.booleans()):
            space["combination"] = " * ".join(reversed(names))
        tasks = math.prod(len(v) for v in lists)
    return space, tasks, chunk_count


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spaces())
def test_counts_match_the_values_of_every_space(
    tmp_path: Path, case: tuple[dict[str, Any], int, int | None]
) -> None:
    space, tasks, chunks = case
    template = write(
        tmp_path / "space.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "extensions": ["TASK_CHUNKING"],
            "name": "Space",
            "steps": [
                {"name": "S", "parameterSpace": space, "script": {"actions": {"onRun": {"command": "true"}}}}
            ],
        },
    )
    # The planning the CLI does (its own tests cover the parsing around it), in-process for speed.
    [step] = summarize(job.plan_request(job.Request(template=template)))["steps"]
    assert step["total_tasks"] == tasks
    assert step["total_chunks"] == chunks
