"""A session a render-farm worker drives without blocking, shaped like ``openjd.sessions.Session``.

Each of :meth:`~NonBlockingSession.enter_environment`,
:meth:`~NonBlockingSession.exit_environment` and :meth:`~NonBlockingSession.run_task`
checks the session's state, starts one action and returns at once. The action
runs on a thread the session owns, through the same :class:`wraprun.session.Session`
the command line uses (this module adds no second way of running anything), and
its status reaches ``callback(session_id, ActionStatus)`` from that thread: when
its process starts, on every progress, status and fail message, and when it ends.

States follow openjd-sessions: READY; RUNNING while an action runs (CANCELING
once asked to stop); after a failed, canceled or timed-out action, or once
environments are being exited, READY_ENDING, where only exits are allowed;
ENDED after :meth:`~NonBlockingSession.cleanup`.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from . import adapt, events, wrap
from . import symbols as symbols_of
from .actions import Scope
from .model import rs
from .session import ActionResult, Session, SessionStateError


class SessionState(str, Enum):
    READY = "ready"
    RUNNING = "running"
    CANCELING = "canceling"
    READY_ENDING = "ready_ending"
    ENDED = "ended"


class ActionState(str, Enum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMEOUT = "timeout"


_ACTION_STATES = {
    "RUNNING": ActionState.RUNNING,
    "SUCCEEDED": ActionState.SUCCESS,
    "FAILED": ActionState.FAILED,
    "CANCELED": ActionState.CANCELED,
    "TIMEOUT": ActionState.TIMEOUT,
}


@dataclass(frozen=True)
class ActionStatus:
    state: ActionState
    progress: float | None = None
    status_message: str | None = None
    fail_message: str | None = None
    exit_code: int | None = None

    @classmethod
    def of(cls, result: ActionResult) -> ActionStatus:
        return cls(
            _ACTION_STATES[result.state],
            result.progress,
            result.status_message,
            result.fail_message or None,
            result.exit_code,
        )


SessionCallback = Callable[[str, ActionStatus], None]

logger = logging.getLogger("wraprun.session")


class NonBlockingSession:
    def __init__(
        self,
        *,
        session_id: str,
        job_parameter_values: Mapping[str, Any] | None = None,
        path_mapping_rules: Iterable[Any] | None = None,
        retain_working_dir: bool = False,
        callback: SessionCallback | None = None,
        os_env_vars: Mapping[str, str] | None = None,
        session_root_directory: str | os.PathLike[str] | None = None,
        user: Any = None,
        group: str | None = None,
        job_name: str | None = None,
        on_event: events.EventCallback | None = None,
    ) -> None:
        """``job_parameter_values`` and ``path_mapping_rules`` may be openjd-model's and
        openjd-sessions' objects or wraprun's. ``user`` (a name, or openjd-sessions'
        ``PosixSessionUser``) runs every action as that POSIX user through ``sudo``, sharing
        the session directory with ``group`` (default: the user's primary group).
        ``on_event`` receives the session's events (action output among them); by default
        they are logged to the ``wraprun.session`` logger with ``session_id`` as an extra field."""
        self.session_id = session_id
        self._callback = callback
        self._on_event = on_event or self._log
        self._parameters = adapt.job_parameters(job_parameter_values)
        self._job_name = job_name
        root = None if session_root_directory is None else os.fspath(session_root_directory)
        self._core = Session(
            callback=self._event,
            on_status=self._changed,
            path_mapping_rules=adapt.path_mapping_rules(path_mapping_rules),
            os_env={**os.environ, **(os_env_vars or {})},
            root=root,
            retain_working_directory=retain_working_dir,
            user=getattr(user, "user", user),
            group=group or getattr(user, "group", None),
        )
        self._scopes: dict[tuple[str | None, str | None], Scope] = {}
        self._converted: dict[int, tuple[Any, Any]] = {}
        self._lock = threading.Lock()
        self._state = SessionState.READY
        self._status: ActionStatus | None = None
        self._entered: list[str] = []
        self._wrapping: str | None = None
        self._ending_only = False
        self._idle = threading.Event()
        self._idle.set()
        self._work: queue.SimpleQueue[Callable[[], object] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=f"wraprun-{session_id}", daemon=True)
        self._thread.start()

    # --- what the worker reads ----------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def action_status(self) -> ActionStatus | None:
        """The running or last action's status; None before the first action."""
        return self._status

    @property
    def environments_entered(self) -> tuple[str, ...]:
        return tuple(self._entered)

    @property
    def working_directory(self) -> Path:
        return Path(self._core.working_directory)

    @property
    def files_directory(self) -> Path:
        return Path(self._core.files_directory)

    # --- actions ------------------------------------------------------------------------------

    def enter_environment(
        self,
        *,
        environment: Any,
        identifier: str | None = None,
        os_env_vars: Mapping[str, str] | None = None,
        step_name: str | None = None,
        resolved_symbols: str | None = None,
    ) -> str:
        """Start entering ``environment``; returns the identifier to exit it by.

        ``resolved_symbols``: a serialized symbol table from job creation (openjd-model's
        ``Step.resolved_symtab``, as JSON) whose values seed the environment's scope.
        Raises :class:`SessionStateError` (a RuntimeError) unless READY, for an identifier
        already entered, or for a second environment that defines wrap hooks (RFC 0008).
        """
        env = self._convert(environment, lambda: adapt.environment(environment, self._parameters))
        scope = self._scope(step_name, resolved_symbols)
        with self._lock:
            self._require(SessionState.READY, "enter an environment")
            if identifier is None:
                identifier = f"{self.session_id}:{len(self._entered)}:{env.name}"
            if identifier in self._entered:
                raise SessionStateError(f"environment {identifier!r} is already entered in this session")
            if wrap.defines_wrap_hooks(env):
                if self._wrapping is not None:
                    raise SessionStateError(
                        f"cannot enter '{env.name}': '{self._wrapping}' already defines wrap hooks; "
                        "RFC 0008 allows one wrapping environment per session"
                    )
                self._wrapping = identifier
            self._entered.append(identifier)
            self._start(lambda: self._core.enter_environment(env, scope, os_env=os_env_vars))
        return identifier

    def exit_environment(
        self,
        *,
        identifier: str,
        os_env_vars: Mapping[str, str] | None = None,
        keep_session_running: bool = False,
    ) -> None:
        """Start exiting the innermost environment, which must be ``identifier``.

        Unless ``keep_session_running``, only exits are allowed afterwards.
        """
        with self._lock:
            if self._state not in (SessionState.READY, SessionState.READY_ENDING):
                state = self._state.value
                raise SessionStateError(f"cannot exit an environment while the session is {state}")
            if identifier not in self._entered:
                raise SessionStateError(f"cannot exit unknown environment {identifier!r}")
            if self._entered[-1] != identifier:
                raise SessionStateError(f"cannot exit {identifier!r}: exit {self._entered[-1]!r} first")
            if not keep_session_running:
                self._ending_only = True
            self._entered.pop()
            if self._wrapping == identifier:
                self._wrapping = None
            self._start(lambda: self._core.exit_environment(os_env=os_env_vars))

    def run_task(
        self,
        *,
        step_script: Any,
        task_parameter_values: Mapping[str, Any] | None = None,
        os_env_vars: Mapping[str, str] | None = None,
        step_name: str | None = None,
        log_task_banner: bool = True,
        resolved_symbols: str | None = None,
        isolated: bool = False,
    ) -> None:
        """Start one task: its onRun, or the wrapping environment's onWrapTaskRun.

        ``isolated``: outside the entered environments (no wrap hook, none of their
        variables). ``log_task_banner`` is accepted for openjd-sessions' callers; the
        task's start is always an event.
        """
        script = self._convert(step_script, lambda: adapt.step_script(step_script))
        params = adapt.task_parameters(task_parameter_values)
        scope = self._scope(step_name, resolved_symbols)
        with self._lock:
            self._require(SessionState.READY, "run a task")
            name = step_name or "task"
            self._start(
                lambda: self._core.run_task(
                    name, script, scope, params, os_env=os_env_vars, isolated=isolated
                )
            )

    def cancel_action(self, *, time_limit: timedelta | None = None, mark_action_failed: bool = False) -> None:
        """Cancel the running action by its cancelation method, within ``time_limit`` when
        given (zero: terminate now). Safe from any thread."""
        with self._lock:
            if self._state not in (SessionState.RUNNING, SessionState.CANCELING):
                raise SessionStateError("no action is running")
            self._state = SessionState.CANCELING
            limit = None if time_limit is None else max(0.0, time_limit.total_seconds())
            self._core.cancel_action(grace_limit=limit, mark_failed=mark_action_failed)

    def extend_path_mapping_rules(self, rules: Iterable[Any]) -> None:
        """More rules, for the actions that start from now on."""
        converted = adapt.path_mapping_rules(rules)
        with self._lock:
            self._core.add_path_mapping_rules(converted)
            self._scopes.clear()

    def wait(self, timeout: float | None = None) -> ActionStatus | None:
        """Block until no action runs (or ``timeout`` passes); the last action's status."""
        self._idle.wait(timeout)
        return self._status

    def cleanup(self) -> None:
        """End the session: kill a running action, remove the working directory (unless retained)."""
        with self._lock:
            if self._state is SessionState.ENDED:
                return
            if self._state in (SessionState.RUNNING, SessionState.CANCELING):
                self._core.cancel(force=True)
            self._state = SessionState.ENDED
            self._work.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def __enter__(self) -> NonBlockingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # --- inside -------------------------------------------------------------------------------

    def _require(self, state: SessionState, what: str) -> None:
        if self._state is not state:
            raise SessionStateError(f"cannot {what} while the session is {self._state.value}")

    def _start(self, work: Callable[[], object]) -> None:
        """Under the lock: a cancel from now on is for this action."""
        self._core.arm()
        self._state = SessionState.RUNNING
        self._status = ActionStatus(ActionState.RUNNING)
        self._idle.clear()
        self._work.put(work)

    def _serve(self) -> None:
        while True:
            work = self._work.get()
            if work is None:
                self._core.close()
                self._idle.set()
                return
            try:
                work()
            except Exception as exc:  # a bug or a broken model: the action fails, the session goes on
                logger.exception("wraprun session %s: action failed to run", self.session_id)
                if self._state in (SessionState.RUNNING, SessionState.CANCELING):
                    self._changed(ActionResult("FAILED", fail_message=f"{type(exc).__name__}: {exc}"))
            with self._lock:  # atomic with _start: a call landing now keeps the session busy
                if self._work.empty():
                    self._idle.set()

    def _changed(self, result: ActionResult) -> None:
        """The core's status of the running action (on the session's thread)."""
        status = ActionStatus.of(result)
        with self._lock:
            self._status = status
            if status.state is not ActionState.RUNNING and self._state is not SessionState.ENDED:
                ending = self._ending_only or status.state is not ActionState.SUCCESS
                self._state = SessionState.READY_ENDING if ending else SessionState.READY
        if self._callback is not None:
            try:
                self._callback(self.session_id, status)
            except Exception:
                logger.exception("wraprun session %s: the callback raised", self.session_id)

    def _convert(self, model: Any, make: Callable[[], Any]) -> Any:
        """Models repeat (the same step script for every task): each is converted once."""
        cached = self._converted.get(id(model))
        if cached is None or cached[0] is not model:
            cached = self._converted[id(model)] = (model, make())
        return cached[1]

    def _scope(self, step_name: str | None, resolved: str | None) -> Scope:
        """The job's symbols: the resolved table first, the session's own values over it."""
        key = (step_name, resolved)
        scope = self._scopes.get(key)
        if scope is None:
            symbols: dict[str, rs.ExprValue] = {}
            if resolved is not None:
                table = rs.SerializedSymbolTable.from_json_str(resolved).to_symtab()
                symbols.update((name, table[name]) for name in table.symbols)
            if self._job_name is not None:
                symbols["Job.Name"] = rs.ExprValue(self._job_name)
            symbols.update(symbols_of.parameters(self._parameters, self._core.map_path))
            if step_name is not None:
                symbols["Step.Name"] = rs.ExprValue(step_name)
            profile = adapt.profile(list(self._core.map_path.rules))
            scope = self._scopes[key] = Scope(symbols, profile)
        return scope

    def _event(self, event: events.Event) -> None:
        self._on_event(event)

    def _log(self, event: events.Event) -> None:
        extra = {"session_id": self.session_id}
        if isinstance(event, events.ActionOutput):
            for line in event.data.decode("utf-8", "backslashreplace").splitlines():
                logger.info(line, extra=extra)
        elif isinstance(event, events.ActionStarted):
            logger.info("--- %s", event.label, extra=extra)
        elif isinstance(event, events.ActionEnded):
            logger.info("--- %s: %s", event.label, event.state, extra=extra)
        elif isinstance(event, events.SessionMessage):
            logger.warning(event.text, extra=extra)
