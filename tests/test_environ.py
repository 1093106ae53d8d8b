"""environ: composing an action's environment, and exec's limits checked before exec."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from wraprun import environ

NAMES = st.sampled_from(["A", "B", "PATH", "HOME"])
LAYER = st.dictionaries(NAMES, st.none() | st.text(max_size=5))


@given(st.dictionaries(NAMES, st.text(max_size=5)), st.lists(LAYER, max_size=4))
def test_later_layers_win_and_none_unsets(base: dict[str, str], layers: list[dict[str, str | None]]) -> None:
    env = environ.compose(base, {"RUNTIME": "r"}, layers)
    for name in {*base, *(n for layer in layers for n in layer)}:
        last = next((layer[name] for layer in reversed(layers) if name in layer), base.get(name))
        assert env.get(name) == last
    assert env["RUNTIME"] == "r"


def test_runtime_variables_can_be_overridden_by_an_environment() -> None:
    assert environ.compose({}, {"X": "runtime"}, [{"X": "mine"}]) == {"X": "mine"}


def test_a_single_argument_over_max_arg_strlen_is_named() -> None:
    single = 32 * os.sysconf("SC_PAGE_SIZE")
    problem = environ.command_line_problem(("echo", "x" * single), 0)
    assert "argument 1" in problem and "MAX_ARG_STRLEN" in problem


def test_the_whole_over_arg_max_is_named() -> None:
    big = os.sysconf("SC_ARG_MAX")
    assert "ARG_MAX" in environ.command_line_problem(("echo",), big)
    assert environ.command_line_problem(("echo", "hi"), environ.size({"A": "b"})) == ""
