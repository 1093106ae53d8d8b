"""The three rules, over each script of a valid template: what lint finds and where."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..templates import Template
from .document import Lines, Script, place, scripts
from .expressions import CLEAN, CONTROLLED, QUOTERS, Scope, is_list, split_format, symbols_of, whole_field
from .invocations import Invocation, invocation, shebang

HOOKS = ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")
LISTS = ("WrappedAction.Args", "WrappedAction.Environment")
_RUNS_ARGV = re.compile(r'(^|[;&|(\n]|\bthen|\bdo|\belse)\s*(exec\s+)?"\$[@0]"')
"""A shell line that runs its positional arguments as a command (``exec "$@"``)."""

_SUGGEST_ARGUMENT = {
    "sh": ', or pass it as an argument after the code and read "$1"',
    "python": ", or pass it as an argument after the code and read sys.argv[1]",
    "cmd": "; a separate argument does not help: cmd /c parses them all",
    "pwsh": ", or run a script with -File and pass it as an argument",
}
_SUGGEST_SCRIPT_ARGUMENT = {
    "sh": ', or pass it as an argument of the script and read "$1"',
    "python": ", or pass it as an argument of the script and read sys.argv[1]",
    "cmd": "",
    "pwsh": ", or pass it as an argument of the script",
}


@dataclass(frozen=True)
class Finding:
    """One warning: where, what is wrong, and what to do instead."""

    file: str
    line: int | None
    place: str
    message: str
    suggestion: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.place}: {self.message} ({self.suggestion})"


@dataclass
class Linter:
    """Every rule over one template; ``findings`` in the order met, a shared node's once."""

    template: Template
    shown: str
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lines = Lines(self.template.path)
        self.profile = self.template.expr_profile([])
        self.bundle = "FEATURE_BUNDLE_1" in self.template.extensions
        self.seen: set[tuple[int, int | None, str]] = set()

    def warn(
        self,
        path: Sequence[str | int],
        message: str,
        suggestion: str,
        offset: int | None = None,
        text: str = "",
    ) -> None:
        node = self.lines.node(path)
        if node is not None:  # hooks that share one YAML anchor: one warning, at the first
            if (id(node), offset, message) in self.seen:
                return
            self.seen.add((id(node), offset, message))
        line = self.lines.line(path, offset, text)
        self.findings.append(Finding(self.shown, line, place(path), message, suggestion))

    def run(self) -> None:
        for script in scripts(self.template):
            scope = Scope(self.template, script, self.profile)
            actions = script.body.get("actions") or {}
            for name, action in actions.items():
                if not isinstance(action, dict):
                    continue
                where = (*script.place, "actions", name)
                self.action(scope, script, where, action)
                if script.environment and name in HOOKS:
                    self.hook(where, action)

    # rules 1 and 3 over one action
    def action(
        self, scope: Scope, script: Script, where: tuple[str | int, ...], action: Mapping[str, Any]
    ) -> None:
        command = str(action.get("command", ""))
        args = [str(arg) for arg in action.get("args") or []]
        reported: set[tuple[int, int]] = set()  # (arg index, offset) rule 1 reported: rule 3 would repeat it
        found = invocation(command, args)
        if found is not None:
            for index in found.code:
                for offset in self.code(
                    scope, found, (*where, "args", index), args[index], len(found.code) == 1
                ):
                    reported.add((index, offset))
            if found.script is not None:
                self.script_file(scope, script, found.kind, found.program, args[found.script])
        elif (expression := whole_field(command)) is not None:
            self.runnable(scope, script, expression)
        fields: list[tuple[tuple[str | int, ...], str, int]] = [((*where, "command"), command, -1)]
        fields += [((*where, "args", index), arg, index) for index, arg in enumerate(args)]
        for path, text, index in fields:
            self.lists(scope, path, text, {offset for i, offset in reported if i == index})

    def code(
        self,
        scope: Scope,
        found: Invocation,
        path: tuple[str | int, ...],
        text: str,
        alone: bool,
        data: str | None = None,
    ) -> list[int]:
        """Rule 1 over one code string (an arg, or an embedded file's data): the offsets reported."""
        parts = split_format(text)
        if parts is None:
            return []
        whole = alone and data is None and whole_field(text) is not None
        quoter = QUOTERS[found.kind]
        how = f"a script run by {found.program}" if data is not None else _code_of(found)
        reported: list[int] = []
        for offset, expression in parts:
            taint = scope.taint(expression) or CLEAN
            raw = {(src, quoted, via) for src, quoted, via in taint if quoted != quoter}
            if whole:  # the field is the code: a parameter given as a program is meant to run
                raw = {item for item in raw if not item[0].startswith(CONTROLLED)}
            for src, quoted, via in sorted(raw, key=lambda item: (item[0], item[1] or "", item[2])):
                through = f" (through let binding '{via}')" if via else ""
                expr = expression.strip()
                if quoted is None:
                    message = f"{src}{through} is interpolated raw into {how}: quotes or ; in it run as code"
                else:
                    message = f"{src}{through} is quoted with {quoted}, which does not quote for {how}"
                extra = (_SUGGEST_SCRIPT_ARGUMENT if data is not None else _SUGGEST_ARGUMENT)[found.kind]
                inner = expr if quoted is None else _unquoted(expr, quoted)
                suggestion = f"use {{{{{quoter}({inner})}}}}{extra}"
                self.warn(path, message, suggestion, offset if data is not None else None, text)
                reported.append(offset)
        return reported

    def script_file(self, scope: Scope, script: Script, kind: str, program: str, operand: str) -> None:
        """Rule 1 over the embedded file an interpreter runs: ``bash {{Task.File.X}}``."""
        name = _embedded_name(script, whole_field(operand))
        if name is not None:
            self.embedded(scope, script, name, Invocation(kind, program))

    def runnable(self, scope: Scope, script: Script, expression: str) -> None:
        """Rule 1 over an embedded file run as the command itself, by its ``#!`` line."""
        name = _embedded_name(script, expression)
        if name is None:
            return
        for embedded in script.body.get("embeddedFiles") or []:
            if embedded.get("name") == name:
                interpreter = shebang(str(embedded.get("data", "")))
                # with no args, what runs is an interpreter without code strings or a script
                found = invocation(interpreter, []) if interpreter else None
                if found is not None:
                    self.embedded(scope, script, name, found)

    def embedded(self, scope: Scope, script: Script, name: str, found: Invocation) -> None:
        for index, embedded in enumerate(script.body.get("embeddedFiles") or []):
            if embedded.get("name") == name and isinstance(embedded.get("data"), str):
                path = (*script.place, "embeddedFiles", index, "data")
                self.code(scope, found, path, embedded["data"], False, data=embedded["data"])

    def lists(self, scope: Scope, path: tuple[str | int, ...], text: str, skip: set[int]) -> None:
        """Rule 3: a list of the wrapped action inside a larger string."""
        parts = split_format(text)
        if parts is None or whole_field(text) is not None:
            return
        for offset, expression in parts:
            if offset in skip:
                continue
            named = sorted(s for s in symbols_of(expression) if s in LISTS)
            if not named:
                continue
            kind = scope.type_of(expression)
            if kind is None and expression.strip() not in LISTS or kind is not None and not is_list(kind):
                continue
            expr = expression.strip()
            message = f'{" and ".join(named)} (a list) inside a larger string renders as ["a", "b"]'
            suggestion = (
                f'make it an argument of its own, "{{{{{expr}}}}}", '
                f"or quote it into the string with repr_sh({expr})"
            )
            self.warn(path, message, suggestion)

    # rule 2 over one wrap hook
    def hook(self, where: tuple[str | int, ...], action: Mapping[str, Any]) -> None:
        texts = [str(action.get("command", "")), *(str(a) for a in action.get("args") or [])]
        if "timeout" in action:
            texts.append(str(action["timeout"]))
        cancelation = action.get("cancelation")
        if isinstance(cancelation, dict):
            texts += [str(value) for value in cancelation.values()]
        symbols: set[str] = set()
        for text in texts:
            for _, expression in split_format(text) or []:
                symbols |= symbols_of(expression)
        bundle = "" if self.bundle else " (with extension FEATURE_BUNDLE_1)"
        if "WrappedAction.Environment" not in symbols and not _runs_wrapped_here(action):
            self.warn(
                where,
                "drops WrappedAction.Environment: the wrapped action does not get the variables "
                "the session defined",
                'forward them, e.g. as arguments "{{WrappedAction.Environment}}" or '
                "\"{{ flatten([['-e', e] for e in WrappedAction.Environment]) }}\"",
            )
        if "WrappedAction.Timeout" not in symbols:
            self.warn(
                where,
                "drops WrappedAction.Timeout: the wrapped action's timeout is not enforced",
                f'add timeout: "{{{{WrappedAction.Timeout}}}}"{bundle}, or pass it to the wrap script',
            )
        if not any(s.startswith("WrappedAction.Cancelation.") for s in symbols):
            self.warn(
                where,
                "drops WrappedAction.Cancelation: the wrapped action's cancelation mode and "
                "notify period are lost",
                'add cancelation: {mode: "{{WrappedAction.Cancelation.Mode}}", notifyPeriodInSeconds: '
                f'"{{{{WrappedAction.Cancelation.NotifyPeriodInSeconds}}}}"}}{bundle}, '
                "or pass them to the wrap script",
            )


def _embedded_name(script: Script, expression: str | None) -> str | None:
    """``X`` of ``Task.File.X`` (``Env.File.X`` in an environment), else None."""
    prefix = script.files_symbol + "."
    if expression is None or not expression.startswith(prefix):
        return None
    return expression[len(prefix) :]


def _code_of(found: Invocation) -> str:
    flag = {"sh": "-c", "python": "-c", "cmd": "/c", "pwsh": "-Command"}[found.kind]
    return f"code run by {found.program} {flag}"


def _unquoted(expression: str, quoter: str) -> str:
    """``repr_py(X)`` → ``X``, for the suggestion to quote X with the right function."""
    match = re.fullmatch(rf"\s*{quoter}\((.*)\)\s*", expression, re.DOTALL)
    return match.group(1).strip() if match else expression


def _runs_wrapped_here(action: Mapping[str, Any]) -> bool:
    """Whether the hook runs the wrapped command itself, on this host: then the command
    inherits the session's variables, which every runtime gives the hook's process.

    Two forms: the hook's command is ``{{WrappedAction.Command}}``, or a shell ``-c`` line
    that runs its positional arguments (``exec "$@"``) among which is the wrapped command.
    """
    command = str(action.get("command", ""))
    if whole_field(command) == "WrappedAction.Command":
        return True
    args = [str(arg) for arg in action.get("args") or []]
    found = invocation(command, args)
    if found is None or found.kind != "sh" or len(found.code) != 1:
        return False
    positional = args[found.code[0] + 1 :]
    code = args[found.code[0]]
    return any(whole_field(arg) == "WrappedAction.Command" for arg in positional) and bool(
        _RUNS_ARGV.search(code)
    )
