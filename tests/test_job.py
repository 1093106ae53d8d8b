"""job: parameter values, task selections, path mapping rules and --maximum-tasks.

Each wrong input is one stderr line naming the file or the value's place, exit 2,
before any session directory exists; the Python API raises InputError for the same.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wraprun import inputs, job
from wraprun.templates import Template, load

from .helpers import wraprun, write
from .test_documents import HANG, private_tmpdir, rejected, session_dirs

SCALARS = ["STRING", "PATH", "INT", "FLOAT", "BOOL"]
TYPES = SCALARS + ["LIST[STRING]", "LIST[PATH]", "LIST[INT]", "LIST[LIST[INT]]"]
NAMES = {kind: kind.replace("[", "_").replace("]", "").title().replace("_", "") for kind in TYPES}
DEFAULTS = {"STRING": "s", "PATH": "p", "INT": 1, "FLOAT": 1.5, "BOOL": True}


def default(kind: str) -> Any:
    if kind == "LIST[LIST[INT]]":
        return [[1]]
    return [DEFAULTS[kind[5:-1]]] if kind.startswith("LIST[") else DEFAULTS[kind]


JOB = {
    "specificationVersion": "jobtemplate-2023-09",
    "extensions": ["EXPR"],
    "name": "Shapes",
    "parameterDefinitions": [{"name": NAMES[k], "type": k, "default": default(k)} for k in TYPES],
    "steps": [
        {
            "name": "S",
            "parameterSpace": {"taskParameterDefinitions": [{"name": "T", "type": "INT", "range": "1-3"}]},
            "script": {
                "actions": {
                    "onRun": {
                        "command": "echo",
                        "args": ["T={{Task.Param.T}} String={{Param.String}} Path={{Param.Path}}"],
                    }
                }
            },
        }
    ],
}


@pytest.fixture
def sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return private_tmpdir(tmp_path, monkeypatch)


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    return write(tmp_path / "job.yaml", JOB)


def run(root: Path, job_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    before = session_dirs(root)
    result = wraprun("run", str(job_file), *args, timeout=HANG)
    assert session_dirs(root) == before
    return result


def ran(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("T=")]


# 21: parameter values shaped as their types ----------------------------------------------


MAPPINGS = [
    {"a": 1},
    {},
    {"value": {"a": 1}},
    {"value": ["x"]},
    {"type": "INT", "value": "y"},  # openjd's form, naming another type
    {"value": "y", "x": 1},
]


@pytest.mark.parametrize("value", MAPPINGS, ids=json.dumps)
def test_a_mapping_is_not_a_value(job_file: Path, sessions: Path, value: Any) -> None:
    result = run(sessions, job_file, "-p", json.dumps({"String": value}))
    line = rejected(result, job_file, sessions)
    assert "'String' is STRING" in line


def test_a_mapping_in_a_parameter_file(tmp_path: Path, job_file: Path, sessions: Path) -> None:
    p = write(tmp_path / "p.yaml", {"Int": {"a": 1}})
    assert "'Int' is INT: expected a single value, got a mapping" in rejected(
        run(sessions, job_file, "-p", f"file://{p}"), job_file, sessions
    )


def test_openjds_own_value_form_still_works(job_file: Path, sessions: Path) -> None:
    for value in ({"value": "y"}, {"type": "STRING", "value": "y"}):
        lines = ran(run(sessions, job_file, "-p", json.dumps({"String": value})))
        assert lines[0].startswith("T=1 String=y ")


@pytest.mark.parametrize("kind", SCALARS)
@pytest.mark.parametrize("value", [["/a", "/b"], [], [1]], ids=json.dumps)
def test_a_list_for_a_single_value_type(job_file: Path, sessions: Path, kind: str, value: Any) -> None:
    result = run(sessions, job_file, "-p", json.dumps({NAMES[kind]: value}))
    line = rejected(result, job_file, sessions)
    assert f"parameter {NAMES[kind]!r} is {kind}: expected a single value, got a list" in line


@pytest.mark.parametrize(
    ("kind", "value", "got"),
    [
        ("LIST[STRING]", {"a": 1}, "a mapping"),
        ("LIST[STRING]", ["a", ["b"]], "a list holding a list"),
        ("LIST[STRING]", [{"a": 1}], "a list holding a mapping"),
        ("LIST[PATH]", {"value": {"a": "b"}}, "a mapping"),
        ("LIST[INT]", 5, "a number"),
        ("LIST[INT]", None, "null"),
        ("LIST[LIST[INT]]", [1, 2], "a list holding a number"),
        ("LIST[LIST[INT]]", [[[1]]], "a list holding a list holding a list"),
        ("LIST[LIST[INT]]", [["1"], "[2]"], "a list holding text"),
    ],
)
def test_list_shapes(job_file: Path, sessions: Path, kind: str, value: Any, got: str) -> None:
    line = rejected(run(sessions, job_file, "-p", json.dumps({NAMES[kind]: value})), job_file, sessions)
    assert f"parameter {NAMES[kind]!r} is {kind}: expected a list of " in line and line.endswith(f"got {got}")


def test_right_shapes_run(job_file: Path, sessions: Path) -> None:
    values = {"ListString": ["a"], "ListListInt": [[1, 2], []], "ListInt": "[1, 2]", "ListPath": []}
    assert len(ran(run(sessions, job_file, "-p", json.dumps(values)))) == 3
    assert len(ran(run(sessions, job_file, "-p", 'ListString=["x"]', "-p", "Path=/a"))) == 3


def test_environment_parameters_are_checked_too(tmp_path: Path, job_file: Path, sessions: Path) -> None:
    env = write(
        tmp_path / "env.yaml",
        {
            "specificationVersion": "environment-2023-09",
            "parameterDefinitions": [{"name": "Where", "type": "PATH", "default": "x"}],
            "environment": {"name": "E", "variables": {"WHERE": "{{Param.Where}}"}},
        },
    )
    result = run(sessions, job_file, "--env", str(env), "-p", '{"Where": ["/a"]}')
    assert "'Where' is PATH" in rejected(result, job_file, sessions)


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(TYPES),
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=8,
    ),
)
def test_any_value_is_accepted_or_an_input_error(tmp_path_factory: Any, kind: str, value: Any) -> None:
    template = shapes_template(tmp_path_factory)
    try:
        job.create(template, [], {NAMES[kind]: value})
    except inputs.InputError as exc:
        assert "\n" not in str(exc)
        return
    # Accepted: so it had its type's shape (openjd's own {"value": V} form aside).
    if isinstance(value, dict):
        assert "value" in value and set(value) <= {"type", "value"}
        value = value["value"]
    assert not isinstance(value, dict)
    assert kind.startswith("LIST") or not isinstance(value, list)


_TEMPLATE: list[Template] = []


def shapes_template(factory: Any) -> Template:
    if not _TEMPLATE:
        _TEMPLATE.append(load(write(factory.mktemp("shapes") / "job.yaml", JOB)))
    return _TEMPLATE[0]


# 21: --maximum-tasks ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0", "-100", "one", "1.5", ""])
def test_maximum_tasks_below_1_is_refused(job_file: Path, sessions: Path, value: str) -> None:
    result = run(sessions, job_file, "--maximum-tasks", value)
    assert result.returncode == 2 and "argument --maximum-tasks:" in result.stderr.splitlines()[-1]
    assert "T=" not in result.stdout


def test_maximum_tasks_still_limits(job_file: Path, sessions: Path) -> None:
    assert [line[:3] for line in ran(run(sessions, job_file, "--maximum-tasks", "2"))] == ["T=1", "T=2"]


@pytest.mark.parametrize("maximum", [0, -1])
def test_the_python_api_refuses_maximum_below_1(tmp_path: Path, maximum: int) -> None:
    template = load(write(tmp_path / "job.yaml", JOB))
    created = job.create(template, [], {})
    with pytest.raises(inputs.InputError, match="at least 1"):
        job.plan(created, template, [], maximum_tasks=maximum)
    step = created.steps[0]
    with pytest.raises(inputs.InputError, match="at least 1"):
        job.select_tasks(step, None, maximum, template.path)
    assert len(job.plan(created, template, [], maximum_tasks=1).steps[0].tasks) == 1


# 21: task selections --------------------------------------------------------------------


BAD_TASKS = [
    '[{"T": {"a": 1}}]',
    '[{"T": [1]}]',
    '[{"T": null}]',
    '[{"T": {"value": [1]}}]',
    '[{"T": 1}, {"T": [2]}]',
]


@pytest.mark.parametrize("tasks", BAD_TASKS)
def test_task_values_are_single_values(job_file: Path, sessions: Path, tasks: str) -> None:
    line = rejected(run(sessions, job_file, "--tasks", tasks), "--tasks: task ", sessions)
    assert "'T': expected a single value" in line


def test_task_values_from_a_file_and_tp(tmp_path: Path, job_file: Path, sessions: Path) -> None:
    tasks = write(tmp_path / "tasks.yaml", [{"T": 1}, {"T": {"x": 2}}])
    assert "task 1: 'T'" in rejected(run(sessions, job_file, "--tasks", f"file://{tasks}"), tasks, sessions)
    assert "'T': expected a single value, got a list" in rejected(
        run(sessions, job_file, "-tp", '{"T": [1]}'), "-tp", sessions
    )


def test_task_selections_that_fit_still_run(job_file: Path, sessions: Path) -> None:
    lines = ran(run(sessions, job_file, "--tasks", '[{"T": 3}, {"T": {"value": "1"}}]'))
    assert [line[:3] for line in lines] == ["T=3", "T=1"]
    assert [line[:3] for line in ran(run(sessions, job_file, "-tp", "T=2"))] == ["T=2"]


# 20: path mapping rules -----------------------------------------------------------------


RULE = {"source_path_format": "POSIX", "source_path": "/a", "destination_path": "/b"}
RULE_KEYS = st.sampled_from([*RULE, "T", "value", "type"])


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        ({"version": "pathmapping-1.0", "path_mapping_rules": 5}, "expected a list of rules, got a number"),
        ({"version": "pathmapping-1.0", "path_mapping_rules": {"a": RULE}}, "got a mapping"),
        ({"version": "pathmapping-1.0", "path_mapping_rules": None}, "got null"),
        ({"version": "pathmapping-1.0", "path_mapping_rules": "rules"}, "got text"),
        ({"version": "pathmapping-1.0", "path_mapping_rules": [5]}, "[0]: expected a mapping, got a number"),
        ({"version": "pathmapping-1.0", "path_mapping_rules": [RULE, [RULE]]}, "[1]: expected a mapping"),
        ([RULE, "x"], "[1]: expected a mapping, got text"),
        ({"version": "pathmapping-2.0"}, "expected version"),
    ],
)
def test_path_mapping_rules_shape(
    tmp_path: Path, job_file: Path, sessions: Path, rules: Any, says: str
) -> None:
    inline = run(sessions, job_file, "--path-mapping-rules", json.dumps(rules))
    assert says in rejected(inline, "--path-mapping-rules", sessions)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules))
    assert says in rejected(run(sessions, job_file, "--path-mapping-rules", f"file://{path}"), path, sessions)


def test_valid_path_mapping_rules_still_apply(job_file: Path, sessions: Path) -> None:
    rules = json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": [RULE]})
    assert "Path=/b/x" in ran(run(sessions, job_file, "--path-mapping-rules", rules, "-p", "Path=/a/x"))[0]


@settings(max_examples=150, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(RULE_KEYS, inner, max_size=3),
        max_leaves=10,
    )
)
def test_any_rules_or_tasks_are_accepted_or_an_input_error(document: Any) -> None:
    for wrapped in (document, {"version": "pathmapping-1.0", "path_mapping_rules": document}):
        try:
            inputs.load_path_mapping(json.dumps(wrapped))
        except inputs.InputError as exc:
            assert "\n" not in str(exc)
    try:
        inputs.parse_tasks(json.dumps(document), [])
    except inputs.InputError as exc:
        assert "\n" not in str(exc)


# 20: JSON too deep for Python's parser ----------------------------------------------------


@pytest.mark.parametrize("flag", ["-p", "--tasks", "--path-mapping-rules", "-tp"])
@pytest.mark.parametrize("depth", [200, 1000, 50_000])
def test_deep_inline_json(job_file: Path, sessions: Path, flag: str, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    value = nested if flag in ("--tasks", "--path-mapping-rules") else '{"T": ' + nested + "}"
    assert "levels deep" in rejected(run(sessions, job_file, flag, value), flag, sessions)


# Lazy task spaces (issue 12) ------------------------------------------------------------


def _space_job(tmp_path: Path, ints: str, strings: list[str], combination: str | None) -> Path:
    space: dict[str, Any] = {
        "taskParameterDefinitions": [
            {"name": "F", "type": "INT", "range": ints},
            {"name": "C", "type": "STRING", "range": strings},
        ]
    }
    if combination:
        space["combination"] = combination
    step = {"name": "S", "parameterSpace": space, "script": {"actions": {"onRun": {"command": "true"}}}}
    document = {"specificationVersion": "jobtemplate-2023-09", "name": "Space", "steps": [step]}
    return write(tmp_path / "space.yaml", document)


def _values(tasks: Any) -> list[tuple[str, ...]]:
    return [tuple(f"{k}={v.value}" for k, v in sorted(task.items())) for task in tasks]


@settings(max_examples=25, deadline=None)
@given(
    ints=st.sampled_from(["1-7", "3-20:4", "5,1,9", "1-1"]),
    strings=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=3, unique=True),
    combination=st.sampled_from([None, "F * C", "C * F"]),
    start=st.integers(0, 30),
    length=st.integers(1, 30),
    maximum=st.one_of(st.none(), st.integers(1, 10)),
)
def test_a_lazy_space_reads_like_the_materialised_one(
    tmp_path_factory: Any,
    ints: str,
    strings: list[str],
    combination: str | None,
    start: int,
    length: int,
    maximum: int | None,
) -> None:
    """The rule: a slice, a maximum and a selection pick exactly what they would from the full list."""
    path = _space_job(tmp_path_factory.mktemp("space"), ints, strings, combination)
    everything = _values(job.plan_request(job.Request(path)).steps[0].tasks)
    request = job.Request(path, step="S", part=(start, start + length), maximum_tasks=maximum)
    picked = job.plan_request(request).steps[0].tasks
    assert isinstance(picked, job.TaskSpace)
    assert _values(picked) == everything[start : start + length][:maximum]
    assert _values(picked[1:3]) == everything[start : start + length][:maximum][1:3]
    if everything[start : start + length]:
        wanted = dict(item.split("=", 1) for item in everything[start : start + length][-1])
        selected = job.plan_request(job.Request(path, step="S", part=(start, start + length), tasks=[wanted]))
        assert _values(selected.steps[0].tasks) == [everything[start : start + length][-1]]


def test_a_huge_space_is_never_materialised(tmp_path: Path) -> None:
    """Two million tasks: planning holds positions (a range), not tasks."""
    path = _space_job(tmp_path, "1-1000000", ["a", "b"], None)
    tasks = job.plan_request(job.Request(path, maximum_tasks=1)).steps[0].tasks
    assert isinstance(tasks, job.TaskSpace) and isinstance(tasks.indices, range)
    whole = job.plan_request(job.Request(path)).steps[0].tasks
    assert len(whole) == 2_000_000 and isinstance(whole.indices, range)
    assert _values(whole[1_999_999:]) == [("C=b", "F=1000000")]


def test_a_slice_needs_its_step(job_file: Path, sessions: Path) -> None:
    result = run(sessions, job_file, "--slice", "0:1")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{job_file}: a slice of tasks (--slice) needs the step it is of (--step)"
    ]


@pytest.mark.parametrize("bad", ["1", "3:1", "2:2", "-1:3", "a:b", ":4"])
def test_a_bad_slice_is_one_line(job_file: Path, sessions: Path, bad: str) -> None:
    result = run(sessions, job_file, "--step", "S", f"--slice={bad}")
    assert result.returncode == 2 and "argument --slice:" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("wanted", "found"),
    [
        ({"F": "1000000", "C": "b"}, True),
        ({"F": "777", "C": "a"}, True),
        ({"F": "0", "C": "a"}, False),
        ({"F": "5", "C": "z"}, False),
        ({"F": "05", "C": "a"}, False),
    ],
)
def test_a_task_is_picked_from_a_huge_space_by_its_values(
    tmp_path: Path, wanted: dict[str, str], found: bool
) -> None:
    """Without a combination expression the position is computed (and checked), not searched for."""
    path = _space_job(tmp_path, "1-1000000", ["a", "b"], None)
    request = job.Request(path, tasks=[wanted])
    if not found:
        with pytest.raises(inputs.InputError, match="no task with parameters"):
            job.plan_request(request)
        return
    tasks = job.plan_request(request).steps[0].tasks
    assert _values(tasks) == [(f"C={wanted['C']}", f"F={wanted['F']}")]
