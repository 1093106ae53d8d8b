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
from .chunking import ChunkWalk
from .job import JobPlan, StepRun
from .redact import Redactor
from .session import ActionResult, Session


@dataclass
class JobOutcome:
    state: events.SessionState
    failed: str = ""
    tasks_run: int = 0


class Runner:
    """Runs a plan in a session of its own, from making its working directory to removing it.

    ``emit`` receives every event, from SessionStarted to SessionEnded. ``redactor``:
    secrets shared with other sessions whose events go to the same output.
    """

    def __init__(
        self,
        plan: JobPlan,
        emit: events.EventCallback,
        *,
        retain_working_directory: bool = False,
        root: str | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.plan = plan
        self.redactor = redactor
        self.emit = emit
        self.retain = retain_working_directory
        self.root = root
        self.session: Session | None = None
        self.interrupts = 0
        self.force = False
        """Set on a second interrupt: skip what teardown remains."""
        self.finishing = False
        """Set by :meth:`finish`: start nothing new, let the running action end, tear down."""
        self.outcome = JobOutcome("SUCCEEDED")

    def interrupt(self) -> None:
        """First call: cancel the running action and tear down. Second: kill and stop.

        Safe from signal handlers, also before the session exists (it is canceled
        as soon as it does).
        """
        self.interrupts += 1
        if self.session is not None:
            self._cancel(self.session)

    def finish(self) -> None:
        """Start no further environment or task; what runs ends as it would, then teardown.

        The outcome is CANCELED when work was left undone (another session's failure
        stopped this one's share). Safe from other threads.
        """
        self.finishing = True

    def _stopped(self, session: Session) -> bool:
        return session.canceled or self.finishing

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
            redactor=self.redactor,
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
        done = 0  # positions of the steps' task orders: tasks, chunks of a fixed size, or chunked tasks
        entered = 0
        try:
            for origin, environment, scope in self.plan.environments:
                if self._stopped(session):
                    self._canceled()
                    return
                entered += 1
                if not self._ok(session.enter_environment(environment, scope, origin)):
                    return
            for step in self.plan.steps:
                step_entered = 0
                try:
                    for environment in step.environments:
                        if self._stopped(session):
                            self._canceled()
                            return
                        step_entered += 1
                        if not self._ok(session.enter_environment(environment, step.scope)):
                            return
                    ran = self._tasks(session, step, done, total)
                    if ran is None:
                        return
                    done += ran
                    self.emit(events.TaskCount(done, total, step.step.name))
                finally:
                    self._exit(step_entered)
        finally:
            self._exit(entered)
            if session.canceled and self.outcome.state == "SUCCEEDED":
                self._canceled()

    def _tasks(self, session: Session, step: StepRun, done: int, total: int) -> int | None:
        """Run a step's tasks: how many positions they covered, None when the session must stop."""
        walk = iter(step.tasks)
        covered = 0
        for task in walk:
            if self._stopped(session):
                self._canceled()
                return None
            self.emit(events.TaskCount(done + covered, total, step.step.name))
            started = time.monotonic()
            result = session.run_task(step.step.name, step.script, step.scope, task)
            elapsed = time.monotonic() - started
            self.outcome.tasks_run += 1
            if not self._ok(result):
                return None
            covered += 1
            if isinstance(walk, ChunkWalk):  # a chunk covers several positions, and sizes the next
                self._resize(step, walk, elapsed)
                covered = walk.covered
        return covered

    def _resize(self, step: StepRun, walk: ChunkWalk, seconds: float) -> None:
        """Adaptive chunks (TASK_CHUNKING): the next chunk's size from the time this one took."""
        before = walk.size
        walk.ran(seconds)
        if walk.size != before:
            self.emit(
                events.SessionMessage(
                    f"Chunk size of step '{step.step.name}': {before} -> {walk.size} "
                    f"({walk.tasks_run} task(s) ran in {walk.seconds:.3f} s; target {walk.target} s a chunk)"
                )
            )

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
