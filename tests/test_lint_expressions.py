"""lint.expressions: the interpolations of a format string, and what of the controlled values
reaches an expression's value, quoted by which function."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wraprun.lint.document import scripts
from wraprun.lint.expressions import CLEAN, Scope, split_format, symbols_of, whole_field
from wraprun.templates import load

from .helpers import write

EXPRESSIONS = ["Param.Name", " Param.Name ", "repr_sh(Param.Name)", "Task.Param.Who.upper()", "1 + 2"]
literal = st.text(st.characters(codec="ascii", categories=["L", "N", "Zs", "Po"]), max_size=6)


@given(st.lists(st.tuples(literal, st.sampled_from(EXPRESSIONS)), max_size=4), literal)
def test_split_format_finds_each_interpolation_at_its_offset(
    pieces: list[tuple[str, str]], tail: str
) -> None:
    text = "".join(f"{before}{{{{{expression}}}}}" for before, expression in pieces) + tail
    parts = split_format(text)
    assert parts is not None
    assert [expression for _, expression in parts] == [expression for _, expression in pieces]
    for offset, expression in parts:
        assert text[offset:].startswith("{{" + expression + "}}")
    alone = len(pieces) == 1 and pieces[0][0] == "" and tail == ""
    assert whole_field(text) == (pieces[0][1].strip() if alone else None)


@pytest.mark.parametrize("text", ["{{Param.X", "{{}}", "a }}{{Param.X}}", "{{Param.X}}}}"])
def test_split_format_is_none_where_openjd_model_reads_it_otherwise(text: str) -> None:
    assert split_format(text) is None and whole_field(text) is None


def test_symbols_of_an_expression_openjd_model_cannot_parse_is_empty() -> None:
    assert symbols_of("Param.X + Task.Param.Y.upper()") == {"Param.X", "Task.Param.Y"}
    assert symbols_of("((") == set()


@pytest.fixture(scope="module")
def scope(tmp_path_factory: pytest.TempPathFactory) -> Scope:
    job = {
        "specificationVersion": "jobtemplate-2023-09",
        "extensions": ["EXPR"],
        "name": "Taint",
        "parameterDefinitions": [
            {"name": "Name", "type": "STRING", "default": "n"},
            {"name": "Out", "type": "PATH", "default": "/tmp/o"},
            {"name": "Count", "type": "INT", "default": 1},
        ],
        "steps": [
            {
                "name": "S",
                "parameterSpace": {
                    "taskParameterDefinitions": [
                        {"name": "Who", "type": "STRING", "range": ["a"]},
                        {"name": "Frame", "type": "INT", "range": "1-3"},
                    ]
                },
                "script": {
                    "let": ["name = Param.Name", "quoted = repr_sh(Param.Name)"],
                    "actions": {"onRun": {"command": "true"}},
                },
            }
        ],
    }
    template = load(write(Path(tmp_path_factory.mktemp("taint")) / "job.yaml", job))
    (script,) = scripts(template)
    return Scope(template, script, template.expr_profile([]))


SOURCES = ["Param.Name", "RawParam.Name", "Param.Out", "Task.Param.Who", "Task.RawParam.Who"]
TEXT_TRANSFORMS = ["{}.upper()", "({} + '-x')", "[{}, 'z'][0]", "({} if Param.Count > 1 else 'q')"]


@given(st.sampled_from(SOURCES), st.lists(st.sampled_from(TEXT_TRANSFORMS), max_size=3))
def test_a_controlled_value_stays_raw_until_a_quoting_function_wraps_it(
    scope: Scope, source: str, transforms: list[str]
) -> None:
    expression = source
    for transform in transforms:
        expression = transform.format(expression)
    assert scope.taint(expression) == {(source, None, "")}
    for quoter in ("repr_sh", "repr_py", "repr_cmd", "repr_pwsh"):
        assert scope.taint(f"{quoter}({expression})") == {(source, quoter, "")}


@pytest.mark.parametrize(
    "expression",
    [
        "len(Param.Name)",
        "Param.Count",
        "Task.Param.Frame + 1",
        "Param.Name == 'x'",
        "'literal'",
        "Session.WorkingDirectory",
    ],
)
def test_values_that_hold_no_controlled_text_are_clean(scope: Scope, expression: str) -> None:
    assert scope.taint(expression) == CLEAN


def test_let_bindings_carry_what_they_were_bound_to(scope: Scope) -> None:
    assert scope.taint("name.upper()") == {("Param.Name", None, "name")}
    assert scope.taint("quoted") == {("Param.Name", "repr_sh", "quoted")}
    assert scope.taint("repr_py(name)") == {("Param.Name", "repr_py", "name")}


def test_an_expression_openjd_model_cannot_parse_has_no_taint(scope: Scope) -> None:
    assert scope.taint("Param.Name +") is None
