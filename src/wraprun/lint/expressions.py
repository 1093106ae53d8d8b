"""What a template's expressions read, and whether each controlled value sits inside the
interpreter's quoting function.

Expressions are openjd-model's: it parses them (the symbols an expression reads) and
types them (each evaluated over unresolved placeholders of the symbols' types).
Python's own parser supplies the tree of an expression, to tell where a symbol sits
(inside which call, in a condition, as a comprehension's source); an expression it
cannot parse is judged by its symbols and functions alone. Limit: quoting by hand
(``'{{Param.X}}'``) or with a function that is not the interpreter's counts as raw.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from ..model import rs
from ..templates import Template
from .document import Script

QUOTERS = {"sh": "repr_sh", "python": "repr_py", "cmd": "repr_cmd", "pwsh": "repr_pwsh"}
"""The function that quotes a value for each kind of interpreter (RFC 0006, in openjd-model)."""
CONTROLLED = ("Param.", "RawParam.", "Task.Param.", "Task.RawParam.")
WRAPPED = ("WrappedAction.Command", "WrappedAction.Args", "WrappedAction.Environment")
NAMES = ("WrappedEnv.Name", "WrappedStep.Name")

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
_LET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)(.*)$", re.DOTALL)


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


def whole_field(text: str) -> str | None:
    """The expression of a field that is exactly one interpolation, else None."""
    parts = split_format(text)
    if parts is None or len(parts) != 1 or parts[0][0] != 0 or not text.endswith("}}"):
        return None
    return parts[0][1].strip() if len(parts[0][1]) + 4 == len(text) else None


def symbols_of(expression: str) -> set[str]:
    """The symbols an expression reads; none when openjd-model cannot parse it."""
    try:
        return rs.parse_expression(expression).accessed_symbols
    except (ValueError, TypeError):
        return set()


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


def is_list(type_name: str) -> bool:
    members = [m for m in _members(type_name) if m != "nulltype"]
    return bool(members) and all(m.startswith("list[") for m in members)


def _element(type_name: str) -> str | None:
    members = _members(type_name)
    if len(members) == 1 and members[0].startswith("list[") and members[0].endswith("]"):
        return members[0][5:-1]
    return None


Taint = frozenset[tuple[str, str | None, str]]
"""(source symbol, the repr_* function that quoted it or None, the let binding it came through)."""
CLEAN: Taint = frozenset()


class Scope:
    """The symbols of one script: their types, and the taint of its ``let`` bindings."""

    def __init__(self, template: Template, script: Script, profile: rs.ExprProfile) -> None:
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

    def __init__(self, scope: Scope, parsed: rs.ParsedExpression, expression: str) -> None:
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
        return CLEAN

    def visit(self, node: ast.expr, local: dict[str, tuple[Taint, Any]]) -> Taint:
        if isinstance(node, ast.Constant | ast.Compare):
            return CLEAN  # a literal; a comparison is a bool
        if isinstance(node, ast.UnaryOp):
            return (
                CLEAN
                if isinstance(node.op, ast.Not | ast.USub | ast.UAdd)
                else self.visit(node.operand, local)
            )
        dotted = _dotted(node)
        if dotted is not None:
            root = dotted.split(".", 1)[0]
            if root in local:
                return local[root][0]
            symbol = next((s for s in self.symbols if dotted == s or dotted.startswith(s + ".")), None)
            return self._symbol(symbol) if symbol is not None else CLEAN
        if isinstance(node, ast.IfExp):  # the condition is a bool, not part of the value
            return self.visit(node.body, local) | self.visit(node.orelse, local)
        if isinstance(node, ast.Subscript):
            return self._typed(node, self.visit(node.value, local), local)
        if isinstance(node, ast.Call):
            return self._call(node, local)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            inner = self._comprehension(node.generators, local)
            return self._typed(node, self.visit(node.elt, inner), local)
        found: Taint = CLEAN
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                found |= self.visit(child, local)
        return self._typed(node, found, local)

    def _call(self, node: ast.Call, local: dict[str, tuple[Taint, Any]]) -> Taint:
        found: Taint = CLEAN
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
        return CLEAN if kind is not None and not _textual(kind) else found


def _dotted(node: ast.expr) -> str | None:
    """``A.B.C`` for a plain chain of names, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])
