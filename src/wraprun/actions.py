"""Resolve an ``<Action>`` against a symbol table, and write embedded files.

Expressions are openjd-model's: every field is a ``FormatString`` resolved by
the compiled engine with the template's own expression profile. This module
only applies the schema's rules for what a resolved value means (RFC 0005
§1.3.2 for arguments, Template Schemas §5 for timeout and cancelation) and the
positional defaults.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import overload

from .events import EXIT_KINDS, ActionKind
from .model import ActionModel, EmbeddedFile, rs

TERMINATE = "TERMINATE"
NOTIFY_THEN_TERMINATE = "NOTIFY_THEN_TERMINATE"
ENV_EXIT_DEFAULT_TIMEOUT = 300
"""Template Schemas §5: an environment's onExit runs at most 5 minutes by default."""
_STRICT_INT = re.compile(r"[0-9]+")


class ActionError(ValueError):
    """An action whose fields cannot be resolved to something runnable."""


@dataclass(frozen=True)
class Scope:
    """Template-side symbols an action resolves against, and the expression profile."""

    symbols: Mapping[str, rs.ExprValue]
    profile: rs.ExprProfile


@dataclass(frozen=True)
class ActionSpec:
    """The fields of one ``<Action>`` as format strings (template or job side)."""

    command: rs.FormatString
    args: tuple[rs.FormatString, ...]
    timeout: rs.FormatString | None
    cancel_mode: rs.FormatString | None
    notify_period: rs.FormatString | None

    @classmethod
    def of(cls, action: ActionModel) -> ActionSpec:
        cancel = action.cancelation
        mode = notify = None
        if cancel is not None:
            mode = format_string(cancel.mode)
            notify = format_string(cancel.notify_period_in_seconds)
        return cls(
            command=format_string(action.command),
            args=tuple(format_string(a) for a in action.args or ()),
            timeout=format_string(action.timeout),
            cancel_mode=mode,
            notify_period=notify,
        )


@overload
def format_string(value: None) -> None: ...
@overload
def format_string(value: str | rs.FormatString) -> rs.FormatString: ...
def format_string(value: str | rs.FormatString | None) -> rs.FormatString | None:
    """A FormatString for a field that the model hands over as text or as a FormatString."""
    if value is None or isinstance(value, rs.FormatString):
        return value
    return rs.FormatString(str(value))


def default_timeout(kind: ActionKind) -> int | None:
    return ENV_EXIT_DEFAULT_TIMEOUT if kind in EXIT_KINDS else None


def default_notify_period(kind: ActionKind) -> int:
    return 120 if kind in ("onRun", "onWrapTaskRun") else 30


@dataclass(frozen=True)
class ResolvedAction:
    argv: tuple[str, ...]
    declared_timeout: int | None
    """The timeout the action itself states (None: it states none)."""
    timeout: int | None
    """The timeout to enforce: declared, else the position's default."""
    declared_mode: str | None
    """TERMINATE / NOTIFY_THEN_TERMINATE as declared; None when no cancelation."""
    notify_period: int | None
    """Effective notify period when the mode is NOTIFY_THEN_TERMINATE, else None."""

    @property
    def grace(self) -> float | None:
        """Seconds between SIGTERM and SIGKILL on cancel; None means kill at once."""
        return float(self.notify_period) if self.notify_period is not None else None


def resolve(
    spec: ActionSpec, symtab: rs.SymbolTable, profile: rs.ExprProfile, kind: ActionKind
) -> ResolvedAction:
    """The argv, timeout and cancelation of ``spec``, with the defaults of its position ``kind``."""
    try:
        argv = [_text_of(spec.command, symtab, profile)]
        argv.extend(resolve_args(spec.args, symtab, profile))
        declared_timeout = _optional_int(spec.timeout, symtab, profile, "timeout", 1, None)
        mode, period = _cancelation(spec, symtab, profile)
    except ValueError as exc:  # the engine's ExpressionError is a ValueError
        raise ActionError(str(exc).splitlines()[0] if str(exc) else repr(exc)) from exc
    if mode == NOTIFY_THEN_TERMINATE and period is None:
        period = default_notify_period(kind)
    timeout = declared_timeout if declared_timeout is not None else default_timeout(kind)
    return ResolvedAction(tuple(argv), declared_timeout, timeout, mode, period)


def resolve_args(
    args: tuple[rs.FormatString, ...], symtab: rs.SymbolTable, profile: rs.ExprProfile
) -> list[str]:
    """RFC 0005 §1.3.2: a null argument is dropped, a list gives one argument per element."""
    out: list[str] = []
    for arg in args:
        if arg.is_literal():
            out.append(arg.raw())  # nothing to evaluate: the common case, kept cheap
            continue
        value = arg.resolve(symtab, profile=profile)
        if value.is_null:
            continue
        if value.type.type_code == rs.TypeCode.LIST:
            out.extend(_text(item) for item in value)
        else:
            out.append(_text(value))
    return out


def _text(value: rs.ExprValue) -> str:
    return str(value)


def _text_of(field: rs.FormatString, symtab: rs.SymbolTable, profile: rs.ExprProfile) -> str:
    return field.raw() if field.is_literal() else field.resolve_string(symtab, profile=profile)


def _optional_int(
    field: rs.FormatString | None,
    symtab: rs.SymbolTable,
    profile: rs.ExprProfile,
    what: str,
    low: int,
    high: int | None,
) -> int | None:
    if field is None:
        return None
    value = field.resolve(symtab, profile=profile)
    if value.is_null:
        return None  # a whole-field null drops the field
    text = str(value)
    if not _STRICT_INT.fullmatch(text):
        raise ValueError(f"{what} must be an integer, got {text!r}")
    number = int(text)
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ValueError(f"{what} must be {bound}, got {number}")
    return number


def _cancelation(
    spec: ActionSpec, symtab: rs.SymbolTable, profile: rs.ExprProfile
) -> tuple[str | None, int | None]:
    if spec.cancel_mode is None:
        return None, None
    mode_value = spec.cancel_mode.resolve(symtab, profile=profile)
    if mode_value.is_null:
        return None, None  # a null mode drops the whole cancelation object (RFC 0008)
    mode = str(mode_value)
    period = _optional_int(spec.notify_period, symtab, profile, "notifyPeriodInSeconds", 1, 600)
    if mode == TERMINATE:
        if period is not None:
            raise ValueError("cancelation mode TERMINATE does not accept notifyPeriodInSeconds")
        return TERMINATE, None
    if mode == NOTIFY_THEN_TERMINATE:
        return NOTIFY_THEN_TERMINATE, period
    raise ValueError(f"cancelation mode must be TERMINATE or NOTIFY_THEN_TERMINATE, got {mode!r}")


# --- embedded files -------------------------------------------------------------------------


def file_symbols(
    files: Sequence[EmbeddedFile] | None, directory: str, prefix: str
) -> tuple[dict[str, str], list[EmbeddedFile]]:
    """Choose a path for each embedded file; returns ({symbol: path}, files).

    Paths are chosen before any data is resolved because a file's data may
    name another file of the same script.
    """
    paths: dict[str, str] = {}
    for f in files or ():
        name = f.filename if f.filename else f"{f.name}-{os.urandom(4).hex()}"
        paths[f"{prefix}.{f.name}"] = os.path.join(directory, str(name))
    return paths, list(files or ())


@dataclass(frozen=True)
class RenderedFile:
    path: str
    text: str
    runnable: bool


def render_files(
    files: Sequence[EmbeddedFile],
    paths: dict[str, str],
    prefix: str,
    symtab: rs.SymbolTable,
    profile: rs.ExprProfile,
) -> list[RenderedFile]:
    """Resolve each embedded file's data (and its line endings) against ``symtab``."""
    out = []
    for f in files:
        data = f.data if f.data is not None else ""
        try:
            text = format_string(data).resolve_string(symtab, profile=profile)
        except ValueError as exc:
            raise ActionError(f"embedded file {f.name}: {str(exc).splitlines()[0]}") from exc
        if (f.end_of_line or "AUTO") == "CRLF":
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        out.append(RenderedFile(paths[f"{prefix}.{f.name}"], text, bool(f.runnable)))
    return out


def write_files(rendered: Sequence[RenderedFile], group: int | None = None) -> None:
    """Write rendered files afresh (runnable ones get u+x): before every action that uses them.

    ``group``: the group of the user actions run as, which gets to read (and run) them too.
    """
    for f in rendered:
        with open(f.path, "w", encoding="utf-8", newline="") as out:
            out.write(f.text)
        mode = stat.S_IRWXU if f.runnable else stat.S_IRUSR | stat.S_IWUSR
        if group is not None:
            os.chown(f.path, -1, group)
            mode |= stat.S_IRGRP | (stat.S_IXGRP if f.runnable else 0)
        os.chmod(f.path, mode)
