"""``wraprun run JOB --help``: the run options' help, then the job's parameters and steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wraprun import jobhelp, shipped
from wraprun.templates import load

from .helpers import wraprun, write

JOB: dict[str, Any] = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "Render",
    "description": "Renders frames.",
    "parameterDefinitions": [
        {
            "name": "Quality",
            "type": "STRING",
            "default": "high",
            "allowedValues": ["low", "high"],
            "description": "How good it looks.",
        },
        {"name": "Frames", "type": "INT", "minValue": 1, "maxValue": 100, "default": 10},
        {"name": "Scene", "type": "PATH", "objectType": "FILE", "dataFlow": "IN"},
        {"name": "Label", "type": "STRING", "minLength": 2, "maxLength": 12, "default": "two words"},
    ],
    "steps": [
        {"name": "Setup", "script": {"actions": {"onRun": {"command": "true"}}}},
        {
            "name": "Frame",
            "dependencies": [{"dependsOn": "Setup"}],
            "parameterSpace": {
                "taskParameterDefinitions": [
                    {"name": "F", "type": "INT", "range": "1-{{Param.Frames}}"},
                    {"name": "Camera", "type": "STRING", "range": ["left", "right"]},
                ],
                "combination": "F * Camera",
            },
            "script": {"actions": {"onRun": {"command": "true"}}},
        },
    ],
}

ENV: dict[str, Any] = {
    "specificationVersion": "environment-2023-09",
    "parameterDefinitions": [
        {"name": "CondaPackages", "type": "STRING", "default": "numpy", "description": "What to install."}
    ],
    "environment": {"name": "Conda", "script": {"actions": {"onEnter": {"command": "true"}}}},
}


def job_section(stdout: str) -> str:
    return stdout[stdout.index("\nJob 'Render'") :]


@pytest.mark.parametrize("command", ["run", "session", "submit"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_job_help_lists_parameters_and_steps_after_the_options(
    tmp_path: Path, command: str, flag: str
) -> None:
    job = write(tmp_path / "job.yaml", JOB)
    result = wraprun(command, str(job), flag)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: wraprun {command} ")
    assert "--timestamp-format" in result.stdout  # the usual options come first
    section = job_section(result.stdout)
    expected = [
        f"Job 'Render' ({job})",
        "  Renders frames.",
        "Job parameters (-p NAME=VALUE):",
        "  Quality (STRING) [default: 'high'] (allowed: 'low', 'high')",
        "      How good it looks.",
        "  Frames (INT) [default: 10] (range: 1 to 100)",
        "  Scene (PATH) [required] (object type: FILE; data flow: IN)",
        "  Label (STRING) [default: 'two words'] (length: 2 to 12 character(s))",
        "Steps (--step NAME):",
        "  Setup",
        "      one task (no task parameters)",
        "  Frame (depends on: Setup)",
        "      task parameters (-tp NAME=VALUE):",
        "        F (INT): 1-{{Param.Frames}}",
        "        Camera (STRING): 'left', 'right'",
        "      combination: F * Camera",
    ]
    assert [line for line in section.splitlines() if line] == expected


def test_values_given_with_the_help_are_not_checked(tmp_path: Path) -> None:
    job = write(tmp_path / "job.yaml", JOB)
    result = wraprun("run", str(job), "-p", "Frames=not a number", "--step", "Nope", "--help")
    assert result.returncode == 0, result.stderr
    assert "Frames (INT) [default: 10]" in result.stdout


def test_each_environment_given_before_the_help_lists_its_parameters(tmp_path: Path) -> None:
    job = write(tmp_path / "job.yaml", JOB)
    env = write(tmp_path / "env.yaml", ENV)
    name = shipped.names()[0]
    ready = load(name, "environment")
    result = wraprun("run", str(job), "--env", str(env), "--environment", name, "--help")
    assert result.returncode == 0, result.stderr
    section = job_section(result.stdout)
    conda = section.index(f"Environment 'Conda' ({env})")
    assert section.index("Steps (--step NAME):") < conda
    assert "  CondaPackages (STRING) [default: 'numpy']\n      What to install.\n" in section[conda:]
    named = section.index(f"Environment '{ready.environment.environment.name}' ({ready.path})")
    assert conda < named
    for definition in ready.environment.parameter_definitions or ():
        assert f"\n  {definition.name} ({definition.type}) " in section[named:]


def test_an_environment_without_parameters_says_so(tmp_path: Path) -> None:
    job = write(tmp_path / "job.yaml", JOB)
    env = write(tmp_path / "env.yaml", {k: v for k, v in ENV.items() if k != "parameterDefinitions"})
    result = wraprun("run", str(job), "--env", str(env), "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"Environment 'Conda' ({env})\n\nEnvironment parameters: none\n")


def test_without_a_template_the_help_is_the_usual_one(tmp_path: Path) -> None:
    result = wraprun("run", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: wraprun run ")
    assert "Job parameters" not in result.stdout and "--no-run-dependencies" in result.stdout
    job = write(tmp_path / "job.yaml", JOB)
    with_job = wraprun("run", str(job), "--help")
    assert with_job.stdout.startswith(result.stdout)


BROKEN: dict[str, str] = {
    "yaml": "name: [\n",
    "schema": json.dumps({**JOB, "steps": [{"name": "S"}], "unknown": 1}),
    "environment": json.dumps(ENV),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_bad_job_template_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(BROKEN[case], encoding="utf-8")
    result = wraprun("run", str(job), "--help")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and str(job) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("env", ["missing.yaml", "job.yaml", "no-such-ready-template"])
def test_a_bad_environment_template_is_one_line_and_exit_2(tmp_path: Path, env: str) -> None:
    job = write(tmp_path / "job.yaml", JOB)
    result = wraprun("run", str(job), "--env", env, "--help", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and env in result.stderr


def test_a_missing_job_template_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = wraprun("run", str(tmp_path / "nope.yaml"), "-h")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "nope.yaml" in result.stderr


def test_several_problems_are_counted_on_the_one_line(tmp_path: Path) -> None:
    bad = {**JOB, "parameterDefinitions": [{"name": "A", "type": "BOOL"}, {"name": "B", "type": "BOOL"}]}
    job = write(tmp_path / "job.yaml", bad)
    result = wraprun("run", str(job), "--help")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{job}: ") and f"more: wraprun check {job})" in line


# -- the parameter lines, over generated definitions (in-process: no CLI start per example) --------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
"""A value: any character (one that does not print is shown escaped)."""
PROSE = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")) | st.just("\n"),
    min_size=1,
    max_size=30,
)
"""A description: printable text over lines (openjd-model refuses other control characters)."""


@st.composite
def int_parameters(draw: st.DrawFn) -> dict[str, Any]:
    low = draw(st.none() | st.integers(-50, 50))
    high = draw(st.none() | st.integers(low if low is not None else -50, 60))
    inside = st.integers(low if low is not None else -100, high if high is not None else 100)
    definition: dict[str, Any] = {"name": "P", "type": "INT"}
    allowed = draw(st.none() | st.lists(inside, min_size=1, max_size=4, unique=True))
    if allowed is not None:
        definition["allowedValues"] = allowed
    elif low is not None:
        definition["minValue"] = low
    if allowed is None and high is not None:
        definition["maxValue"] = high
    default = draw(st.none() | (st.sampled_from(allowed) if allowed else inside))
    if default is not None:
        definition["default"] = default
    return definition


@st.composite
def string_parameters(draw: st.DrawFn) -> dict[str, Any]:
    definition: dict[str, Any] = {"name": "P", "type": "STRING"}
    allowed = draw(
        st.none() | st.lists(TEXT.filter(lambda t: "{{" not in t), min_size=1, max_size=3, unique=True)
    )
    if allowed is not None:
        definition["allowedValues"] = allowed
        default = draw(st.none() | st.sampled_from(allowed))
    else:
        definition["minLength"] = 1
        default = draw(st.none() | TEXT.filter(lambda t: "{{" not in t))
    if default is not None:
        definition["default"] = default
    description = draw(st.none() | PROSE.filter(lambda t: t.strip() != ""))
    if description is not None:
        definition["description"] = description
    return definition


def shown(value: Any) -> str:
    """What a template author wrote, as the help quotes it."""
    if isinstance(value, str):
        return (
            f"'{value}'"
            if value.isprintable() and "'" not in value
            else json.dumps(value, ensure_ascii=False)
        )
    return str(value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(definition=st.one_of(int_parameters(), string_parameters()))
def test_a_parameter_line_states_its_type_default_and_every_constraint(
    tmp_path: Path, definition: dict[str, Any]
) -> None:
    job = write(
        tmp_path / "job.yaml", {**JOB, "parameterDefinitions": [definition], "steps": JOB["steps"][:1]}
    )
    template = load(job, "job")
    (line,) = [jobhelp.parameter_line(d) for d in template.job.parameter_definitions or ()]
    assert line.startswith(f"P ({definition['type']}) ")
    default = definition.get("default")
    assert ("[required]" in line) == (default is None)
    if default is not None:
        assert f"[default: {shown(default)}]" in line
    if "allowedValues" in definition:
        assert f"allowed: {', '.join(shown(v) for v in definition['allowedValues'])}" in line
    for key in ("minValue", "maxValue", "minLength"):
        if key in definition:
            assert str(definition[key]) in line.split("]", 1)[1]
    assert "\n" not in line
    code, text = jobhelp.job_help("usage: x\n", str(job), [], None)
    assert code == 0
    for described in (definition.get("description") or "").strip("\n").splitlines():
        assert f"      {described}".rstrip() in text.splitlines()
