"""adapt: what a worker written for openjd-sessions hands over, as the compiled objects wraprun runs.

The rules are checked against openjd-model's own compiled layer (the values it makes of
the same parameter text, the rules openjd-sessions applies) and, for scripts and
environments, by running the converted objects through a real :class:`Session`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import openjd.model as jd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openjd.sessions import PathFormat, PathMappingRule

from wraprun import adapt, events, job, symbols, wrap
from wraprun.actions import Scope
from wraprun.model import rs
from wraprun.paths import PathMapping
from wraprun.session import Session
from wraprun.templates import SUPPORTED_EXTENSIONS, load

from .helpers import write

EXTENSIONS = list(SUPPORTED_EXTENSIONS)
PV = jd.ParameterValue
PVT = jd.ParameterValueType
RULE = {"source_path_format": "POSIX", "source_path": "/src", "destination_path": "/dst"}
"""The mapping the parameter tests run under: some generated paths fall under it."""
FAST = settings(max_examples=40, deadline=None)


# --- the reference: openjd-model's compiled layer, given the same text --------------------------


def one_step_job(**document: Any) -> dict[str, Any]:
    """A job template (as a dict) with EXPR and one trivial step, unless ``document`` says otherwise."""
    step = {"name": "S", "script": {"actions": {"onRun": {"command": "true"}}}}
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "Reference",
        "extensions": ["EXPR"],
        "steps": [step],
        **document,
    }


def reference_job(kind: str, value: Any) -> tuple[rs.Job, dict[str, Any]]:
    """The job openjd-model creates with one job parameter P of ``kind`` set to ``value``,
    and the values its ``preprocess_job_parameters`` made (compiled ``JobParameterValue``s)."""
    model = rs.decode_job_template(
        one_step_job(parameterDefinitions=[{"name": "P", "type": kind}]), supported_extensions=EXTENSIONS
    )
    given_value = "[]" if value == [] else value  # it cannot type an empty Python list
    values = rs.preprocess_job_parameters(
        job_template=model,
        job_parameter_values={"P": given_value},
        job_template_dir="/",
        current_working_dir="/",
    )
    return rs.create_job(job_template=model, job_parameter_values=values), values


def described(value: rs.ExprValue) -> tuple[str, str, Any]:
    """Everything an expression can see of a value: its type, its text and its native value."""
    return (str(value.type), str(value), value.item())


def described_symbols(table: dict[str, rs.ExprValue]) -> dict[str, tuple[str, str, Any]]:
    return {name: described(value) for name, value in table.items()}


def reference_symbols(created: rs.Job) -> dict[str, tuple[str, str, Any]]:
    """Param.* and RawParam.* as wraprun's own job path makes them (Job.Name left out)."""
    table = job.job_symbols(created, PathMapping(adapt.path_mapping_rules([RULE])))
    del table["Job.Name"]
    return described_symbols(table)


def adapted_symbols(values: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    parameters = adapt.job_parameters(values)
    return described_symbols(symbols.parameters(parameters, PathMapping(adapt.path_mapping_rules([RULE]))))


# --- strategies ---------------------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
SEGMENT = st.text(st.sampled_from("abz09_-. é"), min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
PATHS = st.builds(
    lambda top, rest: "/" + "/".join([top, *rest]),
    st.sampled_from(["src", "srcx", "other", "dst"]),
    st.lists(SEGMENT, max_size=3),
)
INTS = st.integers(-(2**63), 2**63 - 1)
FLOAT_TEXT = st.from_regex(r"-?(0|[1-9][0-9]{0,5})(\.[0-9]{1,6})?([eE][+-]?[1-9][0-9]?)?", fullmatch=True)
FLOATS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
BOOL_WORDS = ("true", "false", "yes", "no", "on", "off", "1", "0")
BOOL_TEXT = st.sampled_from(BOOL_WORDS).flatmap(
    lambda word: st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in word)).map("".join)
)

SCALARS = st.one_of(
    INTS.map(lambda i: ("INT", str(i))),
    FLOAT_TEXT.map(lambda t: ("FLOAT", t)),
    TEXT.map(lambda t: ("STRING", t)),
    PATHS.map(lambda p: ("PATH", p)),
    BOOL_TEXT.map(lambda t: ("BOOL", t)),
    st.booleans().map(lambda b: ("BOOL", b)),
)
"""(type, value) as openjd-model's ParameterValue holds it: text for the scalar types, and a
bool or the text of one for BOOL."""
LISTS = st.one_of(
    st.lists(TEXT, max_size=4).map(lambda v: ("LIST[STRING]", v)),
    st.lists(INTS, max_size=4).map(lambda v: ("LIST[INT]", v)),
    st.lists(PATHS, max_size=4).map(lambda v: ("LIST[PATH]", v)),
    st.lists(FLOATS, max_size=4).map(lambda v: ("LIST[FLOAT]", v)),
    st.lists(st.booleans(), max_size=4).map(lambda v: ("LIST[BOOL]", v)),
)
"""LIST values, which openjd-model's ParameterValue carries as native lists (RFC 0007)."""


def test_the_openjd_model_parameter_types_covered_here_exist() -> None:
    names = {t.value for t in PVT}
    assert {"STRING", "INT", "FLOAT", "PATH", "BOOL", "RANGE_EXPR"} <= names
    assert {"LIST[STRING]", "LIST[INT]", "LIST[PATH]", "LIST[FLOAT]", "LIST[BOOL]"} <= names


# --- job parameter values -----------------------------------------------------------------------


@FAST
@given(st.one_of(SCALARS, LISTS))
def test_a_parameter_value_means_what_it_means_to_openjd_model(case: tuple[str, Any]) -> None:
    """Param.* and RawParam.* from an openjd-model ParameterValue are exactly those of the job
    openjd-model creates from the same value: type, text (FLOAT keeps '1.50'), native value,
    and PATH and LIST[PATH] values mapped (raw ones not)."""
    kind, value = case
    created, _ = reference_job(kind, value)
    given_value = {"P": PV(type=PVT(kind), value=value)}
    assert adapt.job_parameters(given_value)["P"][0] == kind
    assert adapted_symbols(given_value) == reference_symbols(created)


@pytest.mark.parametrize("text", ["1.50", "0.000", "1E5", "-12.5e+3", ".5", "5."])
def test_a_float_keeps_its_text(text: str) -> None:
    ((kind, value),) = adapt.job_parameters({"F": PV(type=PVT.FLOAT, value=text)}).values()
    assert (kind, str(value.type), str(value), value.item()) == ("FLOAT", "float", text, float(text))


@FAST
@given(SCALARS)
def test_compiled_parameter_values_read_like_openjd_models(case: tuple[str, Any]) -> None:
    """The compiled JobParameterValues of openjd-model's preprocess_job_parameters."""
    kind, value = case
    created, compiled = reference_job(kind, value)
    assert isinstance(compiled["P"], rs.JobParameterValue)
    assert adapt.job_parameters(compiled)["P"][0] == kind
    assert adapted_symbols(compiled) == reference_symbols(created)


@pytest.mark.parametrize(
    "kind, value",
    [("LIST[STRING]", ["a", "b"]), ("LIST[INT]", [1, 2]), ("LIST[PATH]", ["/src/x", "/y"])],
)
def test_compiled_list_parameter_values_read_like_openjd_models(kind: str, value: list[Any]) -> None:
    created, compiled = reference_job(kind, value)
    assert adapted_symbols(compiled) == reference_symbols(created)


@FAST
@given(st.one_of(SCALARS, LISTS))
def test_compiled_job_parameters_pass_through(case: tuple[str, Any]) -> None:
    """A created job's own parameters (typed ExprValues) are taken as they are, not re-read
    from their text (which would break every LIST)."""
    created, _ = reference_job(*case)
    parameter = created.parameters["P"]
    ((kind, value),) = adapt.job_parameters({"P": parameter}).values()
    assert kind == case[0]
    assert described(value) == described(parameter.value)


@FAST
@given(TEXT | INTS.map(str) | FLOAT_TEXT | BOOL_TEXT)
def test_a_plain_string_is_a_string_whatever_it_looks_like(text: str) -> None:
    ((kind, value),) = adapt.job_parameters({"P": text}).values()
    assert (kind, str(value.type), str(value)) == ("STRING", "string", text)


def test_no_parameters() -> None:
    assert adapt.job_parameters(None) == {} and adapt.job_parameters({}) == {}


def test_a_range_expr_parameter_is_a_range() -> None:
    created, _ = reference_job("RANGE_EXPR", "1-10")
    assert adapted_symbols({"P": PV(type=PVT.RANGE_EXPR, value="1-10")}) == reference_symbols(created)
    table = rs.SymbolTable(
        symbols.parameters(adapt.job_parameters({"R": PV(type=PVT.RANGE_EXPR, value="1-10")}), PathMapping())
    )
    assert rs.FormatString("{{len(Param.R)}}").resolve_string(table, profile=adapt.profile([])) == "10"


# --- task parameter values ----------------------------------------------------------------------

TASK_TEXT = TEXT.filter(lambda t: "{" not in t and "}" not in t)
TASK_CASES = st.one_of(
    INTS.map(lambda i: ("INT", str(i), i)),
    st.builds(lambda i, zeros: ("INT", "0" * zeros + str(i), i), st.integers(0, 10**6), st.integers(1, 3)),
    TASK_TEXT.map(lambda t: ("STRING", t, t)),
    PATHS.map(lambda p: ("PATH", p, p)),
)
"""(type, text a worker gives, the same value in a template's range)."""


def reference_task(kind: str, value: Any) -> dict[str, rs.TaskParameterValue]:
    """The one task openjd-model's parameter space makes of a range holding ``value``."""
    definition = {"name": "X", "type": kind, "range": [value]}
    step = {
        "name": "S",
        "parameterSpace": {"taskParameterDefinitions": [definition]},
        "script": {"actions": {"onRun": {"command": "true"}}},
    }
    model = rs.decode_job_template(one_step_job(steps=[step]), supported_extensions=EXTENSIONS)
    created = rs.create_job(job_template=model, job_parameter_values={})
    (task,) = rs.StepParameterSpaceIterator(step=created.steps[0])
    return dict(task)


@FAST
@given(TASK_CASES)
def test_a_task_parameter_value_keeps_its_type_and_text(case: tuple[str, str, Any]) -> None:
    kind, text, _ = case
    converted = adapt.task_parameters({"X": PV(type=PVT(kind), value=text)})["X"]
    assert converted.type == getattr(rs.TaskParameterType, kind)
    assert converted.value == text


@FAST
@given(TASK_CASES)
def test_a_task_parameter_value_means_what_it_means_to_openjd_model(case: tuple[str, str, Any]) -> None:
    """Task.Param.* and Task.RawParam.* equal those of the task openjd-model's parameter space
    makes of the same value (PATH mapped, INT an int: '007' is 7)."""
    kind, text, in_range = case
    mapping = PathMapping(adapt.path_mapping_rules([RULE]))
    ours = symbols.task(adapt.task_parameters({"X": PV(type=PVT(kind), value=text)}), mapping)
    theirs = symbols.task(reference_task(kind, in_range), mapping)
    assert described_symbols(ours) == described_symbols(theirs)


@pytest.mark.parametrize("text", ["1-3", "1-10:2,20", "7"])
def test_a_chunk_is_its_range_text(text: str) -> None:
    converted = adapt.task_parameters({"C": PV(type=PVT.CHUNK_INT, value=text)})["C"]
    assert (converted.type, converted.value) == (rs.TaskParameterType.CHUNK_INT, text)
    table = symbols.task({"C": converted}, PathMapping())
    assert described(table["Task.Param.C"]) == ("string", text, text)


def test_compiled_task_parameter_values_pass_through() -> None:
    values = {
        "I": rs.TaskParameterValue(type=rs.TaskParameterType.INT, value=3),
        "F": rs.TaskParameterValue(type=rs.TaskParameterType.FLOAT, value="1.50"),
    }
    converted = adapt.task_parameters(values)
    assert converted["I"] is values["I"] and converted["F"] is values["F"]
    assert adapt.task_parameters(None) == {}


def test_a_float_task_parameter_keeps_its_text() -> None:
    converted = adapt.task_parameters({"F": PV(type=PVT.FLOAT, value="1.50")})
    table = symbols.task(converted, PathMapping())
    assert described(table["Task.Param.F"]) == ("float", "1.50", 1.5)
    reference = symbols.task(reference_task("FLOAT", "1.50"), PathMapping())
    assert [described(table[f"Task.{kind}.F"]) for kind in ("Param", "RawParam")] == [
        described(reference[f"Task.{kind}.X"]) for kind in ("Param", "RawParam")
    ]


# --- path mapping rules -------------------------------------------------------------------------


def sessions_rule(kind: str, source: str, destination: str) -> PathMappingRule:
    pure = PureWindowsPath if kind == "WINDOWS" else PurePosixPath
    return PathMappingRule(
        source_path_format=PathFormat[kind],
        source_path=pure(source),
        destination_path=PurePosixPath(destination),
    )


WINDOWS_PATHS = st.builds(
    lambda drive, parts, sep: drive + sep + sep.join(parts),
    st.sampled_from(["C:", "c:", "D:"]),
    st.lists(st.sampled_from(["proj", "Proj", "a", "b c", "x.txt"]), max_size=3),
    st.sampled_from(["\\", "/"]),
)


@FAST
@given(st.sampled_from(["/src", "/src/", "/"]), PATHS | SEGMENT)
def test_a_posix_rule_maps_as_openjd_sessions_maps(source: str, path: str) -> None:
    theirs = sessions_rule("POSIX", source, "/mnt/dst")
    (ours,) = adapt.path_mapping_rules([theirs])
    changed, mapped = ours.apply(path=path)
    their_changed, their_mapped = theirs.apply(path=path)
    assert (changed, str(mapped)) == (their_changed, str(their_mapped))


@FAST
@given(st.sampled_from(["C:\\proj", "c:\\Proj\\", "C:\\"]), WINDOWS_PATHS)
def test_a_windows_rule_maps_as_openjd_sessions_maps(source: str, path: str) -> None:
    theirs = sessions_rule("WINDOWS", source, "/mnt/proj")
    (ours,) = adapt.path_mapping_rules([theirs])
    changed, mapped = ours.apply(path=path)
    their_changed, their_mapped = theirs.apply(path=path)
    assert (changed, str(mapped)) == (their_changed, str(their_mapped))


def test_rules_from_openjd_sessions_from_dicts_and_compiled() -> None:
    compiled = rs.PathMappingRule(
        source_path_format=rs.PathFormat.WINDOWS, source_path="C:\\proj", destination_path="/mnt/proj"
    )
    as_dict = {"source_path_format": "POSIX", "source_path": "/a", "destination_path": "/b"}
    converted = adapt.path_mapping_rules(
        [sessions_rule("WINDOWS", "C:\\proj", "/mnt/proj"), as_dict, list(as_dict.items()), compiled]
    )
    expected_posix = rs.PathMappingRule(
        source_path_format=rs.PathFormat.POSIX, source_path="/a", destination_path="/b"
    )
    assert converted == [compiled, expected_posix, expected_posix, compiled]
    assert converted[3] is compiled  # passed through, not rebuilt
    assert all(isinstance(rule, rs.PathMappingRule) for rule in converted)
    assert adapt.path_mapping_rules(None) == [] and adapt.path_mapping_rules(()) == []


# --- environments -------------------------------------------------------------------------------

PARAMETER_DEFINITIONS = [
    {"name": "S", "type": "STRING"},
    {"name": "I", "type": "INT"},
    {"name": "F", "type": "FLOAT"},
    {"name": "P", "type": "PATH"},
    {"name": "B", "type": "BOOL"},
    {"name": "LS", "type": "LIST[STRING]"},
    {"name": "LI", "type": "LIST[INT]"},
    {"name": "LP", "type": "LIST[PATH]"},
]
PARAMETER_VALUES = {
    "S": PV(type=PVT.STRING, value="two words"),
    "I": PV(type=PVT.INT, value="42"),
    "F": PV(type=PVT.FLOAT, value="1.50"),
    "P": PV(type=PVT.PATH, value="/src/data"),
    "B": PV(type=PVT.BOOL, value=True),
    "LS": PV(type=PVT.LIST_STRING, value=["a", "b"]),
    "LI": PV(type=PVT.LIST_INT, value=[1, 2]),
    "LP": PV(type=PVT.LIST_PATH, value=["/src/x", "/other"]),
}


def decoded(document: dict[str, Any], extensions: list[str]) -> Any:
    """openjd-model's pydantic job template, as a worker built on openjd-sessions has it."""
    document = {**document, "extensions": extensions}
    if not extensions:
        del document["extensions"]
    return jd.decode_job_template(template=document, supported_extensions=extensions)


def run_session(
    work: Callable[[Session, Scope], list[Any]],
    rules: list[Any] | None = None,
    parameters: dict[str, Any] | None = None,
) -> tuple[list[Any], str]:
    """Call ``work(session, scope)`` in a Session whose job has ``parameters``: what it
    returned, and what the actions printed. Actions see only PATH (and the C locale)."""
    seen: list[events.Event] = []
    compiled_rules = adapt.path_mapping_rules(rules)
    host = {"PATH": os.environ["PATH"], "LC_ALL": "C"}
    with Session(callback=seen.append, path_mapping_rules=compiled_rules, os_env=host) as session:
        values = adapt.job_parameters(parameters)
        scope = Scope(symbols.parameters(values, session.map_path), adapt.profile(compiled_rules))
        results = work(session, scope)
    output = b"".join(e.data for e in seen if isinstance(e, events.ActionOutput)).decode()
    return results, output


def test_an_environments_variables_see_job_parameters_of_every_type() -> None:
    variables = {
        "V_S": "{{Param.S}}",
        "V_I": "{{Param.I}}",
        "V_I1": "{{Param.I + 1}}",
        "V_F": "{{Param.F}}",
        "V_P": "{{Param.P}}",
        "V_RAWP": "{{RawParam.P}}",
        "V_B": "{{Param.B}}",
        "V_NOTB": "{{not Param.B}}",
        "V_LS": "{{join(Param.LS, ',')}}",
        "V_LI": "{{Param.LI[1] * 10}}",
        "V_LEN": "{{len(Param.LI)}}",
        "V_LP": "{{join(Param.LP, ',')}}",
        "V_RAWLP": "{{RawParam.LP[0]}}",
    }
    template = decoded(
        one_step_job(
            parameterDefinitions=PARAMETER_DEFINITIONS,
            jobEnvironments=[
                {
                    "name": "E",
                    "description": "every type",
                    "variables": variables,
                    "script": {
                        "actions": {"onEnter": {"command": "sh", "args": ["-c", "env | grep ^V_ | sort"]}}
                    },
                }
            ],
        ),
        ["EXPR"],
    )
    pydantic_env = template.jobEnvironments[0]
    env = adapt.environment(pydantic_env, adapt.job_parameters(PARAMETER_VALUES))
    assert isinstance(env, rs.TemplateEnvironment)
    assert (env.name, env.description) == ("E", "every type")
    assert {name: value.raw() for name, value in (env.variables or {}).items()} == variables

    results, output = run_session(
        lambda session, scope: [session.enter_environment(env, scope)], [RULE], PARAMETER_VALUES
    )
    assert [r.state for r in results] == ["SUCCEEDED"]
    assert output.splitlines() == [
        "V_B=true",
        "V_F=1.50",
        "V_I1=43",
        "V_I=42",
        "V_LEN=2",
        "V_LI=20",
        "V_LP=/dst/x,/other",
        "V_LS=a,b",
        "V_NOTB=false",
        "V_P=/dst/data",
        "V_RAWLP=/src/x",
        "V_RAWP=/src/data",
        "V_S=two words",
    ]


def test_an_environment_without_job_parameters() -> None:
    template = decoded(one_step_job(jobEnvironments=[{"name": "Plain", "variables": {"A": "1"}}]), [])
    env = adapt.environment(template.jobEnvironments[0], {})
    assert env.name == "Plain" and env.script is None
    assert {k: v.raw() for k, v in (env.variables or {}).items()} == {"A": "1"}


def wrap_hook(kind: str) -> dict[str, Any]:
    return {
        "command": "sh",
        "args": [
            "-c",
            'echo "hook ' + kind + ' WV=$WV cfg=$(cat "$0")"; exec "$@"',
            "{{Env.File.Cfg}}",
            "{{WrappedAction.Command}}",
            "{{WrappedAction.Args}}",
        ],
    }


def test_an_environment_with_wrap_hooks_wraps_what_runs_inside_it() -> None:
    document = one_step_job(
        parameterDefinitions=[{"name": "N", "type": "INT"}],
        jobEnvironments=[
            {
                "name": "W",
                "variables": {"WV": "{{Param.N}}"},
                "script": {
                    "let": ["twice = Param.N * 2"],
                    "embeddedFiles": [{"name": "Cfg", "type": "TEXT", "data": "n={{twice}}"}],
                    "actions": {h: wrap_hook(h) for h in wrap.HOOKS},
                },
            },
            {
                "name": "Inner",
                "script": {
                    "actions": {
                        "onEnter": {"command": "echo", "args": ["inner enter"]},
                        "onExit": {"command": "echo", "args": ["inner exit"]},
                    }
                },
            },
        ],
        steps=[
            {"name": "S", "script": {"actions": {"onRun": {"command": "echo", "args": ["task {{Param.N}}"]}}}}
        ],
    )
    template = decoded(document, ["EXPR", "WRAP_ACTIONS"])
    parameters = {"N": PV(type=PVT.INT, value="3")}
    values = adapt.job_parameters(parameters)
    wrapper, inner = (adapt.environment(e, values) for e in template.jobEnvironments)
    script = adapt.step_script(template.steps[0].script)
    assert wrap.defines_wrap_hooks(wrapper) and not wrap.defines_wrap_hooks(inner)
    assert wrapper.script is not None and wrapper.script.let == ["twice = Param.N * 2"]

    def work(session: Session, scope: Scope) -> list[Any]:
        return [
            session.enter_environment(wrapper, scope),
            session.enter_environment(inner, scope),
            session.run_task("S", script, scope),
            session.exit_environment(),
            session.exit_environment(),
        ]

    results, output = run_session(work, parameters=parameters)
    assert [r.state for r in results] == ["SUCCEEDED"] * 5
    assert output.splitlines() == [
        "hook onWrapEnvEnter WV=3 cfg=n=6",
        "inner enter",
        "hook onWrapTaskRun WV=3 cfg=n=6",
        "task 3",
        "hook onWrapEnvExit WV=3 cfg=n=6",
        "inner exit",
    ]


def test_compiled_environments_pass_through_unchanged(tmp_path: Path) -> None:
    document = one_step_job(jobEnvironments=[{"name": "E", "variables": {"A": "1"}}])
    template_side = load(write(tmp_path / "job.yaml", document), "job").job.job_environments[0]
    model = rs.decode_job_template(document, supported_extensions=EXTENSIONS)
    job_side = rs.create_job(job_template=model, job_parameter_values={}).job_environments[0]
    values = adapt.job_parameters(PARAMETER_VALUES)
    assert adapt.environment(template_side, values) is template_side
    assert adapt.environment(job_side, values) is job_side


# --- step scripts -------------------------------------------------------------------------------

RUN_SCRIPT = (
    "#!/bin/sh\n"
    'echo "run {{double}} {{label}} $*"\n'
    "python3 -c 'import sys; print(open(sys.argv[1], \"rb\").read())' '{{Task.File.Crlf}}'\n"
)
STEP = {
    "name": "S",
    "parameterSpace": {"taskParameterDefinitions": [{"name": "X", "type": "INT", "range": "1-2"}]},
    "script": {
        "let": ["double = Task.Param.X * 2", "label = 'x=' + string(Task.Param.X)"],
        "embeddedFiles": [
            {"name": "Run", "type": "TEXT", "runnable": True, "endOfLine": "LF", "data": RUN_SCRIPT},
            {"name": "Crlf", "type": "TEXT", "endOfLine": "CRLF", "data": "a\nb\n"},
        ],
        "actions": {
            "onRun": {
                "command": "{{Task.File.Run}}",
                "args": ["one", "{{Task.Param.X}}"],
                "timeout": 30,
                "cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 5},
            }
        },
    },
}
STEP_EXTENSIONS = ["EXPR", "FEATURE_BUNDLE_1"]


def pydantic_step(step: dict[str, Any]) -> Any:
    return decoded(one_step_job(steps=[step]), STEP_EXTENSIONS).steps[0].script


def test_a_step_script_keeps_every_field_of_its_template() -> None:
    script = adapt.step_script(pydantic_step(STEP))
    given = STEP["script"]
    on_run = script.actions.on_run
    given_run = given["actions"]["onRun"]
    assert on_run.command.raw() == given_run["command"]
    assert [a.raw() for a in on_run.args or ()] == given_run["args"]
    assert on_run.timeout is not None and on_run.timeout.raw() == "30"
    assert on_run.cancelation is not None
    assert on_run.cancelation.mode == "NOTIFY_THEN_TERMINATE"
    assert on_run.cancelation.notify_period_in_seconds is not None
    assert on_run.cancelation.notify_period_in_seconds.raw() == "5"
    files = [
        (f.name, f.type, f.data.raw() if f.data else None, f.runnable, f.end_of_line, f.filename)
        for f in script.embedded_files or ()
    ]
    assert files == [
        ("Run", "TEXT", RUN_SCRIPT, True, "LF", None),
        ("Crlf", "TEXT", "a\nb\n", None, "CRLF", None),
    ]
    assert script.let == given["let"]


def test_an_action_without_args_timeout_or_cancelation() -> None:
    step = {"name": "S", "script": {"actions": {"onRun": {"command": "echo"}}}}
    on_run = adapt.step_script(pydantic_step(step)).actions.on_run
    assert (on_run.command.raw(), on_run.args, on_run.timeout, on_run.cancelation) == (
        "echo",
        None,
        None,
        None,
    )
    terminate = {
        "name": "S",
        "script": {"actions": {"onRun": {"command": "echo", "cancelation": {"mode": "TERMINATE"}}}},
    }
    cancelation = adapt.step_script(pydantic_step(terminate)).actions.on_run.cancelation
    assert cancelation is not None
    assert (cancelation.mode, cancelation.notify_period_in_seconds) == ("TERMINATE", None)


def test_an_embedded_files_filename_is_kept_and_used() -> None:
    step = {
        "name": "S",
        "script": {
            "embeddedFiles": [{"name": "F", "type": "TEXT", "filename": "named.txt", "data": "hi"}],
            "actions": {
                "onRun": {"command": "sh", "args": ["-c", 'basename "$0"; cat "$0"', "{{Task.File.F}}"]}
            },
        },
    }
    script = adapt.step_script(pydantic_step(step))
    (embedded,) = script.embedded_files or ()
    assert str(embedded.filename) == "named.txt"
    results, output = run_session(lambda session, scope: [session.run_task("S", script, scope)])
    assert output.splitlines() == ["named.txt", "hi"]


def test_a_converted_step_script_runs_as_its_template_says() -> None:
    """lets, a runnable file (LF, so sh can run it), a CRLF file, args: per task."""
    script = adapt.step_script(pydantic_step(STEP))

    def work(session: Session, scope: Scope) -> list[Any]:
        return [
            session.run_task("S", script, scope, adapt.task_parameters({"X": PV(type=PVT.INT, value=str(x))}))
            for x in (1, 2)
        ]

    results, output = run_session(work)
    assert [r.state for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    assert output.splitlines() == [
        "run 2 x=1 one 1",
        "b'a\\r\\nb\\r\\n'",
        "run 4 x=2 one 2",
        "b'a\\r\\nb\\r\\n'",
    ]


def test_a_converted_cancelation_notifies_first() -> None:
    """NOTIFY_THEN_TERMINATE reaches the process: a cancel sends SIGTERM, which it traps."""
    body = "trap 'echo notified; exit 0' TERM; echo ready; sleep 30 & wait"
    step = {
        "name": "S",
        "script": {
            "actions": {
                "onRun": {
                    "command": "sh",
                    "args": ["-c", body],
                    "cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 20},
                }
            }
        },
    }
    script = adapt.step_script(pydantic_step(step))
    seen: list[events.Event] = []

    def on_event(event: events.Event) -> None:
        seen.append(event)
        if isinstance(event, events.ActionOutput) and b"ready" in event.data:
            session.cancel()  # same thread: the runner's wake-up pipe, as from a signal handler

    with Session(callback=on_event) as session:
        result = session.run_task("S", script, Scope({}, adapt.profile([])))
        cancel_info = json.loads(Path(session.working_directory, "cancel_info.json").read_text())
    assert result.state == "CANCELED"
    assert "NotifyEnd" in cancel_info
    output = b"".join(e.data for e in seen if isinstance(e, events.ActionOutput)).decode()
    assert output.splitlines() == ["ready", "notified"]


def test_task_parameters_reach_a_converted_script() -> None:
    space = [
        {"name": "I", "type": "INT", "range": [7]},
        {"name": "S", "type": "STRING", "range": ["a b"]},
        {"name": "P", "type": "PATH", "range": ["/src/in.exr"]},
        {
            "name": "C",
            "type": "CHUNK[INT]",
            "range": "1-3",
            "chunks": {"defaultTaskCount": 3, "rangeConstraint": "CONTIGUOUS"},
        },
    ]
    step = {
        "name": "S",
        "parameterSpace": {"taskParameterDefinitions": space},
        "script": {
            "actions": {
                "onRun": {
                    "command": "sh",
                    "args": [
                        "-c",
                        'printf "%s\\n" "$@"',
                        "sh",
                        "{{Task.Param.I}} {{Task.Param.I + 1}}",
                        "{{Task.Param.S}}",
                        "{{Task.Param.P}} {{Task.RawParam.P}}",
                        "{{Task.Param.C}}",
                    ],
                }
            }
        },
    }
    document = one_step_job(steps=[step])
    script = adapt.step_script(decoded(document, ["EXPR", "TASK_CHUNKING"]).steps[0].script)
    params = {
        "I": PV(type=PVT.INT, value="7"),
        "S": PV(type=PVT.STRING, value="a {{b}} c"),
        "P": PV(type=PVT.PATH, value="/src/in.exr"),
        "C": PV(type=PVT.CHUNK_INT, value="1-3"),
    }
    results, output = run_session(
        lambda session, scope: [session.run_task("S", script, scope, adapt.task_parameters(params))], [RULE]
    )
    assert [r.state for r in results] == ["SUCCEEDED"]
    assert output.splitlines() == ["7 8", "a {{b}} c", "/dst/in.exr /src/in.exr", "1-3"]


def test_compiled_step_scripts_pass_through_unchanged(tmp_path: Path) -> None:
    document = one_step_job()
    template_side = load(write(tmp_path / "job.yaml", document), "job").job.steps[0].script
    model = rs.decode_job_template(document, supported_extensions=EXTENSIONS)
    job_side = rs.create_job(job_template=model, job_parameter_values={}).steps[0].script
    assert adapt.step_script(template_side) is template_side
    assert adapt.step_script(job_side) is job_side
