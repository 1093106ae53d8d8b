"""A Session: the environment stack, the lifecycle of its actions, and their state.

This is the public Python API a render-farm worker drives:

    session = Session(callback=print)
    session.enter_environment(env, scope)       # onEnter (or the wrap hook)
    session.run_task("Render", script, scope, task_parameters)
    session.exit_environment()                  # innermost first
    session.close()

Each call runs one action to completion in the calling thread and returns
its :class:`ActionResult`; :meth:`Session.cancel` may be called from any
other thread or a signal handler. The session decides what runs (wrap hooks
in place of inner actions, RFC 0008) and what macros mean; pipes, signals and
process trees are :mod:`wraprun.process`'s business.
"""

from __future__ import annotations

import dataclasses
import datetime
import grp
import json
import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from . import actions, environ, events, macros, process, wrap
from . import symbols as symbols_of
from .actions import ActionSpec, ResolvedAction, Scope
from .errors import WraprunError
from .events import ENTER_KINDS, EXIT_KINDS, ActionKind, ActionState
from .model import ActionModel, EmbeddedFile, Environment, StepScript, TaskParameters, rs
from .paths import PathMapping
from .redact import Redactor
from .relay import Relay

WORKING_DIR_VAR = "OPENJD_SESSION_WORKING_DIR"
"""Set for every action to the session working directory, as the official runtime does."""


class SessionStateError(WraprunError, RuntimeError):
    """A Session method called when the session cannot do it (e.g. exit with nothing entered)."""


@dataclass
class ActionResult:
    state: ActionState
    exit_code: int | None = None
    fail_message: str = ""
    progress: float | None = None
    status_message: str | None = None
    note: str = ""
    """The runtime's own word on how it ended ("timed out after 2 s"); ``fail_message`` is the action's."""

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCEEDED"

    @property
    def reason(self) -> str:
        return self.fail_message or self.note


@dataclass
class _Entered:
    environment: Environment
    origin: str
    symtab: dict[str, rs.ExprValue]
    files: list[EmbeddedFile]
    profile: rs.ExprProfile
    file_paths: dict[str, str] = field(default_factory=dict)
    rendered: list[actions.RenderedFile] | None = None
    """The environment's embedded files, resolved once: its symbols do not change while it is entered."""
    changes: dict[str, str | None] = field(default_factory=dict)
    """Variables this environment set (value) or unset (None), in order."""


StatusCallback = Callable[[ActionResult], None]
"""Receives a copy of the action's status when it starts, on each progress, status or fail
message, and when it ends (the driver's view; events are the reader's)."""


class Session:
    def __init__(
        self,
        *,
        callback: events.EventCallback | None = None,
        on_status: StatusCallback | None = None,
        path_mapping_rules: Sequence[rs.PathMappingRule] | None = None,
        redacted_env_vars: bool = True,
        os_env: Mapping[str, str] | None = None,
        root: str | None = None,
        retain_working_directory: bool = False,
        user: str | None = None,
        group: str | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        """``user``: run every action as this POSIX user (through ``sudo``); the working
        directory is shared with ``group`` (default: the user's primary group).
        ``redactor``: secrets shared with other sessions whose output goes to the same place."""
        self._callback = callback or (lambda event: None)
        self._on_status = on_status
        self.map_path = PathMapping(path_mapping_rules or [])
        self._set_redacted_vars = redacted_env_vars
        self._os_env = dict(os.environ if os_env is None else os_env)
        self._retain = retain_working_directory
        self.working_directory = tempfile.mkdtemp(prefix="wraprun-session-", dir=root)
        self.files_directory = os.path.join(self.working_directory, ".files")
        os.mkdir(self.files_directory, 0o700)
        self._gid: int | None = None
        self._run_as: process.RunAs | None = None
        if user is not None:
            group = group or grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
            self._gid = grp.getgrnam(group).gr_gid
            self._run_as = process.RunAs(user, group, self.files_directory)
            for path in (self.working_directory, self.files_directory):
                self._share(path)
        self._mark_failed = False
        self._stack: list[_Entered] = []
        self._env_cache: tuple[dict[str, str], int] | None = None
        self._scripts: dict[int, tuple[StepScript, tuple[ActionSpec, list[EmbeddedFile], list[str]]]] = {}
        self._wrapper: _Entered | None = None
        self._session_vars: dict[str, str] = {}
        """Session-lifetime openjd_env/variables map for WrappedAction.Environment (RFC 0008)."""
        self.redactor = redactor if redactor is not None else Redactor()
        self._control = process.Control()
        self.canceled = False
        self.status: ActionResult | None = None
        self._base = self._session_symbols()

    # --- public API -----------------------------------------------------------------------

    @property
    def environments_entered(self) -> list[str]:
        return [entered.environment.name for entered in self._stack]

    def enter_environment(
        self,
        environment: Environment,
        scope: Scope,
        origin: str = "",
        *,
        os_env: Mapping[str, str] | None = None,
    ) -> ActionResult:
        """Enter a (template-side) environment: variables, then onEnter or its wrap hook.

        The environment counts as entered even when its onEnter fails, so that
        :meth:`exit_environment` still runs its onExit, as How Jobs Are Run requires.
        """
        if wrap.defines_wrap_hooks(environment) and self._wrapper is not None:
            raise wrap.WrapError(
                f"cannot enter '{environment.name}': '{self._wrapper.environment.name}' already "
                "defines wrap hooks; RFC 0008 allows one wrapping environment per session"
            )
        script = environment.script
        entered = _Entered(
            environment, origin, {}, list(script.embedded_files or []) if script else [], scope.profile
        )
        self._stack.append(entered)
        label = events.Purpose("onEnter", str(environment.name), f"Enter environment '{environment.name}'")
        try:
            entered.symtab = self._env_symbols(entered, scope)
            for name, value in (environment.variables or {}).items():
                text = actions.format_string(value).resolve_string(
                    rs.SymbolTable(entered.symtab), profile=scope.profile
                )
                entered.changes[name] = text
                self._session_vars[name] = text
                self._env_cache = None
        except (ValueError, OSError) as exc:
            return self._fail_before_start(label, exc)
        wrapper = self._wrapper
        if wrap.defines_wrap_hooks(environment):
            self._wrapper = entered
        action = script.actions.on_enter if script is not None else None
        if action is None:
            return self._nothing_to_run()
        return self._run_env_action(entered, action, "onEnter", label, wrapper, os_env)

    def exit_environment(self, *, os_env: Mapping[str, str] | None = None) -> ActionResult:
        """Exit the innermost entered environment: onExit or its wrap hook, then drop its variables.

        ``os_env``: variables for this action only, under those the environments set.
        """
        if not self._stack:
            raise SessionStateError("exit_environment: no environment is entered")
        entered = self._stack[-1]
        name = str(entered.environment.name)
        label = events.Purpose("onExit", name, f"Exit environment '{name}'")
        try:
            script = entered.environment.script
            action = script.actions.on_exit if script is not None else None
            wrapper = self._wrapper if self._wrapper is not entered else None
            if action is None:
                return self._nothing_to_run()  # nothing to replace: no hook runs either
            return self._run_env_action(entered, action, "onExit", label, wrapper, os_env)
        finally:
            self._stack.pop()
            self._env_cache = None
            if self._wrapper is entered:
                self._wrapper = None

    def run_task(
        self,
        step_name: str,
        script: StepScript,
        scope: Scope,
        task_parameters: TaskParameters | None = None,
        *,
        os_env: Mapping[str, str] | None = None,
        isolated: bool = False,
    ) -> ActionResult:
        """Run one task's onRun (or the wrapping environment's onWrapTaskRun).

        ``isolated``: outside the entered environments (no hook, none of their variables),
        for work a worker does around the job, such as syncing its files.
        """
        params = task_parameters or {}
        shown = ", ".join(f"{k}={v.value}" for k, v in sorted(params.items()))
        label = events.Purpose("onRun", step_name, f"Task {step_name}" + (f" ({shown})" if shown else ""))
        on_run, embedded, lets = self._prepared(script)
        try:
            symbols = {**self._base, **scope.symbols, **symbols_of.task(params, self.map_path)}
            task_dir = self._scratch("task-") if embedded else ""
            paths, files = actions.file_symbols(embedded, task_dir, "Task.File")
            symbols.update({k: rs.ExprValue(v, "path") for k, v in paths.items()})
            symtab = symbols_of.with_lets(symbols, lets, scope.profile)
            rendered = actions.render_files(files, paths, "Task.File", symtab, scope.profile)
            actions.write_files(rendered, self._gid)
            inner = actions.resolve(on_run, symtab, scope.profile, "onRun")
            if self._wrapper is None or isolated:
                return self._run(inner, "onRun", label, os_env=os_env, isolated=isolated)
            hook = self._hook(self._wrapper, "onWrapTaskRun", inner, step_name=step_name)
        except (ValueError, OSError) as exc:  # a file that cannot be written fails the action
            return self._fail_before_start(label, exc)
        wrapped_by = self._wrapper.environment.name
        return self._run(hook, "onWrapTaskRun", label, wrapped_by=wrapped_by, os_env=os_env)

    def cancel(self, *, force: bool = False) -> None:
        """Cancel the session: the running action by its cancelation method (``force``: kill
        at once), and any later action that is not teardown.

        Safe from other threads and from signal handlers.
        """
        self.canceled = True
        self._control.stop(force=force)

    def arm(self) -> None:
        """Start afresh for the next action: a :meth:`cancel_action` from now on is for it."""
        self._control.reset()
        self._mark_failed = False

    def cancel_action(self, *, grace_limit: float | None = None, mark_failed: bool = False) -> None:
        """Cancel the running (or next) action only, by its cancelation method cut to
        ``grace_limit`` seconds (0: kill at once); ``mark_failed`` ends it FAILED, not CANCELED."""
        self._mark_failed = self._mark_failed or mark_failed
        self._control.stop(grace_limit=grace_limit)

    def add_path_mapping_rules(self, rules: Sequence[rs.PathMappingRule]) -> None:
        """Rules for the actions that start from now on (the rules file is rewritten)."""
        self.map_path = PathMapping([*self.map_path.rules, *rules])
        self._base = self._session_symbols()

    def close(self) -> None:
        self._control.close()
        if not self._retain:
            shutil.rmtree(self.working_directory, ignore_errors=True)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scopes ---------------------------------------------------------------------------

    def _session_symbols(self) -> dict[str, rs.ExprValue]:
        rules_file = os.path.join(self.working_directory, "path-mapping.json")
        with open(rules_file, "w", encoding="utf-8") as out:
            rules = [rule.to_dict() for rule in self.map_path.rules]
            json.dump({"version": "pathmapping-1.0", "path_mapping_rules": rules}, out)
        self._share(rules_file)
        return symbols_of.session(self.working_directory, rules_file, bool(self.map_path))

    def _env_symbols(self, entered: _Entered, scope: Scope) -> dict[str, rs.ExprValue]:
        env_dir = self._scratch("env-") if entered.files else ""
        symbols = {**self._base, **scope.symbols}
        paths, _ = actions.file_symbols(entered.files, env_dir, "Env.File")
        entered.file_paths = paths
        symbols.update({k: rs.ExprValue(v, "path") for k, v in paths.items()})
        script = entered.environment.script
        lets = script.let if isinstance(script, rs.TemplateEnvironmentScript) else None  # job-side: none
        if lets:
            table = symbols_of.with_lets(symbols, lets, scope.profile)
            symbols = {name: table[name] for name in table.symbols}
        return symbols

    def _write_env_files(self, entered: _Entered) -> None:
        """Template Schemas §6: a script's embedded files are written before each of its actions."""
        if not entered.files:
            return
        if entered.rendered is None:
            table = rs.SymbolTable(entered.symtab)
            entered.rendered = actions.render_files(
                entered.files, entered.file_paths, "Env.File", table, entered.profile
            )
        actions.write_files(entered.rendered, self._gid)

    # --- running --------------------------------------------------------------------------

    def _run_env_action(
        self,
        entered: _Entered,
        action: ActionModel,
        kind: ActionKind,
        label: events.Purpose,
        wrapper: _Entered | None,
        os_env: Mapping[str, str] | None,
    ) -> ActionResult:
        try:
            self._write_env_files(entered)
            table = rs.SymbolTable(entered.symtab)
            inner = actions.resolve(ActionSpec.of(action), table, entered.profile, kind)
            if wrapper is None:
                return self._run(inner, kind, label, target=entered, os_env=os_env)
            hook_kind = wrap.HOOK_FOR[kind]
            hook = self._hook(wrapper, hook_kind, inner, env_name=entered.environment.name)
        except (ValueError, OSError) as exc:
            return self._fail_before_start(label, exc)
        wrapped_by = wrapper.environment.name
        return self._run(hook, hook_kind, label, target=entered, wrapped_by=wrapped_by, os_env=os_env)

    def _hook(
        self, wrapper: _Entered, kind: ActionKind, inner: ResolvedAction, **names: str
    ) -> ResolvedAction:
        """Resolve the wrapping environment's hook for ``inner`` in the wrapper's own scope."""
        self._write_env_files(wrapper)  # the hook is an action of the wrapper's script
        environment_list = [f"{k}={v}" for k, v in self._session_vars.items()]
        symbols = {**wrapper.symtab, **wrap.wrapped_symbols(inner, environment_list, **names)}
        script = wrapper.environment.script
        assert script is not None  # it defines the hooks
        hook: ActionModel = getattr(script.actions, kind)  # the stubs do not list the wrap hooks
        return actions.resolve(ActionSpec.of(hook), rs.SymbolTable(symbols), wrapper.profile, kind)

    def _prepared(self, script: StepScript) -> tuple[ActionSpec, list[EmbeddedFile], list[str]]:
        """A step script's onRun, embedded files and lets, read once: they repeat for every task."""
        cached = self._scripts.get(id(script))
        if cached is None or cached[0] is not script:
            files: list[EmbeddedFile] = list(script.embedded_files or [])
            parts = (ActionSpec.of(script.actions.on_run), files, list(script.let or []))
            cached = self._scripts[id(script)] = (script, parts)
        return cached[1]

    def _scratch(self, prefix: str) -> str:
        return self._share(tempfile.mkdtemp(prefix=prefix, dir=self.files_directory))

    def _share(self, path: str) -> str:
        """Let the group of the user actions run as in (directories) or read (files)."""
        if self._gid is not None:
            os.chown(path, -1, self._gid)
            extra = stat.S_IRWXG if os.path.isdir(path) else stat.S_IRGRP
            os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) | extra)
        return path

    def _process_env(
        self, extra: Mapping[str, str] | None, isolated: bool = False
    ) -> tuple[dict[str, str], int]:
        """The environment of the next action, and its size for exec (cached until it changes).

        ``extra``: the action's own variables, over the host's and under the environments'.
        """
        if extra or isolated or self._env_cache is None:
            layers = [] if isolated else [entered.changes for entered in self._stack]
            runtime = {WORKING_DIR_VAR: self.working_directory, **(extra or {})}
            env = environ.compose(self._os_env, runtime, layers)
            if extra or isolated:
                return env, environ.size(env)
            self._env_cache = (env, environ.size(env))
        return self._env_cache

    def _run(
        self,
        action: ResolvedAction,
        kind: ActionKind,
        label: events.Purpose,
        *,
        target: _Entered | None = None,
        wrapped_by: str = "",
        os_env: Mapping[str, str] | None = None,
        isolated: bool = False,
    ) -> ActionResult:
        """Run a resolved action; macros apply to ``target`` (the environment being entered)."""
        env, env_size = self._process_env(os_env, isolated)
        problem = environ.command_line_problem(action.argv, env_size)
        if problem:
            what = (
                f"{kind} of the wrapping environment '{wrapped_by}' for {label.text}"
                if wrapped_by
                else f"{kind} of {label.text}"
            )
            return self._fail_before_start(label, ValueError(f"{what}: {problem}"))
        self._emit(
            events.ActionStarted(
                kind,
                self._redact_text(label.text),
                tuple(self._redact_text(a) for a in action.argv),
                wrapped_by,
                self._redact_text(label.subject),
            )
        )
        result = ActionResult("RUNNING")
        self.status = result
        entering = kind in ENTER_KINDS

        relay = Relay(
            self.redactor,
            on_macro=lambda macro: self._apply(macro, result, target if entering else None),
            show=lambda data: self._emit(events.ActionOutput(data)),
            warn=self._warn,
        )

        if self.canceled:
            if kind in EXIT_KINDS:
                self._control.reset()  # teardown runs despite the session's cancel before it
            else:
                self._control.stop()  # a cancel between actions still stops work that is not teardown
        try:
            outcome = process.run(
                action.argv,
                env=env,
                cwd=self.working_directory,
                on_output=relay.feed,
                control=self._control,
                timeout=action.timeout,
                grace=action.grace,
                before_notify=self._write_cancel_info,
                on_spawn=lambda: self._tell(result),
                run_as=self._run_as,
            )
        finally:
            self._control.reset()  # what stopped this action is spent: the next starts clean
        relay.close()
        result.exit_code = outcome.exit_code
        if outcome.start_error:
            result.state, result.fail_message = "FAILED", self._redact_text(outcome.start_error)
        elif outcome.timed_out:
            result.state = "TIMEOUT"
            result.note = f"timed out after {action.timeout} s"
        elif outcome.stopped:
            result.state = "FAILED" if self._mark_failed else "CANCELED"
        elif outcome.exit_code == 0:
            result.state = "SUCCEEDED"
        else:
            result.state = "FAILED"
        return self._report(label, result)

    def _apply(self, macro: macros.Macro, result: ActionResult, target: _Entered | None) -> None:
        """What a macro means (How Jobs Are Run; RFC 0003; RFC 0008 for the session map)."""
        if macro.kind == "redacted_env" and macro.name:
            self.redactor.add(macro.value.encode("utf-8", "surrogateescape"))
            # What the action said before this line may hold the value: mask it too.
            result.fail_message = self._redact_text(result.fail_message)
            if result.status_message is not None:
                result.status_message = self._redact_text(result.status_message)
        if macro.error:
            self._warn(macro.error)
            return
        if macro.kind == "redacted_env" and not self._set_redacted_vars:
            return
        if macro.kind in ("env", "redacted_env"):
            self._session_vars[macro.name] = macro.value
            if target is not None:
                target.changes[macro.name] = macro.value
                self._env_cache = None
        elif macro.kind == "unset_env":
            self._session_vars.pop(macro.name, None)
            if target is not None:
                target.changes[macro.name] = None
                self._env_cache = None
        elif macro.kind == "fail":
            result.fail_message = self._redact_text(macro.value)
            self._tell(result)
        elif macro.kind == "progress":
            result.progress = macro.progress
            self._emit(events.ActionProgress(result.progress, result.status_message))
            self._tell(result)
        elif macro.kind == "status":
            result.status_message = self._redact_text(macro.value)
            self._emit(events.ActionProgress(result.progress, result.status_message))
            self._tell(result)

    def _write_cancel_info(self, grace: float) -> None:
        end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=grace)
        path = os.path.join(self.working_directory, "cancel_info.json")
        with open(path, "w", encoding="utf-8") as out:
            json.dump({"NotifyEnd": end.strftime("%Y-%m-%dT%H:%M:%SZ")}, out)

    def _fail_before_start(self, label: events.Purpose, exc: BaseException) -> ActionResult:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return self._report(label, ActionResult("FAILED", fail_message=self._redact_text(message)))

    def _report(self, label: events.Purpose, result: ActionResult) -> ActionResult:
        self.status = result
        text, subject = self._redact_text(label.text), self._redact_text(label.subject)
        self._emit(
            events.ActionEnded(text, result.state, result.exit_code, result.reason, label.kind, subject)
        )
        self._tell(result)
        return result

    def _nothing_to_run(self) -> ActionResult:
        """An enter or exit with no action (and so no hook): done at once, and silently."""
        self.status = ActionResult("SUCCEEDED")
        self._tell(self.status)
        return self.status

    def _tell(self, result: ActionResult) -> None:
        if self._on_status is not None:
            self._on_status(dataclasses.replace(result))

    def _emit(self, event: events.Event) -> None:
        self._callback(event)

    def _redact_text(self, text: str) -> str:
        return self.redactor.text(text)

    def _warn(self, text: str) -> None:
        self._emit(events.SessionMessage(self._redact_text(text), "warning"))
