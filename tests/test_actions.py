"""actions: what a resolved <Action> means (RFC 0005 §1.3.2, Template Schemas §5 defaults)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from wraprun import actions
from wraprun.actions import ActionError, ActionSpec
from wraprun.model import rs

PROFILE = rs.ModelProfile.from_strings(
    rs.SpecificationRevision.v2023_09, ["EXPR", "FEATURE_BUNDLE_1"]
).to_expr_profile(rs.HostContext.none())
SYMBOLS = rs.SymbolTable(
    {
        "Param.Items": rs.ExprValue(["a b", "c"], "list[string]"),
        "Param.Nothing": rs.ExprValue(None, "string?"),
        "Param.Secs": rs.ExprValue(7),
    }
)


def spec(
    *args: str, timeout: str | None = None, mode: str | None = None, notify: str | None = None
) -> ActionSpec:
    fs = rs.FormatString
    return ActionSpec(
        command=fs("cmd"),
        args=tuple(fs(a) for a in args),
        timeout=fs(timeout) if timeout is not None else None,
        cancel_mode=fs(mode) if mode is not None else None,
        notify_period=fs(notify) if notify is not None else None,
    )


def resolve(s: ActionSpec, kind: Any = "onRun") -> actions.ResolvedAction:
    return actions.resolve(s, SYMBOLS, PROFILE, kind)


def test_a_null_argument_is_dropped_and_a_list_gives_one_argument_per_element() -> None:
    done = resolve(spec("x", "{{Param.Nothing}}", "{{Param.Items}}", "y {{Param.Secs}}"))
    assert done.argv == ("cmd", "x", "a b", "c", "y 7")


@pytest.mark.parametrize(
    "kind, timeout, notify",
    [("onRun", None, 120), ("onEnter", None, 30), ("onExit", 300, 30), ("onWrapEnvExit", 300, 30)],
)
def test_positional_defaults(kind: Any, timeout: int | None, notify: int) -> None:
    done = resolve(spec(mode="NOTIFY_THEN_TERMINATE"), kind)
    assert (done.timeout, done.declared_timeout, done.notify_period) == (timeout, None, notify)
    assert done.grace == float(notify)


def test_declared_fields_win_and_terminate_kills_at_once() -> None:
    done = resolve(spec(timeout="{{Param.Secs}}", mode="TERMINATE"), "onExit")
    assert (done.timeout, done.declared_timeout, done.declared_mode, done.grace) == (7, 7, "TERMINATE", None)


def test_a_null_mode_drops_the_cancelation() -> None:
    done = resolve(spec(mode="{{Param.Nothing}}"))
    assert (done.declared_mode, done.notify_period, done.grace) == (None, None, None)


@pytest.mark.parametrize(
    "bad, message",
    [
        (spec(timeout="0"), "timeout must be >= 1"),
        (spec(timeout="1.5"), "timeout must be an integer"),
        (spec(mode="KILL"), "cancelation mode must be TERMINATE or NOTIFY_THEN_TERMINATE"),
        (spec(mode="TERMINATE", notify="5"), "does not accept notifyPeriodInSeconds"),
        (spec(mode="NOTIFY_THEN_TERMINATE", notify="601"), "between 1 and 600"),
        (spec("{{Param.Missing}}"), "Missing"),
    ],
)
def test_what_cannot_run_is_an_action_error(bad: ActionSpec, message: str) -> None:
    with pytest.raises(ActionError, match=message):
        resolve(bad)


class File:
    def __init__(self, name: str, data: str, *, runnable: bool = False, eol: str | None = None) -> None:
        self.name, self.data, self.runnable, self.end_of_line = name, data, runnable, eol
        self.filename: str | None = None


def test_embedded_files_resolve_their_data_and_modes(tmp_path: Path) -> None:
    files = [File("Run", "echo {{Param.Secs}}\n", runnable=True), File("Win", "a\nb\n", eol="CRLF")]
    paths, listed = actions.file_symbols(files, str(tmp_path), "Task.File")
    actions.write_files(actions.render_files(listed, paths, "Task.File", SYMBOLS, PROFILE))
    run, win = Path(paths["Task.File.Run"]), Path(paths["Task.File.Win"])
    assert run.read_text() == "echo 7\n" and stat.S_IMODE(run.stat().st_mode) == 0o700
    assert win.read_bytes() == b"a\r\nb\r\n" and stat.S_IMODE(win.stat().st_mode) == 0o600
