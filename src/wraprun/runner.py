"""Run a planned job through one Session, with the teardown guarantees of How Jobs Are Run.

Environments are entered outermost first (``--env`` files, job environments,
then each step's environments) and exited innermost first. Any failure or
cancel is terminal for the session: nothing new starts, and every environment
whose enter was attempted is exited. The wrap layer of each step's stack is
checked before anything is entered.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import events, wrap
from .job import JobPlan
from .session import ActionResult, Session


@dataclass
class JobOutcome:
    state: events.SessionState
    failed: str = ""
    tasks_run: int = 0


def check_wrap_layers(plan: JobPlan) -> None:
    """RFC 0008: reject a session stack with two wrapping environments before entering any."""
    if not plan.steps:
        wrap.find_wrapper([(origin, env) for origin, env, _ in plan.environments])
    for step in plan.steps:
        wrap.find_wrapper(plan.stack_for(step))


class Runner:
    def __init__(self, plan: JobPlan, session: Session, emit: events.EventCallback) -> None:
        self.plan = plan
        self.session = session
        self.emit = emit
        self.force = False
        """Set on a second interrupt: skip what teardown remains."""
        self.outcome = JobOutcome("SUCCEEDED")

    def interrupt(self) -> None:
        """First call: cancel the running action and tear down. Second: kill and stop."""
        if self.session.canceled:
            self.force = True
            self.session.cancel(force=True)
        else:
            self.session.cancel()

    def run(self) -> JobOutcome:
        total = sum(len(step.tasks) for step in self.plan.steps)
        done = 0
        entered = 0
        self.emit(events.SessionStarted(str(self.plan.job.name)))
        try:
            for origin, environment, scope in self.plan.environments:
                if self.session.canceled:
                    return self._canceled()
                entered += 1
                if not self._ok(self.session.enter_environment(environment, scope, origin)):
                    return self.outcome
            for step in self.plan.steps:
                step_entered = 0
                try:
                    for environment in step.environments:
                        if self.session.canceled:
                            return self._canceled()
                        step_entered += 1
                        if not self._ok(self.session.enter_environment(environment, step.scope)):
                            return self.outcome
                    for task in step.tasks:
                        if self.session.canceled:
                            return self._canceled()
                        self.emit(events.TaskCount(done, total, step.step.name))
                        result = self.session.run_task(step.step.name, step.script, step.scope, task)
                        done += 1
                        self.outcome.tasks_run = done
                        if not self._ok(result):
                            return self.outcome
                    self.emit(events.TaskCount(done, total, step.step.name))
                finally:
                    self._exit(step_entered)
        finally:
            self._exit(entered)
            if self.session.canceled and self.outcome.state == "SUCCEEDED":
                self._canceled()
        return self.outcome

    def _ok(self, result: ActionResult) -> bool:
        if result.succeeded and not self.session.canceled:
            return True
        if self.outcome.state == "SUCCEEDED":
            if self.session.canceled or result.state == "CANCELED":
                self._canceled()
            else:
                self.outcome.state = "FAILED"
                self.outcome.failed = result.fail_message or result.state
        return False

    def _canceled(self) -> JobOutcome:
        self.outcome.state = "CANCELED"
        return self.outcome

    def _exit(self, count: int) -> None:
        for _ in range(count):
            if self.force:
                self.emit(events.SessionMessage("teardown skipped after a second interrupt", "warning"))
                return
            result = self.session.exit_environment()
            if not result.succeeded and self.outcome.state == "SUCCEEDED":
                self.outcome.state = "FAILED"
                self.outcome.failed = result.fail_message or result.state
