"""nonblocking: the session a worker drives without blocking, with openjd-sessions' states.

Actions are small shell scripts; where a test needs an action to be running, the action
waits for a file the test creates, so nothing here depends on how fast anything is.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import openjd.model as jd
import pytest
from openjd.sessions import PathFormat, PathMappingRule

from wraprun import events, nonblocking
from wraprun.model import rs
from wraprun.nonblocking import ActionState, ActionStatus, NonBlockingSession, SessionState
from wraprun.session import SessionStateError
from wraprun.templates import load

from .helpers import survivors_of, write

DEADLINE = 30.0
"""Seconds any condition may take before a test gives up on it (never reached when all is well)."""


def wait_for(name: str) -> str:
    """Shell: wait until the file ``name`` exists in the working directory."""
    return f"while [ ! -e {name} ]; do sleep 0.01; done"


def sh(script: str, **action: Any) -> dict[str, Any]:
    return {"command": "sh", "args": ["-c", script], **action}


TRAPS_TERM = (
    "trap 'echo trapped; " + wait_for("release") + "; exit 0' TERM; "
    "echo ready; sleep 30 >/dev/null 2>&1 & wait"
)
"""A task that says 'trapped' when notified (then waits for 'release'); otherwise runs 30 s."""
NOTIFY = {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 30}


class Job:
    """A job template written as YAML and loaded with wraprun's own loader: compiled objects."""

    def __init__(
        self,
        tmp_path: Path,
        steps: dict[str, dict[str, Any]],
        envs: Sequence[dict[str, Any]] = (),
        file: str = "job.yaml",
    ) -> None:
        document: dict[str, Any] = {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "NonBlocking",
            "extensions": ["EXPR", "WRAP_ACTIONS"],
            "steps": [{"name": name, "script": {"actions": {"onRun": run}}} for name, run in steps.items()],
        }
        if envs:
            document["jobEnvironments"] = list(envs)
        model = load(write(tmp_path / file, document), "job").job
        self.script = {step.name: step.script for step in model.steps}
        self.env = {env.name: env for env in model.job_environments or ()}


def environment(name: str, **actions: Any) -> dict[str, Any]:
    """A job environment; ``variables`` as a keyword sets its variables, the rest are actions."""
    variables = actions.pop("variables", None)
    env: dict[str, Any] = {"name": name}
    if variables:
        env["variables"] = variables
    if actions:
        env["script"] = {"actions": actions}
    return env


class Recorder:
    """What a session reports: statuses (and the thread each came on), and output lines."""

    def __init__(self) -> None:
        self.statuses: list[ActionStatus] = []
        self.threads: list[threading.Thread] = []
        self.lines: list[str] = []

    def callback(self, session_id: str, status: ActionStatus) -> None:
        self.threads.append(threading.current_thread())
        self.statuses.append(status)

    def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.ActionOutput):
            self.lines.extend(event.data.decode().splitlines())

    def session(self, **options: Any) -> NonBlockingSession:
        options.setdefault("callback", self.callback)
        options.setdefault("on_event", self.on_event)
        return NonBlockingSession(session_id="test-session", **options)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


Opener = Callable[..., NonBlockingSession]


@pytest.fixture
def opened(recorder: Recorder) -> Iterator[Opener]:
    """Sessions made through this are cleaned up after the test, whatever happens."""
    made: list[NonBlockingSession] = []

    def make(**options: Any) -> NonBlockingSession:
        made.append(recorder.session(**options))
        return made[-1]

    yield make
    for session in made:
        session.cleanup()


def until(condition: Callable[[], object], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def finished(session: NonBlockingSession) -> ActionStatus:
    """The status of the action that was running, once it has ended."""
    status = session.wait(DEADLINE)
    assert status is not None and status.state is not ActionState.RUNNING, status
    return status


def release(session: NonBlockingSession, name: str) -> None:
    (session.working_directory / name).touch()


# --- returning at once --------------------------------------------------------------------------


def test_every_call_returns_while_its_action_runs(tmp_path: Path, recorder: Recorder, opened: Opener) -> None:
    job = Job(
        tmp_path,
        {"Task": sh(wait_for("task") + "; echo task", timeout=DEADLINE)},
        [
            environment(
                "E",
                onEnter=sh(wait_for("enter") + "; echo enter", timeout=DEADLINE),
                onExit=sh(wait_for("exit") + "; echo exit", timeout=DEADLINE),
            )
        ],
    )
    session = opened()
    for start, name in [
        (lambda: session.enter_environment(environment=job.env["E"], identifier="E"), "enter"),
        (lambda: session.run_task(step_script=job.script["Task"], step_name="Task"), "task"),
        (lambda: session.exit_environment(identifier="E", keep_session_running=True), "exit"),
    ]:
        start()
        # Returned, and the action waits for the file only this thread can create.
        assert session.state is SessionState.RUNNING
        status = session.action_status
        assert status is not None and status.state is ActionState.RUNNING
        with pytest.raises(SessionStateError):
            session.run_task(step_script=job.script["Task"])
        with pytest.raises(SessionStateError):
            session.enter_environment(environment=job.env["E"], identifier="other")
        with pytest.raises(SessionStateError):
            session.exit_environment(identifier="E")
        assert name not in recorder.lines
        release(session, name)
        assert finished(session).state is ActionState.SUCCESS
        assert session.state is SessionState.READY
    assert recorder.lines == ["enter", "task", "exit"]


# --- states -------------------------------------------------------------------------------------


def test_ready_running_ready(tmp_path: Path, recorder: Recorder, opened: Opener) -> None:
    job = Job(tmp_path, {"Task": sh("echo hello")})
    session = opened()
    assert session.state is SessionState.READY and session.action_status is None
    session.run_task(step_script=job.script["Task"])
    assert session.state is SessionState.RUNNING
    assert finished(session).state is ActionState.SUCCESS
    assert session.state is SessionState.READY
    assert recorder.lines == ["hello"]
    session.run_task(step_script=job.script["Task"])  # READY again: another task may start
    assert finished(session).state is ActionState.SUCCESS
    assert recorder.lines == ["hello", "hello"]


def test_a_failed_task_leaves_only_exits(tmp_path: Path, recorder: Recorder, opened: Opener) -> None:
    job = Job(
        tmp_path,
        {"Fails": sh("echo failing; exit 3"), "Task": sh("echo task")},
        [environment("E", onExit=sh("echo exiting"))],
    )
    session = opened()
    identifier = session.enter_environment(environment=job.env["E"])
    assert finished(session).state is ActionState.SUCCESS
    session.run_task(step_script=job.script["Fails"])
    status = finished(session)
    assert (status.state, status.exit_code) == (ActionState.FAILED, 3)
    assert session.state is SessionState.READY_ENDING
    with pytest.raises(SessionStateError) as raised:
        session.run_task(step_script=job.script["Task"])
    assert isinstance(raised.value, RuntimeError)
    with pytest.raises(RuntimeError):
        session.enter_environment(environment=job.env["E"], identifier="again")
    session.exit_environment(identifier=identifier)
    assert finished(session).state is ActionState.SUCCESS
    assert session.state is SessionState.READY_ENDING
    assert session.environments_entered == ()
    assert recorder.lines == ["failing", "exiting"]


def test_exiting_ends_the_session_unless_it_is_kept_running(
    tmp_path: Path, recorder: Recorder, opened: Opener
) -> None:
    job = Job(
        tmp_path,
        {"Task": sh("echo task")},
        [
            environment("Outer", onExit=sh("echo outer exit")),
            environment("Inner", onExit=sh("echo inner exit")),
        ],
    )
    session = opened()
    outer = session.enter_environment(environment=job.env["Outer"])
    finished(session)
    inner = session.enter_environment(environment=job.env["Inner"])
    finished(session)
    assert session.environments_entered == (outer, inner)

    session.exit_environment(identifier=inner, keep_session_running=True)
    assert finished(session).state is ActionState.SUCCESS
    assert session.state is SessionState.READY
    session.run_task(step_script=job.script["Task"])
    assert finished(session).state is ActionState.SUCCESS

    session.exit_environment(identifier=outer)
    assert finished(session).state is ActionState.SUCCESS
    assert session.state is SessionState.READY_ENDING  # although every action succeeded
    with pytest.raises(SessionStateError):
        session.run_task(step_script=job.script["Task"])
    assert recorder.lines == ["inner exit", "task", "outer exit"]


def test_environments_are_exited_innermost_first_by_their_identifiers(
    tmp_path: Path, recorder: Recorder, opened: Opener
) -> None:
    job = Job(
        tmp_path,
        {"Task": sh("true")},
        [environment("A", variables={"X": "a"}), environment("B", variables={"X": "b"})],
    )
    session = opened()
    a = session.enter_environment(environment=job.env["A"], identifier="a")
    finished(session)
    b = session.enter_environment(environment=job.env["B"])
    finished(session)
    assert a == "a" and b not in ("a", "") and session.environments_entered == ("a", b)

    with pytest.raises(SessionStateError, match=b):  # names the one to exit first
        session.exit_environment(identifier="a")
    with pytest.raises(SessionStateError, match="unknown"):
        session.exit_environment(identifier="never-entered")
    with pytest.raises(SessionStateError, match="already entered"):
        session.enter_environment(environment=job.env["A"], identifier="a")
    with pytest.raises(SessionStateError, match="already entered"):
        session.enter_environment(environment=job.env["B"], identifier=b)
    assert session.state is SessionState.READY and session.environments_entered == ("a", b)

    session.exit_environment(identifier=b, keep_session_running=True)
    finished(session)
    session.exit_environment(identifier="a")
    finished(session)
    assert session.environments_entered == ()


def wrapper(name: str) -> dict[str, Any]:
    """An environment whose wrap hooks say they ran, then run what they wrap."""
    hook = {
        "command": "sh",
        "args": [
            "-c",
            f'echo "{name} wraps $0"; exec "$0" "$@"',
            "{{WrappedAction.Command}}",
            "{{WrappedAction.Args}}",
        ],
    }
    return environment(name, **{h: hook for h in ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")})


def test_a_second_wrapping_environment_is_refused_and_the_first_still_wraps(
    tmp_path: Path, recorder: Recorder, opened: Opener
) -> None:
    job = Job(tmp_path, {"Task": {"command": "echo", "args": ["task"]}}, [wrapper("W1")])
    other = Job(tmp_path, {"Task": {"command": "true"}}, [wrapper("W2")], file="other.yaml")
    session = opened()
    w1 = session.enter_environment(environment=job.env["W1"])
    finished(session)
    with pytest.raises(SessionStateError, match="W1"):
        session.enter_environment(environment=other.env["W2"])
    assert session.environments_entered == (w1,)
    assert session.state is SessionState.READY
    session.run_task(step_script=job.script["Task"])
    assert finished(session).state is ActionState.SUCCESS
    assert recorder.lines == ["W1 wraps echo", "task"]


# --- canceling ----------------------------------------------------------------------------------


def start_and_wait_until_ready(session: NonBlockingSession, job: Job, recorder: Recorder) -> None:
    session.run_task(step_script=job.script["Task"])
    until(lambda: "ready" in recorder.lines, "the task said it was ready")


def cancel_from_another_thread(session: NonBlockingSession, **options: Any) -> None:
    errors: list[BaseException] = []

    def cancel() -> None:
        try:
            session.cancel_action(**options)
        except BaseException as exc:  # reported on the test's thread
            errors.append(exc)

    thread = threading.Thread(target=cancel)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive() and errors == []


def test_cancel_from_another_thread_notifies_then_cancels(
    tmp_path: Path, recorder: Recorder, opened: Opener
) -> None:
    job = Job(tmp_path, {"Task": sh(TRAPS_TERM, cancelation=NOTIFY)})
    session = opened()
    start_and_wait_until_ready(session, job, recorder)
    cancel_from_another_thread(session)
    assert session.state is SessionState.CANCELING  # it is still in its trap
    until(lambda: "trapped" in recorder.lines, "the task got its notice")
    assert session.state is SessionState.CANCELING
    release(session, "release")
    assert finished(session).state is ActionState.CANCELED
    assert session.state is SessionState.READY_ENDING
    assert recorder.statuses[-1].state is ActionState.CANCELED
    assert recorder.lines == ["ready", "trapped"]


def test_cancel_with_no_time_left_terminates_without_notice(
    tmp_path: Path, recorder: Recorder, opened: Opener
) -> None:
    job = Job(tmp_path, {"Task": sh(TRAPS_TERM, cancelation=NOTIFY)})
    session = opened()
    start_and_wait_until_ready(session, job, recorder)
    cancel_from_another_thread(session, time_limit=timedelta(0))
    assert finished(session).state is ActionState.CANCELED
    assert recorder.lines == ["ready"]  # never 'trapped': no SIGTERM came first
    assert session.state is SessionState.READY_ENDING


def test_a_cancel_marked_failed_fails_the_action(tmp_path: Path, recorder: Recorder, opened: Opener) -> None:
    job = Job(tmp_path, {"Task": sh("echo ready; exec sleep 30")})
    session = opened()
    start_and_wait_until_ready(session, job, recorder)
    cancel_from_another_thread(session, mark_action_failed=True)
    assert finished(session).state is ActionState.FAILED
    assert session.state is SessionState.READY_ENDING


def test_cancel_when_nothing_runs_raises(tmp_path: Path, opened: Opener) -> None:
    job = Job(tmp_path, {"Task": sh("true")})
    session = opened()
    with pytest.raises(SessionStateError):
        session.cancel_action()
    session.run_task(step_script=job.script["Task"])
    assert finished(session).state is ActionState.SUCCESS
    with pytest.raises(SessionStateError):
        session.cancel_action(time_limit=timedelta(0))
    assert session.state is SessionState.READY


# --- cleanup ------------------------------------------------------------------------------------

WRITES_ITS_PIDS = "echo $$ > pid; sleep 30 >/dev/null 2>&1 & echo $! > child; echo ready; wait"


def running_pids(tmp_path: Path, recorder: Recorder, session: NonBlockingSession) -> list[int]:
    job = Job(tmp_path, {"Task": sh(WRITES_ITS_PIDS, cancelation=NOTIFY)})
    start_and_wait_until_ready(session, job, recorder)
    return [int((session.working_directory / name).read_text()) for name in ("pid", "child")]


def test_cleanup_kills_the_running_task_and_removes_the_working_directory(
    tmp_path: Path, recorder: Recorder, opened: Opener
) -> None:
    session = opened()
    working = session.working_directory
    pids = running_pids(tmp_path, recorder, session)
    session.cleanup()
    assert session.state is SessionState.ENDED
    assert survivors_of(pids) == []
    assert not working.exists()
    with pytest.raises(SessionStateError):
        session.run_task(step_script=Job(tmp_path, {"Task": sh("true")}).script["Task"])
    session.cleanup()  # a second cleanup is harmless


def test_cleanup_retains_the_working_directory_when_asked(
    tmp_path: Path, recorder: Recorder, opened: Opener
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    session = opened(retain_working_dir=True, session_root_directory=root)
    working = session.working_directory
    assert working.parent == root
    pids = running_pids(tmp_path, recorder, session)
    session.cleanup()
    assert session.state is SessionState.ENDED
    assert survivors_of(pids) == []
    assert (working / "pid").is_file() and (working / "child").is_file()


# --- callbacks ----------------------------------------------------------------------------------


def test_a_callback_that_raises_does_not_stop_the_session(
    tmp_path: Path, recorder: Recorder, opened: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    def raising(session_id: str, status: ActionStatus) -> None:
        recorder.callback(session_id, status)
        raise RuntimeError("the worker's callback is broken")

    job = Job(tmp_path, {"One": sh("echo one"), "Two": sh("echo two")})
    session = opened(callback=raising)
    session.run_task(step_script=job.script["One"])
    assert finished(session).state is ActionState.SUCCESS
    assert session.state is SessionState.READY
    session.run_task(step_script=job.script["Two"])
    assert finished(session).state is ActionState.SUCCESS
    assert recorder.lines == ["one", "two"]
    terminal = [s.state for s in recorder.statuses if s.state is not ActionState.RUNNING]
    assert terminal == [ActionState.SUCCESS, ActionState.SUCCESS]
    assert "the callback raised" in caplog.text


def test_callbacks_come_in_order_and_never_on_the_callers_thread(
    tmp_path: Path, recorder: Recorder, opened: Opener
) -> None:
    progress = "echo 'openjd_progress: 50'; echo 'openjd_status: half'; echo 'openjd_fail: said so'; exit 1"
    job = Job(
        tmp_path,
        {"Works": sh("echo 'openjd_progress: 50'; echo 'openjd_status: half'"), "Fails": sh(progress)},
    )
    session = opened()
    for name, last in (("Works", ActionState.SUCCESS), ("Fails", ActionState.FAILED)):
        recorder.statuses.clear()
        session.run_task(step_script=job.script[name])
        assert finished(session).state is last
        states = [s.state for s in recorder.statuses]
        assert states[0] is ActionState.RUNNING and states[-1] is last
        assert set(states[:-1]) == {ActionState.RUNNING}  # exactly one terminal status, the last
        assert [s.progress for s in recorder.statuses][1:] == [50.0] * (len(states) - 1)
        assert recorder.statuses[-1].status_message == "half"
    assert recorder.statuses[-1].fail_message == "said so" and recorder.statuses[-1].exit_code == 1
    caller = threading.current_thread()
    assert recorder.threads and all(thread is not caller for thread in recorder.threads)
    assert len(set(recorder.threads)) == 1  # the session's own thread


def test_wait(tmp_path: Path, recorder: Recorder, opened: Opener) -> None:
    job = Job(tmp_path, {"Task": sh(wait_for("go") + "; echo done", timeout=DEADLINE)})
    session = opened()
    assert session.wait() is None  # nothing ran yet: returns at once
    session.run_task(step_script=job.script["Task"])
    still = session.wait(0.05)  # the action cannot end before 'go' exists
    assert still is not None and still.state is ActionState.RUNNING
    release(session, "go")
    status = session.wait(DEADLINE)
    assert status is not None and status.state is ActionState.SUCCESS
    assert recorder.lines == ["done"] and session.state is SessionState.READY
    assert session.wait() == status  # idle: at once, the last status


def test_wait_waits_for_an_action_started_as_the_last_one_ended(
    tmp_path: Path, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window is narrow, so the test holds it open: the session's thread is paused (by its
    queue) between seeing no more work and what it does next, while this thread starts a task.
    That task ends once 'go' exists, which a helper creates as soon as wait() is called."""
    checking, proceed, waiting = threading.Event(), threading.Event(), threading.Event()
    hold = 5.0  # a fix that makes run_task wait for the session's thread here waits this out

    class GatedQueue(nonblocking.queue.SimpleQueue):  # type: ignore[name-defined,misc]
        gated = False

        def empty(self) -> bool:
            answer = super().empty()
            if not GatedQueue.gated:  # only after the first action
                GatedQueue.gated = True
                checking.set()
                proceed.wait(hold)
            return answer

    class SignallingEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waiting.set()
            return super().wait(timeout)

    monkeypatch.setattr(nonblocking, "queue", types.SimpleNamespace(SimpleQueue=GatedQueue))
    job = Job(tmp_path, {"Quick": sh("true"), "Waits": sh(wait_for("go"), timeout=DEADLINE)})
    with recorder.session() as session:
        idle = SignallingEvent()
        idle.set()
        session._idle = idle  # to see when wait() is called
        session.run_task(step_script=job.script["Quick"])
        assert checking.wait(DEADLINE)  # 'Quick' has ended and the session is READY
        session.run_task(step_script=job.script["Waits"])
        helper = threading.Thread(target=lambda: waiting.wait(DEADLINE) and release(session, "go"))
        helper.start()
        proceed.set()
        status = session.wait(DEADLINE)
        helper.join(DEADLINE)
        assert status is not None and status.state is ActionState.SUCCESS


# --- environment variables and path mapping -----------------------------------------------------


def test_action_variables_override_the_sessions_and_environments_override_both(
    tmp_path: Path, recorder: Recorder, opened: Opener
) -> None:
    show = 'echo "$0 A=$A B=$B C=$C"'
    job = Job(
        tmp_path,
        {"Task": {"command": "sh", "args": ["-c", show, "task"]}},
        [
            environment(
                "E",
                variables={"C": "env"},
                onEnter={"command": "sh", "args": ["-c", show, "enter"]},
                onExit={"command": "sh", "args": ["-c", show, "exit"]},
            )
        ],
    )
    session = opened(os_env_vars={"A": "session", "B": "session", "C": "session"})
    identifier = session.enter_environment(environment=job.env["E"], os_env_vars={"B": "enter", "C": "enter"})
    finished(session)
    session.run_task(step_script=job.script["Task"], os_env_vars={"B": "action", "C": "action"})
    finished(session)
    session.run_task(step_script=job.script["Task"])  # per action: not kept for the next
    finished(session)
    session.exit_environment(identifier=identifier, os_env_vars={"A": "exit"})
    finished(session)
    assert recorder.lines == [
        "enter A=session B=enter C=env",
        "task A=session B=action C=env",
        "task A=session B=session C=env",
        "exit A=exit B=session C=env",
    ]


def test_more_path_mapping_rules_apply_to_later_actions(
    tmp_path: Path, recorder: Recorder, opened: Opener
) -> None:
    """With openjd-model's pydantic objects and openjd-sessions' rule, as a worker has them."""
    show = (
        "{{Param.P}} {{Task.Param.T}} {{Task.RawParam.T}} {{Session.HasPathMappingRules}} "
        "{{apply_path_mapping('/src/z')}}"
    )
    template = jd.decode_job_template(
        template={
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Mapped",
            "extensions": ["EXPR"],
            "parameterDefinitions": [{"name": "P", "type": "PATH"}],
            "jobEnvironments": [{"name": "E", "variables": {"MAPPED": "{{Param.P}}"}}],
            "steps": [
                {
                    "name": "S",
                    "parameterSpace": {
                        "taskParameterDefinitions": [{"name": "T", "type": "PATH", "range": ["/x"]}]
                    },
                    "script": {
                        "actions": {
                            "onRun": {
                                "command": "sh",
                                "args": [
                                    "-c",
                                    'echo "$1"; echo "mapped=$MAPPED"; cat "$2"; echo',
                                    "sh",
                                    show,
                                    "{{Session.PathMappingRulesFile}}",
                                ],
                            }
                        }
                    },
                }
            ],
        },
        supported_extensions=["EXPR"],
    )
    session = opened(
        job_parameter_values={"P": jd.ParameterValue(type=jd.ParameterValueType.PATH, value="/src/job.exr")}
    )
    task = {"T": jd.ParameterValue(type=jd.ParameterValueType.PATH, value="/src/t.exr")}
    script = template.steps[0].script
    rule = PathMappingRule(
        source_path_format=PathFormat.POSIX,
        source_path=PurePosixPath("/src"),
        destination_path=PurePosixPath("/dst"),
    )

    def run() -> tuple[str, dict[str, Any]]:
        session.run_task(step_script=script, task_parameter_values=task, step_name="S")
        assert finished(session).state is ActionState.SUCCESS
        shown, mapped, rules = recorder.lines[-3:]
        return f"{shown} {mapped}", json.loads(rules)

    shown, rules = run()
    assert shown == "/src/job.exr /src/t.exr /src/t.exr false /src/z mapped="
    assert rules["path_mapping_rules"] == []

    session.extend_path_mapping_rules([rule])
    shown, rules = run()
    assert shown == "/dst/job.exr /dst/t.exr /src/t.exr true /dst/z mapped="
    assert rules["path_mapping_rules"] == [rule.to_dict()]

    # An environment entered from now on maps too.
    session.enter_environment(environment=template.jobEnvironments[0])
    finished(session)
    shown, _ = run()
    assert shown.endswith(" mapped=/dst/job.exr")


# --- logging ------------------------------------------------------------------------------------


def test_output_is_logged_with_the_session_id_by_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wraprun.session")
    job = Job(tmp_path, {"Task": sh("echo first; echo second")})
    with NonBlockingSession(session_id="logged") as session:
        session.run_task(step_script=job.script["Task"], step_name="Task")
        assert finished(session).state is ActionState.SUCCESS
    records = [r for r in caplog.records if r.name == "wraprun.session"]
    messages = [r.getMessage() for r in records]
    assert messages[messages.index("first") + 1] == "second"
    assert all(getattr(r, "session_id", None) == "logged" for r in records)
    assert any(m.startswith("--- Task") and m.endswith("SUCCEEDED") for m in messages)


def test_rs_task_parameter_values_are_accepted(tmp_path: Path, recorder: Recorder, opened: Opener) -> None:
    document = {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "Params",
        "steps": [
            {
                "name": "S",
                "parameterSpace": {
                    "taskParameterDefinitions": [{"name": "N", "type": "INT", "range": "1-2"}]
                },
                "script": {"actions": {"onRun": {"command": "echo", "args": ["n={{Task.Param.N}}"]}}},
            }
        ],
    }
    model = load(write(tmp_path / "params.yaml", document), "job").job
    session = opened()
    value = rs.TaskParameterValue(type=rs.TaskParameterType.INT, value=2)
    session.run_task(step_script=model.steps[0].script, task_parameter_values={"N": value}, step_name="S")
    assert finished(session).state is ActionState.SUCCESS
    assert recorder.lines == ["n=2"]
