"""``wraprun lint``: patterns openjd-model accepts but RFC 0008 warns about.

Three rules, over a template openjd-model has already validated:

1. A value a user or a job controls (``Param.*``, ``RawParam.*``, ``Task.Param.*``,
   ``Task.RawParam.*``, ``WrappedAction.Command/Args/Environment``, ``WrappedEnv.Name``,
   ``WrappedStep.Name``) interpolated raw into code a shell or interpreter parses:
   the code string of ``sh -c``, ``python -c``, ``cmd /c``, ``pwsh -Command``, or an
   embedded script such an action runs. Raw means not inside the quoting function of
   that interpreter (``repr_sh``, ``repr_py``, ``repr_cmd``, ``repr_pwsh``).
2. A wrap hook that drops the wrapped action's environment, timeout or cancelation.
3. ``WrappedAction.Args`` or ``WrappedAction.Environment`` (lists) inside a larger
   string, where they render as ``["a", "b"]``.

Expressions are openjd-model's: it parses them (the symbols an expression reads) and
types them (each evaluated over unresolved placeholders of the symbols' types).
Python's own parser supplies the tree of an expression, to tell where a symbol sits
(inside which call, in a condition, as a comprehension's source); an expression it
cannot parse is judged by its symbols and functions alone. Limits: an argument that
is an expression is never taken for an option; quoting by hand (``'{{Param.X}}'``) or
with a function that is not the interpreter's counts as raw.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .model import rs
from .templates import Template, TemplateError, load

__all__ = ["Finding", "lint_command", "lint_lines", "lint_template", "strict_command"]

QUOTERS = {"sh": "repr_sh", "python": "repr_py", "cmd": "repr_cmd", "pwsh": "repr_pwsh"}
"""The function that quotes a value for each kind of interpreter (RFC 0006, in openjd-model)."""
HOOKS = ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")
CONTROLLED = ("Param.", "RawParam.", "Task.Param.", "Task.RawParam.")
WRAPPED = ("WrappedAction.Command", "WrappedAction.Args", "WrappedAction.Environment")
NAMES = ("WrappedEnv.Name", "WrappedStep.Name")
LISTS = ("WrappedAction.Args", "WrappedAction.Environment")

_WRAPPED_TYPES = {
    "WrappedAction.Command": "string",
    "WrappedAction.Args": "list[string]",
    "WrappedAction.Environment": "list[string]",
    "WrappedAction.Timeout": "int?",
    "WrappedAction.Cancelation.Mode": "string?",
    "WrappedAction.Cancelation.NotifyPeriodInSeconds": "int?",
    "WrappedEnv.Name": "string",
    "WrappedStep.Name": "string",
}
_TASK_TYPES = {"INT": "int", "FLOAT": "float", "STRING": "string", "PATH": "path", "CHUNK[INT]": "string"}
_SHELLS = {"sh", "bash", "zsh", "dash", "ksh", "ash", "mksh"}
_PYTHON = re.compile(r"^(python[0-9.]*|pypy[0-9.]*)$")
_LET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)(.*)$", re.DOTALL)
_RUNS_ARGV = re.compile(r'(^|[;&|(\n]|\bthen|\bdo|\belse)\s*(exec\s+)?"\$[@0]"')
"""A shell line that runs its positional arguments as a command (``exec "$@"``)."""


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


def lint_lines(
    files: Sequence[str], extensions: Sequence[str] | None = None
) -> tuple[int, list[tuple[bool, str]]]:
    """The exit code of linting ``files`` and (is an error, line) for each line to print:
    0 clean, 1 warnings, 2 a file is not a valid template (its problems, as ``check`` says them)."""
    from .check import EXIT_FAILED, EXIT_INVALID, EXIT_OK

    invalid = warned = False
    lines: list[tuple[bool, str]] = []
    for name in files:
        try:
            template = load(name, extensions=extensions)
        except TemplateError as exc:
            lines += [(True, problem) for problem in exc.problems]
            invalid = True
            continue
        shown = name if Path(name) == template.path else str(template.path)
        findings = lint_template(template, shown)
        lines += [(False, str(finding)) for finding in findings]
        warned = warned or bool(findings)
    return (EXIT_INVALID if invalid else EXIT_FAILED if warned else EXIT_OK), lines


def lint_command(files: Sequence[str]) -> int:
    """``wraprun lint``: warnings on stdout, a file that is no valid template on stderr."""
    status, lines = lint_lines(files)
    for error, line in lines:
        print(line, file=sys.stderr if error else sys.stdout)
    return status


def strict_command(files: Sequence[str], extensions: str | None, checked: int) -> int:
    """``wraprun check --strict``, after ``check`` said ``checked``: the warnings, on stderr
    beside check's problems (stdout keeps check's own output, a document with --output)."""
    from .check import EXIT_OK
    from .templates import parse_extensions

    if checked != EXIT_OK:
        return checked
    status, lines = lint_lines(files, parse_extensions(extensions))
    for _, line in lines:
        print(line, file=sys.stderr)
    return status


def lint_template(template: Template, shown: str | None = None) -> list[Finding]:
    """Every warning about one valid template, in document order, each once."""
    linter = _Linter(template, shown or str(template.path))
    linter.run()
    unique = dict.fromkeys(linter.findings)
    return sorted(unique, key=lambda f: (f.line or 0, f.place, f.message))


# ---------------------------------------------------------------- the document


@dataclass
class _Script:
    """One ``script`` of a template, with what its expressions can see."""

    place: tuple[str | int, ...]
    body: Mapping[str, Any]
    files_symbol: str
    """``Env.File`` or ``Task.File``."""
    environment: bool
    task_parameters: Sequence[Mapping[str, Any]] = ()


def _scripts(template: Template) -> Iterator[_Script]:
    document = template.document

    def environment(env: Any, place: tuple[str | int, ...]) -> Iterator[_Script]:
        if isinstance(env, dict) and isinstance(env.get("script"), dict):
            yield _Script((*place, "script"), env["script"], "Env.File", True)

    if template.kind == "environment":
        yield from environment(document.get("environment"), ("environment",))
        return
    for index, env in enumerate(document.get("jobEnvironments") or []):
        yield from environment(env, ("jobEnvironments", index))
    for index, step in enumerate(document.get("steps") or []):
        for inner, env in enumerate(step.get("stepEnvironments") or []):
            yield from environment(env, ("steps", index, "stepEnvironments", inner))
        space = step.get("parameterSpace") or {}
        definitions = space.get("taskParameterDefinitions") or []
        if isinstance(step.get("script"), dict):
            yield _Script(("steps", index, "script"), step["script"], "Task.File", False, definitions)


def _place(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


class _Lines:
    """Line numbers of the template's YAML nodes (aliases point at their anchor's node)."""

    def __init__(self, path: Path) -> None:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        self.root: Any = None
        try:
            self.root = yaml.compose(path.read_text(encoding="utf-8"), Loader=loader)
        except (OSError, UnicodeError, yaml.YAMLError):
            pass

    def find(self, path: Sequence[str | int]) -> tuple[Any, Any]:
        """(the key node naming the last step, or None; the node at ``path``, or None)."""
        import yaml

        key: Any = None
        node = self.root
        for part in path:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                key, node = next(
                    ((k, v) for k, v in node.value if getattr(k, "value", None) == part), (None, None)
                )
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                key, node = None, node.value[part]
            else:
                return None, None
        return key, node

    def node(self, path: Sequence[str | int]) -> Any:
        return self.find(path)[1]

    def line(
        self, path: Sequence[str | int], offset_in_text: int | None = None, text: str = ""
    ) -> int | None:
        """The line of a scalar; of a mapping or list, the line of the key that names it."""
        import yaml

        key, node = self.find(path)
        if node is None:
            return None
        if key is not None and isinstance(node, yaml.CollectionNode):
            return int(key.start_mark.line) + 1
        line = int(node.start_mark.line) + 1
        if offset_in_text is not None and getattr(node, "style", None) == "|":
            line += 1 + text.count("\n", 0, offset_in_text)  # a literal block starts below its `|`
        return line


# ---------------------------------------------------------------- expressions


def split_format(text: str) -> list[tuple[int, str]] | None:
    """The ``{{ }}`` interpolations of a format string: (offset, expression text).

    openjd-model ends an interpolation at the first ``}}`` after its ``{{``; this split
    is checked against the model's own (its literal runs and segment count), and None
    when they differ.
    """
    found: list[tuple[int, str]] = []
    literals: list[str] = []
    at = 0
    while (start := text.find("{{", at)) >= 0:
        end = text.find("}}", start + 2)
        if end < 0:
            return None
        literals.append(text[at:start])
        found.append((start, text[start + 2 : end]))
        at = end + 2
    literals.append(text[at:])
    try:
        model = rs.FormatString(text)
    except (ValueError, TypeError):
        return None
    mine = [run for run in literals if run]
    if model.literal_segments() != mine or model.segment_count() != len(mine) + len(found):
        return None
    return found


def _members(type_name: str) -> list[str]:
    """The alternatives of an expression type's text, without nullability or placeholder."""
    text = type_name.strip()
    if text.startswith("unresolved[") and text.endswith("]"):
        text = text[len("unresolved[") : -1]
    return [member.strip().rstrip("?") for member in text.split("|")]


def _textual(type_name: str) -> bool:
    """Whether a value of this type can hold text (a string, a path, a list of them)."""
    for member in _members(type_name):
        while member.startswith("list[") and member.endswith("]"):
            member = member[5:-1]
        if member in ("string", "path"):
            return True
    return False


def _is_list(type_name: str) -> bool:
    members = [m for m in _members(type_name) if m != "nulltype"]
    return bool(members) and all(m.startswith("list[") for m in members)


def _element(type_name: str) -> str | None:
    members = _members(type_name)
    if len(members) == 1 and members[0].startswith("list[") and members[0].endswith("]"):
        return members[0][5:-1]
    return None


Taint = frozenset[tuple[str, str | None, str]]
"""(source symbol, the repr_* function that quoted it or None, the let binding it came through)."""
_CLEAN: Taint = frozenset()


class _Scope:
    """The symbols of one script: their types, and the taint of its ``let`` bindings."""

    def __init__(self, template: Template, script: _Script, profile: rs.ExprProfile) -> None:
        self.profile = profile
        types: dict[str, str] = dict(_WRAPPED_TYPES)
        types |= {
            "Session.WorkingDirectory": "path",
            "Session.HasPathMappingRules": "bool",
            "Session.PathMappingRulesFile": "path",
        }
        for definition in template.document.get("parameterDefinitions") or []:
            kind = str(definition.get("type", ""))
            spec = rs.job_parameter_type_expr_spec(kind)
            if spec is None:
                continue
            name = definition.get("name")
            types[f"Param.{name}"] = spec
            types[f"RawParam.{name}"] = {"path": "string", "list[path]": "list[string]"}.get(spec, spec)
        self.generated: set[str] = set()
        """Symbols of text the runtime makes from numbers: a chunk's range (``1-5,7``)."""
        for definition in script.task_parameters:
            kind = str(definition.get("type", ""))
            spec = _TASK_TYPES.get(kind)
            if spec is not None:
                name = definition.get("name")
                types[f"Task.Param.{name}"] = spec
                types[f"Task.RawParam.{name}"] = "string" if spec == "path" else spec
                if kind.startswith("CHUNK["):
                    self.generated |= {f"Task.Param.{name}", f"Task.RawParam.{name}"}
        for embedded in script.body.get("embeddedFiles") or []:
            types[f"{script.files_symbol}.{embedded.get('name')}"] = "path"
        self.types = types
        self.values: dict[str, Any] = {name: rs.ExprValue.unresolved(t) for name, t in types.items()}
        self.lets: dict[str, Taint] = {}
        for binding in script.body.get("let") or []:
            self._bind(str(binding))

    def _bind(self, binding: str) -> None:
        match = _LET.match(binding)
        if match is None:
            return
        name, expression = match.group(1), match.group(2)
        taint = self.taint(expression)
        self.lets[name] = frozenset((src, quoted, via or name) for src, quoted, via in taint or ())
        value = self.evaluate(expression, {})
        if value is not None:
            self.values[name] = value

    def evaluate(self, expression: str, local: Mapping[str, Any]) -> Any:
        """The expression's value over unresolved placeholders (its type), or None."""
        try:
            return rs.evaluate_expression(expression, values={**self.values, **local}, profile=self.profile)
        except (ValueError, TypeError):
            return None

    def type_of(self, expression: str, local: Mapping[str, Any] | None = None) -> str | None:
        value = self.evaluate(expression, local or {})
        return None if value is None else str(value.type)

    def canonical(self, symbol: str) -> str:
        """The variable a symbol reads (``Task.Param.File.stem`` reads ``Task.Param.File``)."""
        parts = symbol.split(".")
        for end in range(len(parts), 1, -1):
            if ".".join(parts[:end]) in self.types:
                return ".".join(parts[:end])
        return ".".join(parts[:2]) if symbol.startswith(CONTROLLED[:2]) else ".".join(parts[:3])

    def source(self, symbol: str) -> bool:
        """Whether a user or a job controls the variable's value, and it can hold text."""
        if symbol in WRAPPED or symbol in NAMES:
            return True
        if not symbol.startswith(CONTROLLED) or symbol in self.generated:
            return False
        known = self.types.get(symbol)
        return known is None or _textual(known)  # a parameter of the job, seen from an env template

    def taint(self, expression: str) -> Taint | None:
        """What of the controlled values reaches the expression's value, and how quoted; None
        when openjd-model cannot parse it."""
        try:
            parsed = rs.parse_expression(expression)
        except (ValueError, TypeError):
            return None
        return _Taint(self, parsed, expression).result()


class _Taint:
    """Follows controlled values through one expression's tree."""

    def __init__(self, scope: _Scope, parsed: rs.ParsedExpression, expression: str) -> None:
        self.scope = scope
        self.symbols = parsed.accessed_symbols
        self.functions = parsed.called_functions
        self.source = "(" + expression.strip() + ")"  # parenthesized: newlines and leading spaces parse

    def result(self) -> Taint:
        try:
            tree = ast.parse(self.source, mode="eval")
        except (SyntaxError, ValueError):
            return self._without_tree()
        return self.visit(tree.body, {})

    def _without_tree(self) -> Taint:
        """Judged by symbols and functions alone: quoted when exactly one repr_* is called."""
        quoters = [f for f in QUOTERS.values() if f in self.functions]
        quoted = quoters[0] if len(quoters) == 1 else None
        return frozenset(item for symbol in self.symbols for item in self._symbol(symbol, quoted))

    def _symbol(self, symbol: str, quoted: str | None = None) -> Taint:
        if symbol in self.scope.lets:
            return frozenset((src, quoted or q, via) for src, q, via in self.scope.lets[symbol])
        variable = self.scope.canonical(symbol)
        if self.scope.source(variable):
            return frozenset({(variable, quoted, "")})
        return _CLEAN

    def visit(self, node: ast.expr, local: dict[str, tuple[Taint, Any]]) -> Taint:
        if isinstance(node, ast.Constant | ast.Compare):
            return _CLEAN  # a literal; a comparison is a bool
        if isinstance(node, ast.UnaryOp):
            return (
                _CLEAN
                if isinstance(node.op, ast.Not | ast.USub | ast.UAdd)
                else self.visit(node.operand, local)
            )
        dotted = _dotted(node)
        if dotted is not None:
            root = dotted.split(".", 1)[0]
            if root in local:
                return local[root][0]
            symbol = next((s for s in self.symbols if dotted == s or dotted.startswith(s + ".")), None)
            return self._symbol(symbol) if symbol is not None else _CLEAN
        if isinstance(node, ast.IfExp):  # the condition is a bool, not part of the value
            return self.visit(node.body, local) | self.visit(node.orelse, local)
        if isinstance(node, ast.Subscript):
            return self._typed(node, self.visit(node.value, local), local)
        if isinstance(node, ast.Call):
            return self._call(node, local)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            inner = self._comprehension(node.generators, local)
            return self._typed(node, self.visit(node.elt, inner), local)
        found: Taint = _CLEAN
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                found |= self.visit(child, local)
        return self._typed(node, found, local)

    def _call(self, node: ast.Call, local: dict[str, tuple[Taint, Any]]) -> Taint:
        found: Taint = _CLEAN
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            found |= self.visit(argument, local)
        if isinstance(node.func, ast.Attribute):  # a method: value.upper(), value.repr_sh()
            found |= self.visit(node.func.value, local)
            name = node.func.attr
        else:
            name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name in QUOTERS.values():
            return frozenset((src, name, via) for src, _, via in found)
        return self._typed(node, found, local)

    def _comprehension(
        self, generators: list[ast.comprehension], local: dict[str, tuple[Taint, Any]]
    ) -> dict[str, tuple[Taint, Any]]:
        """Each loop variable carries what its source carries (the filters are conditions)."""
        inner = dict(local)
        for generator in generators:
            taint = self.visit(generator.iter, inner)
            kind = self._type(generator.iter, inner)
            element = _element(kind) if kind else None
            value = rs.ExprValue.unresolved(element) if element else None
            targets = generator.target.elts if isinstance(generator.target, ast.Tuple) else [generator.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    inner[target.id] = (taint, value if len(targets) == 1 else None)
        return inner

    def _type(self, node: ast.expr, local: dict[str, tuple[Taint, Any]]) -> str | None:
        text = ast.get_source_segment(self.source, node)
        if text is None:
            return None
        typed = {name: value for name, (_, value) in local.items() if value is not None}
        if len(typed) != len(local):
            names = set(local) - set(typed)
            if any(re.search(rf"\b{re.escape(name)}\b", text) for name in names):
                return None  # reads a loop variable of unknown type
        return self.scope.type_of(text, typed)

    def _typed(self, node: ast.expr, found: Taint, local: dict[str, tuple[Taint, Any]]) -> Taint:
        """``found``, unless openjd-model types the node as something holding no text."""
        if not found:
            return found
        kind = self._type(node, local)
        return _CLEAN if kind is not None and not _textual(kind) else found


def _dotted(node: ast.expr) -> str | None:
    """``A.B.C`` for a plain chain of names, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


# ---------------------------------------------------------------- what an action runs


@dataclass(frozen=True)
class _Invocation:
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


def invocation(command: str, args: Sequence[str]) -> _Invocation | None:
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
        return _Invocation(
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
                return _Invocation("cmd", program, (*attached, *range(index + 1, len(args))))
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


def _shell(program: str, args: Sequence[str]) -> _Invocation:
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
        return _Invocation("sh", program)
    return _Invocation("sh", program, code=(index,)) if code else _Invocation("sh", program, script=index)


def _python(program: str, args: Sequence[str]) -> _Invocation | None:
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
                return _Invocation("python", program, code=(code,) if code < len(args) else ())
            if letter == "m":
                return None  # a module runs; no code string
            if letter in "WX":
                consumed = 1 if at + 1 < len(arg) else 2
                break
        index += consumed
    if index >= len(args) or args[index] == "-":
        return _Invocation("python", program)
    return _Invocation("python", program, script=index)


def _powershell(program: str, args: Sequence[str]) -> _Invocation | None:
    for index, arg in enumerate(args):
        word = arg.lower()
        if word in ("-c", "-command") or (len(word) >= 4 and "-command".startswith(word)):
            return _Invocation("pwsh", program, code=tuple(range(index + 1, len(args))))
        if word in ("-f", "-file"):
            return _Invocation("pwsh", program, script=index + 1) if index + 1 < len(args) else None
    return None


def _whole_field(text: str) -> str | None:
    """The expression of a field that is exactly one interpolation, else None."""
    parts = split_format(text)
    if parts is None or len(parts) != 1 or parts[0][0] != 0 or not text.endswith("}}"):
        return None
    return parts[0][1].strip() if len(parts[0][1]) + 4 == len(text) else None


def _shebang(data: str) -> str | None:
    """The interpreter a ``#!`` line names (``#!/usr/bin/env bash`` → bash)."""
    if not data.startswith("#!"):
        return None
    words = data[2:].split("\n", 1)[0].split()
    if not words:
        return None
    if _program(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-")]
    return words[0] if words else None


# ---------------------------------------------------------------- the rules


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


@dataclass
class _Linter:
    template: Template
    shown: str
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lines = _Lines(self.template.path)
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
        self.findings.append(Finding(self.shown, line, _place(path), message, suggestion))

    def run(self) -> None:
        for script in _scripts(self.template):
            scope = _Scope(self.template, script, self.profile)
            actions = script.body.get("actions") or {}
            for name, action in actions.items():
                if not isinstance(action, dict):
                    continue
                place = (*script.place, "actions", name)
                self.action(scope, script, place, action)
                if script.environment and name in HOOKS:
                    self.hook(place, action)

    # rules 1 and 3 over one action
    def action(
        self, scope: _Scope, script: _Script, place: tuple[str | int, ...], action: Mapping[str, Any]
    ) -> None:
        command = str(action.get("command", ""))
        args = [str(arg) for arg in action.get("args") or []]
        reported: set[tuple[int, int]] = set()  # (arg index, offset) rule 1 reported: rule 3 would repeat it
        found = invocation(command, args)
        if found is not None:
            for index in found.code:
                for offset in self.code(
                    scope, found, (*place, "args", index), args[index], len(found.code) == 1
                ):
                    reported.add((index, offset))
            if found.script is not None:
                self.script_file(scope, script, found.kind, found.program, args[found.script])
        elif (expression := _whole_field(command)) is not None:
            self.runnable(scope, script, expression)
        fields: list[tuple[tuple[str | int, ...], str, int]] = [((*place, "command"), command, -1)]
        fields += [((*place, "args", index), arg, index) for index, arg in enumerate(args)]
        for path, text, index in fields:
            self.lists(scope, path, text, {offset for i, offset in reported if i == index})

    def code(
        self,
        scope: _Scope,
        found: _Invocation,
        path: tuple[str | int, ...],
        text: str,
        alone: bool,
        data: str | None = None,
    ) -> list[int]:
        """Rule 1 over one code string (an arg, or an embedded file's data): the offsets reported."""
        parts = split_format(text)
        if parts is None:
            return []
        whole = alone and data is None and _whole_field(text) is not None
        quoter = QUOTERS[found.kind]
        how = f"a script run by {found.program}" if data is not None else _code_of(found)
        reported: list[int] = []
        for offset, expression in parts:
            taint = scope.taint(expression) or _CLEAN
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

    def script_file(self, scope: _Scope, script: _Script, kind: str, program: str, operand: str) -> None:
        """Rule 1 over the embedded file an interpreter runs: ``bash {{Task.File.X}}``."""
        expression = _whole_field(operand)
        prefix = script.files_symbol + "."
        if expression is None or not expression.startswith(prefix):
            return
        self.embedded(scope, script, expression[len(prefix) :], _Invocation(kind, program))

    def runnable(self, scope: _Scope, script: _Script, expression: str) -> None:
        """Rule 1 over an embedded file run as the command itself, by its ``#!`` line."""
        prefix = script.files_symbol + "."
        if not expression.startswith(prefix):
            return
        name = expression[len(prefix) :]
        for embedded in script.body.get("embeddedFiles") or []:
            if embedded.get("name") == name:
                interpreter = _shebang(str(embedded.get("data", "")))
                found = invocation(interpreter, []) if interpreter else None
                if found is not None:
                    self.embedded(scope, script, name, _Invocation(found.kind, found.program))

    def embedded(self, scope: _Scope, script: _Script, name: str, found: _Invocation) -> None:
        for index, embedded in enumerate(script.body.get("embeddedFiles") or []):
            if embedded.get("name") == name and isinstance(embedded.get("data"), str):
                path = (*script.place, "embeddedFiles", index, "data")
                self.code(scope, found, path, embedded["data"], False, data=embedded["data"])

    def lists(self, scope: _Scope, path: tuple[str | int, ...], text: str, skip: set[int]) -> None:
        """Rule 3: a list of the wrapped action inside a larger string."""
        parts = split_format(text)
        if parts is None or _whole_field(text) is not None:
            return
        for offset, expression in parts:
            if offset in skip:
                continue
            try:
                symbols = rs.parse_expression(expression).accessed_symbols
            except (ValueError, TypeError):
                continue
            named = sorted(s for s in symbols if s in LISTS)
            if not named:
                continue
            kind = scope.type_of(expression)
            if kind is None and expression.strip() not in LISTS or kind is not None and not _is_list(kind):
                continue
            expr = expression.strip()
            message = f'{" and ".join(named)} (a list) inside a larger string renders as ["a", "b"]'
            suggestion = (
                f'make it an argument of its own, "{{{{{expr}}}}}", '
                f"or quote it into the string with repr_sh({expr})"
            )
            self.warn(path, message, suggestion)

    # rule 2 over one wrap hook
    def hook(self, place: tuple[str | int, ...], action: Mapping[str, Any]) -> None:
        texts = [str(action.get("command", "")), *(str(a) for a in action.get("args") or [])]
        if "timeout" in action:
            texts.append(str(action["timeout"]))
        cancelation = action.get("cancelation")
        if isinstance(cancelation, dict):
            texts += [str(value) for value in cancelation.values()]
        symbols: set[str] = set()
        for text in texts:
            for _, expression in split_format(text) or []:
                try:
                    symbols |= rs.parse_expression(expression).accessed_symbols
                except (ValueError, TypeError):
                    continue
        bundle = "" if self.bundle else " (with extension FEATURE_BUNDLE_1)"
        if "WrappedAction.Environment" not in symbols and not _runs_wrapped_here(action):
            self.warn(
                place,
                "drops WrappedAction.Environment: the wrapped action does not get the variables "
                "the session defined",
                'forward them, e.g. as arguments "{{WrappedAction.Environment}}" or '
                "\"{{ flatten([['-e', e] for e in WrappedAction.Environment]) }}\"",
            )
        if "WrappedAction.Timeout" not in symbols:
            self.warn(
                place,
                "drops WrappedAction.Timeout: the wrapped action's timeout is not enforced",
                f'add timeout: "{{{{WrappedAction.Timeout}}}}"{bundle}, or pass it to the wrap script',
            )
        if not any(s.startswith("WrappedAction.Cancelation.") for s in symbols):
            self.warn(
                place,
                "drops WrappedAction.Cancelation: the wrapped action's cancelation mode and "
                "notify period are lost",
                'add cancelation: {mode: "{{WrappedAction.Cancelation.Mode}}", notifyPeriodInSeconds: '
                f'"{{{{WrappedAction.Cancelation.NotifyPeriodInSeconds}}}}"}}{bundle}, '
                "or pass them to the wrap script",
            )


def _code_of(found: _Invocation) -> str:
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
    if _whole_field(command) == "WrappedAction.Command":
        return True
    args = [str(arg) for arg in action.get("args") or []]
    found = invocation(command, args)
    if found is None or found.kind != "sh" or len(found.code) != 1:
        return False
    positional = args[found.code[0] + 1 :]
    code = args[found.code[0]]
    return any(_whole_field(arg) == "WrappedAction.Command" for arg in positional) and bool(
        _RUNS_ARGV.search(code)
    )
