"""lint.invocations: which args of a command line an interpreter parses as code, or runs as a script."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wraprun.lint.invocations import Invocation, invocation, shebang

PROGRAMS = ["sh", "bash", "zsh", "dash", "ksh", "python", "python3", "python3.11", "pypy3", "cmd", "pwsh"]
PROGRAMS += ["powershell", "env", "node", "docker"]
WORDS = ["-c", "-e", "-ec", "-xc", "-o", "pipefail", "--", "-", "x", "s.py", "{{Param.X}}", "/c", "/K"]
WORDS += ["-Command", "-Comm", "-File", "-NoProfile", "A=1", "-u", "-I", "-m", "-W", "-cprint(1)", "-S"]
args_lists = st.lists(st.sampled_from(WORDS), max_size=7)


@given(st.sampled_from(PROGRAMS), args_lists)
def test_every_index_names_an_argument(program: str, args: list[str]) -> None:
    """The rules read ``args[index]`` for each index an invocation gives."""
    found = invocation(program, args)
    if found is not None:
        assert all(0 <= index < len(args) for index in found.code)
        assert found.script is None or 0 <= found.script < len(args)
        assert not (found.code and found.script is not None)
        assert found.kind in ("sh", "python", "cmd", "pwsh")


@given(
    st.sampled_from(PROGRAMS),
    st.sampled_from(["/bin/", "/usr/local/bin/", "C:\\Tools\\", "./"]),
    st.sampled_from(["", ".exe"]),
    st.booleans(),
    args_lists,
)
def test_a_path_suffix_or_case_does_not_change_the_program(
    program: str, folder: str, suffix: str, upper: bool, args: list[str]
) -> None:
    command = folder + (program.upper() if upper else program) + suffix
    assert invocation(command, args) == invocation(program, args)


ENV_OPTIONS = [["-i"], ["-u", "NAME"], ["--unset", "NAME"], ["-C", "/tmp"], ["A=1"], ["LC_ALL=C"], ["-0"]]


@given(
    st.lists(st.sampled_from(ENV_OPTIONS), max_size=4), st.booleans(), st.sampled_from(PROGRAMS), args_lists
)
def test_env_runs_its_program_with_the_indexes_shifted(
    options: list[list[str]], dashes: bool, program: str, args: list[str]
) -> None:
    before = [word for option in options for word in option] + (["--"] if dashes else [])
    inner = invocation(program, args)
    found = invocation("/usr/bin/env", [*before, program, *args])
    if inner is None:
        assert found is None
    else:
        shift = len(before) + 1
        assert found == Invocation(
            inner.kind,
            inner.program,
            tuple(index + shift for index in inner.code),
            None if inner.script is None else inner.script + shift,
        )


@given(
    st.sampled_from(["sh", "bash", "zsh", "dash", "ksh", "ash", "mksh"]),
    st.lists(st.sampled_from(["-e", "-x", "-u", "+x", "-o pipefail", "--norc", "--rcfile rc"]), max_size=4),
    st.sampled_from(["c", "ec", "xc", "ce"]),
)
def test_a_shell_parses_the_argument_after_its_options_as_code(
    shell: str, options: list[str], letters: str
) -> None:
    before = [word for option in options for word in option.split()]
    args = [*before, f"-{letters}", "echo hi", "$0", "one"]
    assert invocation(shell, args) == Invocation("sh", shell, code=(len(before) + 1,))
    # without -c the first operand is a script it runs, and the rest its arguments
    assert invocation(shell, [*before, "run.sh", "one"]) == Invocation("sh", shell, script=len(before))


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("python3", ["-I", "-c", "x"], Invocation("python", "python3", code=(2,))),
        ("python3", ["-cprint(1)"], Invocation("python", "python3", code=(0,))),
        ("python", ["-W", "ignore", "-c", "x"], Invocation("python", "python", code=(3,))),
        ("python", ["-Wignore", "s.py"], Invocation("python", "python", script=1)),
        ("python", ["-"], Invocation("python", "python")),
        ("python", ["-c"], Invocation("python", "python")),
        ("python", ["-m", "http.server"], None),
        ("cmd.exe", ["/C", "echo", "x"], Invocation("cmd", "cmd", code=(1, 2))),
        ("cmd", ["/cecho", "x"], Invocation("cmd", "cmd", code=(0, 1))),
        ("cmd", ["/k", "dir"], Invocation("cmd", "cmd", code=(1,))),
        ("cmd", ["dir"], None),
        ("pwsh", ["-NoProfile", "-Comm", "a", "b"], Invocation("pwsh", "pwsh", code=(2, 3))),
        ("powershell", ["-c", "a"], Invocation("pwsh", "powershell", code=(1,))),
        ("pwsh", ["-File", "s.ps1", "a"], Invocation("pwsh", "pwsh", script=1)),
        ("pwsh", ["-File"], None),
        ("env", ["-S", "bash -c x"], None),
        ("env", [], None),
        ("node", ["-e", "x"], None),
        ("{{Param.Shell}}", ["-c", "x"], None),
    ],
)
def test_each_interpreter_s_code_and_script(
    command: str, args: list[str], expected: Invocation | None
) -> None:
    assert invocation(command, args) == expected


@pytest.mark.parametrize("program", ["bash", "python3"])
@pytest.mark.parametrize("expression", ["{{Param.Flags}}", "-{{Param.Flags}}", "-m{{Param.C}}"])
def test_an_expression_is_never_taken_for_an_option(program: str, expression: str) -> None:
    """``{{Param.Flags}}`` may render as ``-c``; lint does not guess: it is the operand."""
    found = invocation(program, [expression, "-c", "code"])
    assert found is not None and (found.code, found.script) == ((), 0)
    assert invocation("env", ["A={{Param.X}}", "bash", "-c", "x"]) is None


@pytest.mark.parametrize(
    ("data", "interpreter"),
    [
        ("#!/bin/bash\necho\n", "/bin/bash"),
        ("#!/bin/sh -e", "/bin/sh"),
        ("#! /usr/bin/python3\n", "/usr/bin/python3"),
        ("#!/usr/bin/env bash\n", "bash"),
        ("#!/usr/bin/env -S bash -e\n", "bash"),
        ("#!/usr/bin/env -i python3\nprint()", "python3"),
        ("#!/usr/bin/env\n", None),
        ("#!\n", None),
        ("echo hi\n#!/bin/bash", None),
        ("", None),
    ],
)
def test_shebang_names_the_interpreter(data: str, interpreter: str | None) -> None:
    assert shebang(data) == interpreter
