"""The environment an action's process gets, and whether its command line fits exec's limits.

Pure functions: the session keeps the layers (what each entered environment
set or unset), this module composes them and measures the result.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping


def compose(
    base: Mapping[str, str], runtime: Mapping[str, str], layers: Iterable[Mapping[str, str | None]]
) -> dict[str, str]:
    """``base`` (the host's), then ``runtime`` (variables the runtime sets for every action),
    then each layer in order: a value sets its variable, None unsets it."""
    env = {**base, **runtime}
    for layer in layers:
        for name, value in layer.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
    return env


def size(env: Mapping[str, str]) -> int:
    """Bytes an environment takes in exec's argument area: strings, NULs and pointers."""
    return sum(len(k.encode()) + len(v.encode("utf-8", "surrogateescape")) + 2 + 8 for k, v in env.items())


def command_line_problem(argv: tuple[str, ...], env_size: int) -> str:
    """Why exec would fail with E2BIG, before trying: names the limit that is exceeded."""
    single = 32 * os.sysconf("SC_PAGE_SIZE")  # Linux MAX_ARG_STRLEN
    for index, arg in enumerate(argv):
        length = len(arg.encode("utf-8", "surrogateescape")) + 1
        if length > single:
            return f"argument {index} is {length} bytes; the OS limit for one is {single} (MAX_ARG_STRLEN)"
    total = sum(len(a.encode("utf-8", "surrogateescape")) + 1 + 8 for a in argv)
    total += env_size
    arg_max = os.sysconf("SC_ARG_MAX")
    if total > arg_max:
        return f"command line and environment take {total} bytes; the OS limit (ARG_MAX) is {arg_max} bytes"
    return ""
