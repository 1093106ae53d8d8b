"""How an action's command line reaches a shell or interpreter: its code strings or its script.

Pure parsing of argv; knows no expressions beyond spotting ``{{``. Limit: an argument
that is an expression is never taken for an option.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "ash", "mksh"}
_PYTHON = re.compile(r"^(python[0-9.]*|pypy[0-9.]*)$")


@dataclass(frozen=True)
class Invocation:
    """How an action's args reach an interpreter: the code strings, or the script it runs."""

    kind: str
    """sh, python, cmd or pwsh."""
    program: str
    code: tuple[int, ...] = ()
    """Indexes into args of the text the interpreter parses as code."""
    script: int | None = None
    """Index into args of the script file it runs (no code strings then)."""


def _program(text: str) -> str:
    """The bare program name of a command (``/bin/bash`` → ``bash``, ``C:\\...\\cmd.exe`` → ``cmd``)."""
    name = re.split(r"[\\/]", text)[-1].lower()
    return name[:-4] if name.endswith(".exe") else name


def invocation(command: str, args: Sequence[str]) -> Invocation | None:
    """What runs ``command args``, when it is a shell or interpreter we know; else None."""
    if "{{" in command:
        return None
    program = _program(command)
    if program == "env":
        index = _after_env(args)
        if index is None or "{{" in args[index]:
            return None
        found = invocation(args[index], args[index + 1 :])
        if found is None:
            return None
        shift = index + 1
        return Invocation(
            found.kind,
            found.program,
            tuple(i + shift for i in found.code),
            None if found.script is None else found.script + shift,
        )
    if program in _SHELLS:
        return _shell(program, args)
    if _PYTHON.match(program):
        return _python(program, args)
    if program == "cmd":
        for index, arg in enumerate(args):
            if arg.lower().startswith(("/c", "/k")):
                attached = (index,) if len(arg) > 2 else ()
                return Invocation("cmd", program, (*attached, *range(index + 1, len(args))))
        return None
    if program in ("powershell", "pwsh"):
        return _powershell(program, args)
    return None


def _after_env(args: Sequence[str]) -> int | None:
    """The index of the program ``env ARGS`` runs."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            index += 1
            break
        if arg in ("-u", "-C", "--unset", "--chdir"):
            index += 2
        elif arg.startswith("-S") or arg.startswith("--split-string"):
            return None
        elif arg.startswith("-") or ("=" in arg and "{{" not in arg):
            index += 1
        else:
            break
    return index if index < len(args) else None


def _shell(program: str, args: Sequence[str]) -> Invocation:
    index, code = 0, False
    while index < len(args):
        arg = args[index]
        if "{{" in arg:
            break
        if arg in ("--", "-"):
            index += 1
            break
        if arg in ("--rcfile", "--init-file"):
            index += 2
        elif arg.startswith("--"):
            index += 1
        elif len(arg) > 1 and arg[0] in "-+" and arg[1:].isalpha():
            code = code or (arg[0] == "-" and "c" in arg[1:])
            index += 2 if ("o" in arg[1:] or "O" in arg[1:]) else 1
        else:
            break
    if index >= len(args):
        return Invocation("sh", program)
    return Invocation("sh", program, code=(index,)) if code else Invocation("sh", program, script=index)


def _python(program: str, args: Sequence[str]) -> Invocation | None:
    index = 0
    while index < len(args):
        arg = args[index]
        if "{{" in arg or arg == "-" or not arg.startswith("-"):
            break
        if arg == "--":
            index += 1
            break
        if arg.startswith("--"):
            index += 1
            continue
        consumed = 1
        for at, letter in enumerate(arg[1:], start=1):
            if letter == "c":
                code = index if at + 1 < len(arg) else index + 1
                return Invocation("python", program, code=(code,) if code < len(args) else ())
            if letter == "m":
                return None  # a module runs; no code string
            if letter in "WX":
                consumed = 1 if at + 1 < len(arg) else 2
                break
        index += consumed
    if index >= len(args) or args[index] == "-":
        return Invocation("python", program)
    return Invocation("python", program, script=index)


def _powershell(program: str, args: Sequence[str]) -> Invocation | None:
    for index, arg in enumerate(args):
        word = arg.lower()
        if word in ("-c", "-command") or (len(word) >= 4 and "-command".startswith(word)):
            return Invocation("pwsh", program, code=tuple(range(index + 1, len(args))))
        if word in ("-f", "-file"):
            return Invocation("pwsh", program, script=index + 1) if index + 1 < len(args) else None
    return None


def shebang(data: str) -> str | None:
    """The interpreter a ``#!`` line names (``#!/usr/bin/env bash`` → bash)."""
    if not data.startswith("#!"):
        return None
    words = data[2:].split("\n", 1)[0].split()
    if not words:
        return None
    if _program(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return words[0] if words else None
