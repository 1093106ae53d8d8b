"""RFC 0008 WRAP_ACTIONS as a pure transform.

Given the session's environment stack, find the one wrapping environment and
enforce the session-level rule (at most one). Given a resolved inner action,
produce the ``WrappedAction.*`` / ``WrappedEnv.*`` / ``WrappedStep.*`` values a
wrap hook resolves against. Nothing here starts a process.

Template-level rules (all-or-nothing, EXPR prerequisite, extension gating,
the variable scope rule) are enforced by openjd-model when templates are
decoded; see :mod:`wraprun.templates`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .actions import NOTIFY_THEN_TERMINATE, ResolvedAction
from .errors import WraprunError
from .events import ActionKind
from .model import Environment, rs

HOOKS: tuple[ActionKind, ...] = ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")
HOOK_FOR: dict[ActionKind, ActionKind] = {
    "onEnter": "onWrapEnvEnter",
    "onRun": "onWrapTaskRun",
    "onExit": "onWrapEnvExit",
}
"""Which hook runs in place of which inner action."""


class WrapError(WraprunError, ValueError):
    """A session stack that RFC 0008 does not allow."""


def defines_wrap_hooks(environment: Environment) -> bool:
    """True when the (template-side) environment defines any wrap hook."""
    script = environment.script
    if script is None:
        return False
    actions = script.actions
    return any(getattr(actions, hook, None) is not None for hook in HOOKS)


def find_wrapper(stack: Sequence[tuple[str, Environment]]) -> int | None:
    """Index of the wrapping environment in ``stack`` of (origin, environment).

    Raises WrapError naming both environments when two of them define hooks:
    "A session MUST have at most one wrapping environment."
    """
    found: int | None = None
    for index, (origin, environment) in enumerate(stack):
        if not defines_wrap_hooks(environment):
            continue
        if found is not None:
            first_origin, first = stack[found]
            raise WrapError(
                f"two environments in one session define wrap hooks: "
                f"'{first.name}' ({first_origin}) and '{environment.name}' ({origin}); "
                "RFC 0008 allows at most one wrapping environment per session"
            )
        found = index
    return found


def wrapped_symbols(
    inner: ResolvedAction,
    environment: Sequence[str],
    *,
    env_name: str | None = None,
    step_name: str | None = None,
) -> dict[str, rs.ExprValue]:
    """The read-only variables a wrap hook sees for ``inner`` (RFC 0008 Template variables).

    ``environment`` is the session-defined ``KEY=value`` list, snapshotted by
    the caller before the wrapped action runs.
    """
    notify = inner.notify_period if inner.declared_mode == NOTIFY_THEN_TERMINATE else None
    values: dict[str, rs.ExprValue] = {
        "WrappedAction.Command": rs.ExprValue(inner.argv[0]),
        "WrappedAction.Args": rs.ExprValue(list(inner.argv[1:]), "list[string]"),
        "WrappedAction.Environment": rs.ExprValue(list(environment), "list[string]"),
        "WrappedAction.Timeout": _nullable(inner.declared_timeout, "int?"),
        "WrappedAction.Cancelation.Mode": _nullable(inner.declared_mode, "string?"),
        "WrappedAction.Cancelation.NotifyPeriodInSeconds": _nullable(notify, "int?"),
    }
    if env_name is not None:
        values["WrappedEnv.Name"] = rs.ExprValue(env_name)
    if step_name is not None:
        values["WrappedStep.Name"] = rs.ExprValue(step_name)
    return values


def _nullable(value: object, type_name: str) -> rs.ExprValue:
    """A typed null when absent, so ``or`` and whole-field null semantics work (RFC 0008)."""
    return rs.ExprValue(None, type_name) if value is None else rs.ExprValue(value)
