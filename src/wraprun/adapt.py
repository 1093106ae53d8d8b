"""The official runtime's inputs, turned into the compiled openjd-model objects wraprun runs.

A worker written against openjd-sessions passes job-side pydantic models
(``openjd.model.v2023_09.Environment`` and ``StepScript``), ``ParameterValue``
objects and openjd-sessions' ``PathMappingRule``. They are read here by their
fields alone, so neither pydantic nor openjd-sessions is imported; wraprun's
own compiled objects pass through unchanged. Validation and expressions stay
openjd-model's: an environment is decoded as an environment template whose
parameters are the session's job parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .model import Environment, StepScript, TaskParameters, rs
from .templates import SUPPORTED_EXTENSIONS

ParameterValues = dict[str, tuple[str, rs.ExprValue]]
"""Job parameters as (type name, typed value): what :func:`wraprun.symbols.parameters` reads."""


def type_name(kind: Any) -> str:
    """'PATH', 'LIST[INT]', ... from an enum member (its value) or a compiled type (its text)."""
    return str(getattr(kind, "value", kind))


def _expr_value(kind: str, value: Any) -> rs.ExprValue:
    if isinstance(value, rs.ExprValue):
        return value
    if kind == "INT":
        return rs.ExprValue(int(value))
    if kind == "FLOAT":
        return rs.ExprValue.from_float(float(value), original_str=str(value))
    if kind == "BOOL":
        return rs.ExprValue(value if isinstance(value, bool) else _truth(str(value)))
    if kind.startswith("LIST["):
        return rs.ExprValue(list(value), kind.lower())
    if kind == "RANGE_EXPR":
        return rs.ExprValue(str(value), "range_expr")
    return rs.ExprValue(str(value))  # STRING, PATH (mapped later)


_TRUTH = dict.fromkeys(("true", "yes", "on", "1"), True) | dict.fromkeys(("false", "no", "off", "0"), False)


def _truth(text: str) -> bool:
    try:
        return _TRUTH[text.lower()]
    except KeyError:
        raise ValueError(f"not a BOOL value: {text!r}") from None


def job_parameters(values: Mapping[str, Any] | None) -> ParameterValues:
    """Parameter values with a ``type`` and a ``value`` (a plain string is a STRING)."""
    out: ParameterValues = {}
    for name, item in (values or {}).items():
        if isinstance(item, rs.JobParameterValue):  # .value is text (a list's too); item() is native
            kind = type_name(item.type)
            out[name] = (kind, _expr_value(kind, item.item() if kind.startswith("LIST[") else item.value))
        elif hasattr(item, "type") and hasattr(item, "value"):
            kind = type_name(item.type)
            out[name] = (kind, _expr_value(kind, item.value))
        else:
            out[name] = ("STRING", rs.ExprValue(str(item)))
    return out


def task_parameters(values: Mapping[str, Any] | None) -> TaskParameters:
    out: TaskParameters = {}
    for name, item in (values or {}).items():
        if isinstance(item, rs.TaskParameterValue):
            out[name] = item
            continue
        kind = type_name(item.type).replace("[", "_").replace("]", "")
        out[name] = rs.TaskParameterValue(type=getattr(rs.TaskParameterType, kind), value=str(item.value))
    return out


def path_mapping_rules(rules: Iterable[Any] | None) -> list[rs.PathMappingRule]:
    out = []
    for rule in rules or ():
        if isinstance(rule, rs.PathMappingRule):
            out.append(rule)
        elif hasattr(rule, "to_dict"):
            out.append(rs.PathMappingRule.from_dict(rule.to_dict()))
        else:
            out.append(rs.PathMappingRule.from_dict(dict(rule)))
    return out


def _dump(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True, by_alias=True)
    return dumped


def environment(env: Any, parameters: ParameterValues) -> Environment:
    """A compiled environment as is; a pydantic one decoded in a template of the job's parameters."""
    if isinstance(env, (rs.TemplateEnvironment, rs.Environment)):
        return env
    document = {
        "specificationVersion": "environment-2023-09",
        "extensions": list(SUPPORTED_EXTENSIONS),
        "parameterDefinitions": [{"name": name, "type": kind} for name, (kind, _) in parameters.items()],
        "environment": _dump(env),
    }
    if not document["parameterDefinitions"]:
        del document["parameterDefinitions"]
    template = rs.decode_environment_template(document, supported_extensions=list(SUPPORTED_EXTENSIONS))
    return template.environment


def _format(text: Any) -> rs.FormatString | None:
    return None if text is None else rs.FormatString(str(text))


def _action(data: dict[str, Any]) -> rs.TemplateAction:
    cancel = data.get("cancelation")
    mode = None
    if cancel is not None:
        mode = rs.TemplateCancelationMode(
            mode=cancel["mode"], notify_period_in_seconds=_format(cancel.get("notifyPeriodInSeconds"))
        )
    return rs.TemplateAction(
        command=rs.FormatString(data["command"]),
        args=[rs.FormatString(arg) for arg in data.get("args", [])] or None,
        timeout=_format(data.get("timeout")),
        cancelation=mode,
    )


def step_script(script: Any) -> StepScript:
    """A compiled step script as is; a pydantic one rebuilt field by field (it was validated
    with its job, and a step script has no parts that need the template decoder)."""
    if isinstance(script, (rs.StepScript, rs.TemplateStepScript)):
        return script
    data = _dump(script)
    files = [
        rs.TemplateEmbeddedFile(
            name=f["name"],
            type=f["type"],
            filename=f.get("filename"),
            data=_format(f.get("data")),
            runnable=f.get("runnable"),
            end_of_line=f.get("endOfLine"),
        )
        for f in data.get("embeddedFiles", [])
    ]
    return rs.TemplateStepScript(
        actions=rs.TemplateStepActions(on_run=_action(data["actions"]["onRun"])),
        embedded_files=files or None,
        let=data.get("let"),
    )


def profile(rules: list[rs.PathMappingRule]) -> rs.ExprProfile:
    """The expression profile of a session's actions: every supported extension, and the
    session's rules for ``apply_path_mapping``."""
    model = rs.ModelProfile.from_strings(rs.SpecificationRevision.v2023_09, list(SUPPORTED_EXTENSIONS))
    return model.to_expr_profile(rs.HostContext.with_rules(rules))
