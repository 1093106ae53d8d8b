"""Parse the ``openjd_*`` stdout macros of How Jobs Are Run (pure functions).

The session decides what a macro means; this module only recognises them.
A macro is a line that starts with one: text after the start of a line is
never one. Almost no block of output holds a macro, so :func:`scan` first asks
the bytes whether ``openjd_`` occurs at all and only then looks at single
lines: that keeps relaying plain output at memory speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MacroKind = Literal["env", "unset_env", "redacted_env", "fail", "progress", "status"]

# A macro is a whole line that starts with its name; the value runs to the end
# of the line. One optional space after the colon belongs to the syntax.
_LINE_RE = re.compile(
    rb"^openjd_(env|unset_env|redacted_env|fail|progress|status):[ \t]?(.*?)\r?$", re.MULTILINE
)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Macro:
    kind: MacroKind
    value: str
    name: str = ""
    """Variable name, for the env macros."""
    error: str = ""
    """Why a malformed macro cannot be applied ('' when it is well formed)."""

    @property
    def progress(self) -> float | None:
        try:
            number = float(self.value)
        except ValueError:
            return None
        return number if 0.0 <= number <= 100.0 else None


def parse_line(line: str) -> Macro | None:
    """The macro on one line of output, or None when the line is no macro."""
    found = scan(line.encode("utf-8", "surrogateescape"))
    return found[0] if found else None


def scan(block: bytes) -> list[Macro]:
    """Every macro in ``block``, which starts at the start of a line, in order."""
    if b"openjd_" not in block:
        return []
    return [_build(m.group(1).decode(), m.group(2)) for m in _LINE_RE.finditer(block)]


def _build(kind: str, raw: bytes) -> Macro:
    # surrogateescape keeps bytes that are not UTF-8 as they were: a secret is
    # masked by its exact bytes, and a variable is set to exactly what was printed.
    value = raw.decode("utf-8", "surrogateescape")
    # Errors never quote the value: the line is in the output already (masked),
    # and an escaped copy of a secret would escape its mask.
    if kind in ("env", "redacted_env"):
        name, sep, rest = value.partition("=")
        name = name.strip()
        if not sep or not _NAME_RE.fullmatch(name):
            return Macro(kind, value, error=f"openjd_{kind} expects NAME=VALUE")  # type: ignore[arg-type]
        if "\0" in rest:
            # The value still names a secret to mask (redacted_env), though no variable can hold it.
            error = f"openjd_{kind}: {name}: a value cannot hold a NUL byte"
            return Macro(kind, rest, name=name, error=error)  # type: ignore[arg-type]
        return Macro(kind, rest, name=name)  # type: ignore[arg-type]
    if kind == "unset_env":
        name = value.strip()
        if not _NAME_RE.fullmatch(name):
            return Macro("unset_env", value, error="openjd_unset_env expects a variable NAME")
        return Macro("unset_env", "", name=name)
    return Macro(kind, value)  # type: ignore[arg-type]
