"""wraprun as a session runtime of the Deadline Cloud worker agent (``pip install wraprun[deadline]``).

The agent (``deadline-cloud-worker-agent``) drives every session through its
abstract ``SessionRuntime``; :class:`WraprunSessionRuntime` implements it over
:class:`wraprun.nonblocking.NonBlockingSession`. It takes the agent's
``SessionRuntimeConfig`` and models as they are, reports through the agent's
callback with openjd-sessions' ``ActionStatus``, and logs action output to the
``openjd.sessions`` logger with the ``session_id`` and ``openjd_log_content``
fields the agent's log routing filters on.

To make a worker use it, run ``wraprun-deadline-worker-agent`` (the same options
as ``deadline-worker-agent``): it starts the agent with wraprun in place of the
Python runtime. In code, :func:`use_wraprun` does the same and returns an undo.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from deadline_worker_agent.sessions import session as agent_session
from deadline_worker_agent.sessions.runtime import (
    SessionRuntime,
    SessionRuntimeConfig,
    SessionRuntimeKind,
    _factory,
)
from openjd.sessions import LOG, ActionState, ActionStatus, LogContent

from .. import events
from ..model import rs
from ..nonblocking import ActionStatus as WraprunStatus
from ..nonblocking import NonBlockingSession

__all__ = ["WraprunSessionRuntime", "main", "use_wraprun"]


def _job_name(resolved: str | None) -> str | None:
    """Job.Name from the first action's resolved symbol table, as the agent's runtimes read it."""
    if resolved is None:
        return None
    try:
        table = rs.SerializedSymbolTable.from_json_str(resolved).to_symtab()
        value = table["Job.Name"].item() if "Job.Name" in table.symbols else None
    except (ValueError, KeyError):
        return None
    return value if isinstance(value, str) else None


class WraprunSessionRuntime(SessionRuntime):
    """The worker agent's session runtime, run by wraprun."""

    def __init__(self, config: SessionRuntimeConfig) -> None:
        self._report = config.action_callback
        self._session_id = config.session_id
        self._session = NonBlockingSession(
            session_id=config.session_id,
            job_parameter_values=config.job_parameter_values,
            path_mapping_rules=config.path_mapping_rules,
            retain_working_dir=config.retain_working_dir,
            callback=self._relay,
            os_env_vars=config.os_env_vars,
            session_root_directory=config.session_root_directory,
            user=config.user,
            job_name=_job_name(config.resolved_symbol_table_json),
            on_event=self._log,
        )

    # --- the agent's calls --------------------------------------------------------------------

    def enter_environment(
        self,
        *,
        environment: Any,
        identifier: str | None = None,
        os_env_vars: dict[str, str] | None = None,
        resolved_symbol_table_json: str | None = None,
        step_name: str | None = None,
        step_let_declarations: list[str] | None = None,
    ) -> str:
        # step_let_declarations: their values arrive in the resolved table; nothing is re-decoded.
        return self._session.enter_environment(
            environment=environment,
            identifier=identifier,
            os_env_vars=os_env_vars,
            step_name=step_name,
            resolved_symbols=resolved_symbol_table_json,
        )

    def exit_environment(
        self,
        *,
        identifier: str,
        os_env_vars: dict[str, str] | None = None,
        keep_session_running: bool = False,
        resolved_symbol_table_json: str | None = None,
    ) -> None:
        # onExit resolves in the scope its environment was entered with.
        self._session.exit_environment(
            identifier=identifier, os_env_vars=os_env_vars, keep_session_running=keep_session_running
        )

    def run_task(
        self,
        *,
        step_script: Any,
        task_parameter_values: dict[str, Any],
        os_env_vars: dict[str, str] | None = None,
        log_task_banner: bool = True,
        step_name: str | None = None,
        resolved_symbol_table_json: str | None = None,
    ) -> None:
        self._session.run_task(
            step_script=step_script,
            task_parameter_values=task_parameter_values,
            os_env_vars=os_env_vars,
            step_name=step_name,
            resolved_symbols=resolved_symbol_table_json,
        )

    def _run_task_without_session_env(
        self,
        *,
        step_script: Any,
        task_parameter_values: dict[str, Any],
        os_env_vars: dict[str, str] | None = None,
        log_task_banner: bool = True,
        step_name: str | None = None,
    ) -> None:
        self._session.run_task(
            step_script=step_script,
            task_parameter_values=task_parameter_values,
            os_env_vars=os_env_vars,
            step_name=step_name,
            isolated=True,
        )

    def extend_path_mapping_rules(self, rules: list[Any]) -> None:
        self._session.extend_path_mapping_rules(rules)

    def cancel_action(self, *, time_limit: timedelta | None = None, mark_action_failed: bool = False) -> None:
        self._session.cancel_action(time_limit=time_limit, mark_action_failed=mark_action_failed)

    def cleanup(self) -> None:
        self._session.cleanup()

    @property
    def working_directory(self) -> Path:
        return self._session.working_directory

    @property
    def action_status(self) -> ActionStatus | None:
        status = self._session.action_status
        return None if status is None else _official(status)

    # --- to the agent -------------------------------------------------------------------------

    def _relay(self, session_id: str, status: WraprunStatus) -> None:
        self._report(session_id, _official(status))

    def _log(self, event: events.Event) -> None:
        def log(level: int, content: LogContent, message: str, *args: object) -> None:
            extra = {"session_id": self._session_id, "openjd_log_content": content}
            LOG.log(level, message, *args, extra=extra)

        if isinstance(event, events.ActionOutput):
            for line in event.data.decode("utf-8", "backslashreplace").splitlines():
                log(logging.INFO, LogContent.COMMAND_OUTPUT, "%s", line)
        elif isinstance(event, events.ActionStarted):
            log(logging.INFO, LogContent.BANNER, "==== %s ====", event.label)
        elif isinstance(event, events.ActionEnded):
            log(logging.INFO, LogContent.PROCESS_CONTROL, "%s: %s", event.label, event.state)
        elif isinstance(event, events.SessionMessage):
            log(logging.WARNING, LogContent.PROCESS_CONTROL, "%s", event.text)


def _official(status: WraprunStatus) -> ActionStatus:
    return ActionStatus(
        state=ActionState(status.state.value),
        progress=status.progress,
        status_message=status.status_message,
        fail_message=status.fail_message,
        exit_code=status.exit_code,
    )


def use_wraprun() -> Callable[[], None]:
    """Make the agent build a :class:`WraprunSessionRuntime` where it would build its Python
    runtime (the ``python`` kind). Returns a function that puts the agent back."""
    original = _factory.create_session_runtime

    def create(kind: SessionRuntimeKind, config: SessionRuntimeConfig) -> SessionRuntime:
        if kind is SessionRuntimeKind.PYTHON:
            return WraprunSessionRuntime(config)
        return original(kind, config)

    agent_session.create_session_runtime = create
    _factory.create_session_runtime = create

    def undo() -> None:
        agent_session.create_session_runtime = original
        _factory.create_session_runtime = original

    return undo


def main() -> None:
    """``wraprun-deadline-worker-agent``: the worker agent, with wraprun as its Python runtime."""
    from deadline_worker_agent import entrypoint

    use_wraprun()
    entrypoint()
