"""Run a planned job through one Session, with the teardown guarantees of How Jobs Are Run.

Environments are entered outermost first (``--env`` files, job environments,
then each step's environments) and exited innermost first. Any failure or
cancel is terminal for the session: nothing new starts, and every environment
whose enter was attempted is exited. (The wrap layer of each step's stack
was checked when the job was planned, before anything runs.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import events
from .job import JobPlan
from .session import ActionResult, Session


@dataclass
class JobOutcome:
    state: events.SessionState
    failed: str = ""
    tasks_run: int = 0


class Runner:
    """Runs a plan in a session of its own, from making its working directory to removing it.

    ``emit`` receives every event, from SessionStarted to SessionEnded.
    """

    def __init__(
        self,
        plan: JobPlan,
        emit: events.EventCallback,
        *,
        retain_working_directory: bool = False,
        root: str | None = None,
    ) -> None:
        self.plan = plan
        self.emit = emit
        self.retain = retain_working_directory
        self.root = root
        self.session: Session | None = None
        self.interrupts = 0
        self.force = False
        """Set on a second interrupt: skip what teardown remains."""
        self.outcome = JobOutcome("SUCCEEDED")

    def interrupt(self) -> None:
        """First call: cancel the running action and tear down. Second: kill and stop.

        Safe from signal handlers, also before the session exists (it is canceled
        as soon as it does).
        """
        self.interrupts += 1
        if self.session is not None:
            self._cancel(self.session)

    def _cancel(self, session: Session) -> None:
        if self.interrupts >= 2:
            self.force = True
            session.cancel(force=True)
        elif self.interrupts == 1:
            session.cancel()

    def run(self) -> JobOutcome:
        started = time.monotonic()
        session = Session(
            callback=self.emit,
            path_mapping_rules=self.plan.path_mapping_rules,
            redacted_env_vars=self.plan.declares_redaction,
            root=self.root,
            retain_working_directory=self.retain,
        )
        self.session = session
        self._cancel(session)  # what came before the session existed
        try:
            self.emit(events.SessionStarted(str(self.plan.job.name)))
            self._run(session)
        finally:
            session.close()
            outcome = self.outcome
            kept = session.working_directory if self.retain else ""
            failed = session.redactor.text(outcome.failed)  # a later secret may be in an earlier message
            duration = time.monotonic() - started
            self.emit(events.SessionEnded(outcome.state, outcome.tasks_run, duration, failed, kept))
        return self.outcome

    def _run(self, session: Session) -> None:
        total = sum(len(step.tasks) for step in self.plan.steps)
        done = 0
        entered = 0
        try:
            for origin, environment, scope in self.plan.environments:
                if session.canceled:
                    self._canceled()
                    return
                entered += 1
                if not self._ok(session.enter_environment(environment, scope, origin)):
                    return
            for step in self.plan.steps:
                step_entered = 0
                try:
                    for environment in step.environments:
                        if session.canceled:
                            self._canceled()
                            return
                        step_entered += 1
                        if not self._ok(session.enter_environment(environment, step.scope)):
                            return
                    for task in step.tasks:
                        if session.canceled:
                            self._canceled()
                            return
                        self.emit(events.TaskCount(done, total, step.step.name))
                        result = session.run_task(step.step.name, step.script, step.scope, task)
                        done += 1
                        self.outcome.tasks_run = done
                        if not self._ok(result):
                            return
                    self.emit(events.TaskCount(done, total, step.step.name))
                finally:
                    self._exit(step_entered)
        finally:
            self._exit(entered)
            if session.canceled and self.outcome.state == "SUCCEEDED":
                self._canceled()

    def _ok(self, result: ActionResult) -> bool:
        if result.succeeded and not self._session().canceled:
            return True
        if self.outcome.state == "SUCCEEDED":
            if self._session().canceled or result.state == "CANCELED":
                self._canceled()
            else:
                self.outcome.state = "FAILED"
                self.outcome.failed = result.reason or result.state
        return False

    def _session(self) -> Session:
        assert self.session is not None
        return self.session

    def _canceled(self) -> JobOutcome:
        self.outcome.state = "CANCELED"
        return self.outcome

    def _exit(self, count: int) -> None:
        for _ in range(count):
            if self.force:
                self.emit(events.SessionMessage("teardown skipped after a second interrupt", "warning"))
                return
            result = self._session().exit_environment()
            if not result.succeeded and self.outcome.state == "SUCCEEDED":
                self.outcome.state = "FAILED"
                self.outcome.failed = result.reason or result.state
