"""End to end under the AWS Deadline Cloud worker agent's own ``Session``.

The worker agent (``deadline_worker_agent``) drives a session runtime through a
queue of session actions: enter the job environment, enter the step environment,
run four tasks, exit both environments. A second scenario fails the second task
(``openjd_fail: boom``, exit 1): the tasks queued behind it are never attempted
and both environments are still exited.

What is real: everything the agent runs between the service and the runtime.
The service's UpdateWorkerSchedule response is parsed by the agent's
``aws.deadline.update_worker_schedule`` and ``boto.DeadlineClient``; job, step
and environment details are fetched and parsed by its ``JobEntities`` (through
``batch_get_job_entity``); the run-as user is chosen by
``WorkerScheduler._determine_user_for_session`` (the job runs as the worker
agent's user, so ``os_user`` is None); the actions are queued and decoded by its
``SessionActionQueue`` and run by its ``Session`` on a thread of their own, the
way the scheduler's ``run_session`` does (``with session: session.run()``,
stopped with ``session.stop()`` once every action has reported a result). The
session log is the agent's local-file half of ``LogConfiguration.log_session``
(its file handler, format and ``SessionLogFilter`` on the ``openjd.sessions``
logger); nothing is sent anywhere remote.

What is replaced: only the AWS Deadline API client, the boto3 ``deadline``
client under the agent's ``DeadlineClient``, by ``RecordingDeadlineApi``. It
answers UpdateWorkerSchedule and BatchGetJobEntity with the service's JSON
shapes, records every call, and is also the sink of the Session's action status
reports (the ``action_update_callback`` that, in the agent, feeds the next
UpdateWorkerSchedule request). Job attachments are off (``asset_sync=None``, no
queue role, no ``jobAttachmentSettings``).

The test runs once per session runtime: ``python`` is the agent's own
``PythonSessionRuntime`` (openjd-sessions); ``wraprun`` makes the agent build
``wraprun.integrations.deadline.WraprunSessionRuntime`` instead. Both must
produce the same reports, the same files and the same session log.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .helpers import require_module

require_module("deadline_worker_agent", "deadline")  # CI installs it: there, missing fails

import botocore.session  # noqa: E402
from deadline_worker_agent.aws.deadline import update_worker_schedule  # noqa: E402
from deadline_worker_agent.boto import DeadlineClient  # noqa: E402
from deadline_worker_agent.config import JobsRunAsUserOverride  # noqa: E402
from deadline_worker_agent.scheduler.scheduler import WorkerScheduler  # noqa: E402
from deadline_worker_agent.scheduler.session_action_status import SessionActionStatus  # noqa: E402
from deadline_worker_agent.scheduler.session_queue import SessionActionQueue  # noqa: E402
from deadline_worker_agent.sessions import session as agent_session  # noqa: E402
from deadline_worker_agent.sessions.job_entities import JobEntities  # noqa: E402
from deadline_worker_agent.sessions.log_config import (  # noqa: E402
    SESSION_LOCAL_LOG_FORMAT,
    LogConfiguration,
    SessionLogConfigurationParameters,
    SessionLogFilter,
)
from deadline_worker_agent.sessions.runtime import (  # noqa: E402
    SessionRuntime,
    SessionRuntimeKind,
)
from deadline_worker_agent.sessions.runtime.python import PythonSessionRuntime  # noqa: E402
from openjd.sessions import LOG as OPENJD_LOG  # noqa: E402

FARM_ID = "farm-0123456789abcdef0123456789abcdef"
FLEET_ID = "fleet-0123456789abcdef0123456789abcdef"
WORKER_ID = "worker-0123456789abcdef0123456789abcdef"
QUEUE_ID = "queue-0123456789abcdef0123456789abcdef"
JOB_ID = "job-0123456789abcdef0123456789abcdef"
STEP_ID = "step-0123456789abcdef0123456789abcdef"
SESSION_ID = "session-0123456789abcdef0123456789abcdef"
JOB_ENV_ID = f"JOB:{JOB_ID}:JobEnv"
STEP_ENV_ID = f"STEP:{STEP_ID}:StepEnv"

# Where the job thinks its output goes, and the path mapping rule that moves it.
SOURCE_ROOT = "/mnt/deadline-farm"
SOURCE_OUT_DIR = f"{SOURCE_ROOT}/out"

FRAMES = (("1", "a"), ("2", "b"), ("3", "c"), ("4", "d"))
"""Task parameters (Frame, Label) in the order the service queues the tasks."""

SCENARIO_TIMEOUT = 60.0
"""Upper bound on one scenario; it normally takes a few seconds."""

# Every action runs this program: it appends one JSON line (what ran, with which
# arguments and which environment) to events.jsonl in the output directory, then
# does its part of the scenario through stdout.
ACTION_PROGRAM = """\
import json, os, sys
event, name, out, *rest = sys.argv[1:]
os.makedirs(out, exist_ok=True)
keys = ("JOB_VAR", "ENTER_VAR", "STEP_VAR", "DEADLINE_SESSION_ID", "DEADLINE_SESSIONACTION_ID",
        "DEADLINE_TASK_ID", "DEADLINE_STEP_ID")
env = dict((k, os.environ.get(k)) for k in keys)  # no doubled braces: this is a format string
record = {"event": event, "name": name, "args": rest, "env": env}
with open(os.path.join(out, "events.jsonl"), "a", encoding="utf-8") as f:
    f.write(json.dumps(record) + "\\n")
print(f"action says: {event} {name} {' '.join(rest)}".rstrip(), flush=True)
if event == "enter" and name == "JobEnv":
    print("openjd_env: ENTER_VAR=from-onEnter", flush=True)
if event == "task":
    frame, label, fail_frame = rest
    if frame == "2":
        print("openjd_progress: 50", flush=True)
        print("openjd_status: half", flush=True)
    if frame == fail_frame:
        print("openjd_fail: boom", flush=True)
        sys.exit(1)
"""


def run_program(event: str, name: str, file_ref: str, *extra: str) -> dict[str, Any]:
    """An OpenJD action that runs ACTION_PROGRAM (embedded as ``file_ref``)."""
    return {"command": sys.executable, "args": [file_ref, event, name, "{{Param.OutDir}}", *extra]}


def program_file() -> list[dict[str, Any]]:
    return [{"name": "Program", "type": "TEXT", "data": ACTION_PROGRAM}]


def job_environment() -> dict[str, Any]:
    return {
        "name": "JobEnv",
        "variables": {"JOB_VAR": "from-variables-{{Param.Message}}"},
        "script": {
            "embeddedFiles": program_file(),
            "actions": {
                "onEnter": run_program("enter", "JobEnv", "{{Env.File.Program}}"),
                "onExit": run_program("exit", "JobEnv", "{{Env.File.Program}}"),
            },
        },
    }


def step_environment() -> dict[str, Any]:
    return {
        "name": "StepEnv",
        "variables": {"STEP_VAR": "from-step-variables"},
        "script": {
            "embeddedFiles": program_file(),
            "actions": {
                "onEnter": run_program("enter", "StepEnv", "{{Env.File.Program}}"),
                "onExit": run_program("exit", "StepEnv", "{{Env.File.Program}}"),
            },
        },
    }


def step_template() -> dict[str, Any]:
    return {
        "name": "Render",
        "parameterSpace": {
            "taskParameterDefinitions": [
                {"name": "Frame", "type": "INT", "range": ",".join(frame for frame, _ in FRAMES)},
                {"name": "Label", "type": "STRING", "range": [label for _, label in FRAMES]},
            ],
            "combination": "(Frame, Label)",
        },
        "stepEnvironments": [step_environment()],
        "script": {
            "embeddedFiles": program_file(),
            "actions": {
                "onRun": run_program(
                    "task",
                    "Render",
                    "{{Task.File.Program}}",
                    "{{Task.Param.Frame}}",
                    "{{Task.Param.Label}}",
                    "{{Param.FailFrame}}",
                )
            },
        },
    }


def action_names() -> dict[str, str]:
    """sessionActionId -> a readable name, in queue order."""
    names = ["enter JobEnv", "enter StepEnv", *(f"task {frame}" for frame, _ in FRAMES)]
    names += ["exit StepEnv", "exit JobEnv"]
    return {f"sessionaction-{SESSION_ID[len('session-') :]}-{i}": name for i, name in enumerate(names)}


def service_session_actions() -> list[dict[str, Any]]:
    """The session's actions as UpdateWorkerSchedule returns them (service wire shape)."""
    ids = list(action_names())
    definitions: list[dict[str, Any]] = [
        {"envEnter": {"environmentId": JOB_ENV_ID}},
        {"envEnter": {"environmentId": STEP_ENV_ID}},
    ]
    for frame, label in FRAMES:
        definitions.append(
            {
                "taskRun": {
                    "stepId": STEP_ID,
                    "taskId": f"task-{STEP_ID[len('step-') :]}-{frame}",
                    "parameters": {"Frame": {"int": frame}, "Label": {"string": label}},
                }
            }
        )
    definitions += [
        {"envExit": {"environmentId": STEP_ENV_ID}},
        {"envExit": {"environmentId": JOB_ENV_ID}},
    ]
    return [{"sessionActionId": i, "definition": d} for i, d in zip(ids, definitions, strict=True)]


def job_entities_data(tmp_path: Path, fail_frame: int) -> dict[str, dict[str, Any]]:
    """BatchGetJobEntity entities (service wire shape), keyed by the id each is requested by."""
    return {
        JOB_ID: {
            "jobDetails": {
                "jobId": JOB_ID,
                "logGroupName": f"/aws/deadline/{FARM_ID}/{QUEUE_ID}",
                "schemaVersion": "jobtemplate-2023-09",
                "parameters": {
                    "Message": {"string": "hello"},
                    "OutDir": {"path": SOURCE_OUT_DIR},
                    "FailFrame": {"int": str(fail_frame)},
                },
                "jobRunAsUser": {"runAs": "WORKER_AGENT_USER"},
                "pathMappingRules": [
                    {
                        "sourcePathFormat": "posix",
                        "sourcePath": SOURCE_ROOT,
                        "destinationPath": str(tmp_path / "farm"),
                    }
                ],
            }
        },
        JOB_ENV_ID: {
            "environmentDetails": {
                "jobId": JOB_ID,
                "environmentId": JOB_ENV_ID,
                "schemaVersion": "jobtemplate-2023-09",
                "template": job_environment(),
            }
        },
        STEP_ENV_ID: {
            "environmentDetails": {
                "jobId": JOB_ID,
                "environmentId": STEP_ENV_ID,
                "schemaVersion": "jobtemplate-2023-09",
                "template": step_environment(),
            }
        },
        STEP_ID: {
            "stepDetails": {
                "jobId": JOB_ID,
                "stepId": STEP_ID,
                "schemaVersion": "jobtemplate-2023-09",
                "template": step_template(),
                "dependencies": [],
            }
        },
    }


class RecordingDeadlineApi:
    """Stand-in for the boto3 ``deadline`` client: answers from fixed service data, records every call.

    ``report_action_update`` is the Session's ``action_update_callback``: the channel through which
    the agent's Session reports every action status (in the agent, the scheduler turns these into
    the next UpdateWorkerSchedule request).
    """

    def __init__(self, entities: dict[str, dict[str, Any]], session_actions: list[dict[str, Any]]) -> None:
        # JobEntities sizes its batches from the real service model, read off the boto3 client.
        self._service_model = botocore.session.get_session().get_service_model("deadline")
        self._entities = entities
        self._session_actions = session_actions
        self._lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.reports: list[SessionActionStatus] = []

    def update_worker_schedule(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("UpdateWorkerSchedule", request))
        return {
            "assignedSessions": {
                SESSION_ID: {
                    "queueId": QUEUE_ID,
                    "jobId": JOB_ID,
                    "sessionActions": self._session_actions,
                    # As the service sends it. The test never provisions it: the agent's
                    # LogConfiguration.log_session always adds a CloudWatch handler, so only its
                    # local-file half is used (local_session_log).
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {"logGroupName": "unused", "logStreamName": SESSION_ID},
                        "parameters": {"interval": "15"},
                    },
                }
            },
            "cancelSessionActions": {},
            "updateIntervalSeconds": 15,
        }

    def batch_get_job_entity(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("BatchGetJobEntity", request))
        entities = []
        for identifier in request["identifiers"]:
            ((kind, fields),) = identifier.items()
            key = {
                "jobDetails": "jobId",
                "stepDetails": "stepId",
                "environmentDetails": "environmentId",
            }[kind]
            entities.append(self._entities[fields[key]])
        return {"entities": entities, "errors": []}

    def report_action_update(self, status: SessionActionStatus) -> None:
        with self._lock:
            self.reports.append(status)

    def snapshot(self) -> list[SessionActionStatus]:
        with self._lock:
            return list(self.reports)


@dataclass(frozen=True)
class Report:
    """One action status report from the Session, with the action by name."""

    action: str
    completed: str | None
    state: str | None
    progress: float | None = None
    status: str | None = None
    fail: str | None = None
    exit_code: int | None = None


def summarize(reports: list[SessionActionStatus]) -> list[Report]:
    """The reports in order, reduced to what the runtime decides; repeats of an identical report dropped.

    The scheduler keeps only the latest report of each action for its next UpdateWorkerSchedule,
    so a report identical to the one just before it carries nothing and a runtime may or may not
    send it.
    """
    names = action_names()
    out: list[Report] = []
    for r in reports:
        s = r.status
        report = Report(
            action=names[r.id],
            completed=r.completed_status,
            state=s.state.name if s else None,
            progress=s.progress if s else None,
            status=s.status_message if s else None,
            fail=s.fail_message if s else None,
            exit_code=s.exit_code if s else None,
        )
        if not out or out[-1] != report:
            out.append(report)
    return out


def runtime_factory(kind: str, monkeypatch: pytest.MonkeyPatch) -> type[SessionRuntime]:
    """Make the agent build the runtime under test; returns the class it must build."""
    if kind == "python":
        return PythonSessionRuntime  # the agent's default for SessionRuntimeKind.PYTHON
    from deadline_worker_agent.sessions.runtime import _factory

    from wraprun.integrations.deadline import WraprunSessionRuntime, use_wraprun

    # The documented switch (what wraprun-deadline-worker-agent does); monkeypatch puts the
    # agent back afterwards.
    monkeypatch.setattr(agent_session, "create_session_runtime", agent_session.create_session_runtime)
    monkeypatch.setattr(_factory, "create_session_runtime", _factory.create_session_runtime)
    use_wraprun()
    return WraprunSessionRuntime


@dataclass
class Outcome:
    api: RecordingDeadlineApi
    reports: list[Report]
    events: list[dict[str, Any]]
    session_log: str
    runtime: SessionRuntime
    session_root: Path
    working_directory: Path


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def local_session_log(path: Path) -> Iterator[None]:
    """The local-file half of the agent's ``LogConfiguration.log_session``: its handler, format and filter."""
    config = LogConfiguration(
        loggers=[OPENJD_LOG],
        options={},
        session_log_file=path,
        parameters=SessionLogConfigurationParameters(),
    )
    handler = config.create_local_file_handler()
    handler.setFormatter(logging.Formatter(SESSION_LOCAL_LOG_FORMAT))
    handler.addFilter(SessionLogFilter(session_id=SESSION_ID))
    for log in config.loggers:
        log.addHandler(handler)
    try:
        yield
    finally:
        for log in config.loggers:
            log.removeHandler(handler)
        handler.close()


def run_scenario(tmp_path: Path, fail_frame: int) -> Outcome:
    """Receive the session as the agent does, run it on its own thread to the end, stop it."""
    api = RecordingDeadlineApi(job_entities_data(tmp_path, fail_frame), service_session_actions())
    client = DeadlineClient(api)

    schedule = update_worker_schedule(
        deadline_client=client, farm_id=FARM_ID, fleet_id=FLEET_ID, worker_id=WORKER_ID
    )
    assigned = schedule["assignedSessions"][SESSION_ID]
    job_entities = JobEntities(
        farm_id=FARM_ID,
        fleet_id=FLEET_ID,
        worker_id=WORKER_ID,
        job_id=assigned["jobId"],
        deadline_client=client,
        windows_credentials_resolver=None,
        job_run_as_user_override=None,
    )
    job_details = job_entities.job_details()
    os_user = WorkerScheduler._determine_user_for_session(
        host_is_posix=True,
        job_run_as_user=job_details.job_run_as_user,
        job_run_as_user_override=JobsRunAsUserOverride(run_as_agent=False),
        queue_id=assigned["queueId"],
        job_id=assigned["jobId"],
        session_id=SESSION_ID,
    )
    assert os_user is None

    queue = SessionActionQueue(
        queue_id=assigned["queueId"],
        job_id=assigned["jobId"],
        session_id=SESSION_ID,
        job_entities=job_entities,
        action_update_callback=api.report_action_update,
    )
    queue.replace(actions=assigned["sessionActions"])
    session_root = tmp_path / "sessions"
    session_root.mkdir()
    session = agent_session.Session(
        id=SESSION_ID,
        queue=queue,
        env={
            "DEADLINE_SESSION_ID": SESSION_ID,
            "DEADLINE_FARM_ID": FARM_ID,
            "DEADLINE_QUEUE_ID": assigned["queueId"],
            "DEADLINE_JOB_ID": assigned["jobId"],
            "DEADLINE_FLEET_ID": FLEET_ID,
            "DEADLINE_WORKER_ID": WORKER_ID,
        },
        queue_id=assigned["queueId"],
        job_id=assigned["jobId"],
        asset_sync=None,
        os_user=os_user,
        session_runtime_kind=SessionRuntimeKind.PYTHON,
        job_details=job_details,
        action_update_callback=api.report_action_update,
        action_update_lock=threading.RLock(),
        session_root_dir=session_root,
        farm_id=FARM_ID,
        resolved_symbol_table_json=queue.peek_resolved_symbol_table_json(),
    )
    working_directory = session.working_directory

    errors: list[BaseException] = []

    def run_session() -> None:
        try:
            with session:
                session.run()
        except BaseException as e:  # reported by the test, not lost in the thread
            errors.append(e)

    def all_reported() -> bool:
        completed = {r.id for r in api.snapshot() if r.completed_status is not None}
        return completed >= set(action_names())

    log_path = tmp_path / f"{SESSION_ID}.log"
    thread = threading.Thread(target=run_session, name=SESSION_ID, daemon=True)
    with local_session_log(log_path):
        thread.start()
        try:
            wait_for(
                lambda: all_reported() or not thread.is_alive(), SCENARIO_TIMEOUT, "every action's result"
            )
        finally:
            session.stop()
            thread.join(SCENARIO_TIMEOUT)
    assert not thread.is_alive(), "the session did not stop"
    assert not errors, errors

    events_file = tmp_path / "farm" / "out" / "events.jsonl"
    events = [json.loads(line) for line in events_file.read_text(encoding="utf-8").splitlines()]
    return Outcome(
        api=api,
        reports=summarize(api.snapshot()),
        events=events,
        session_log=log_path.read_text(encoding="utf-8"),
        runtime=session.runtime,
        session_root=session_root,
        working_directory=working_directory,
    )


def task_id(frame: str) -> str:
    return f"task-{STEP_ID[len('step-') :]}-{frame}"


def expected_env(action: str) -> dict[str, str | None]:
    """The environment the action's process must see (ACTION_PROGRAM records these variables)."""
    ids = {name: action_id for action_id, name in action_names().items()}
    env: dict[str, str | None] = {
        "JOB_VAR": "from-variables-hello",  # JobEnv's `variables:`, with {{Param.Message}}
        "ENTER_VAR": "from-onEnter",  # JobEnv's onEnter printed `openjd_env: ENTER_VAR=...`
        "STEP_VAR": "from-step-variables",  # StepEnv's `variables:`
        "DEADLINE_SESSION_ID": SESSION_ID,  # the Session's env, as the scheduler sets it
        "DEADLINE_SESSIONACTION_ID": ids[action],  # each action's os_env_vars
        "DEADLINE_TASK_ID": None,
        "DEADLINE_STEP_ID": None,
    }
    if action == "enter JobEnv":
        env.update(ENTER_VAR=None, STEP_VAR=None)
    elif action == "exit JobEnv":
        env.update(STEP_VAR=None)
    elif action.startswith("task "):
        env.update(DEADLINE_TASK_ID=task_id(action.split()[1]), DEADLINE_STEP_ID=STEP_ID)
    return env


def ran(outcome: Outcome) -> list[tuple[str, list[str], dict[str, str | None]]]:
    """What each action's process recorded: (action, its extra arguments, its environment)."""
    out = []
    for e in outcome.events:
        action = f"task {e['args'][0]}" if e["event"] == "task" else f"{e['event']} {e['name']}"
        out.append((action, e["args"], e["env"]))
    return out


def expected_ran(actions: list[str], fail_frame: int) -> list[tuple[str, list[str], dict[str, str | None]]]:
    labels = dict(FRAMES)
    return [
        (
            action,
            [action.split()[1], labels[action.split()[1]], str(fail_frame)]
            if action.startswith("task ")
            else [],
            expected_env(action),
        )
        for action in actions
    ]


def action_output(session_log: str) -> list[str]:
    """The lines the actions printed, as they reached the session log (the agent's local file format)."""
    messages = [line.split(" ", 3)[3] if line.count(" ") >= 3 else "" for line in session_log.splitlines()]
    return [m for m in messages if m.startswith(("action says:", "openjd_"))]


def started_and_succeeded(action: str) -> list[Report]:
    return [
        Report(action, completed=None, state="RUNNING"),
        Report(action, completed="SUCCEEDED", state="SUCCESS", exit_code=0),
    ]


TASK_2_RUNNING = [
    Report("task 2", completed=None, state="RUNNING"),
    Report("task 2", completed=None, state="RUNNING", progress=50.0),
    Report("task 2", completed=None, state="RUNNING", progress=50.0, status="half"),
]

RUNTIMES = ["python", "wraprun"]


def check_common(outcome: Outcome, expected_class: type[SessionRuntime]) -> None:
    """What holds in both scenarios: the runtime the agent built, the API traffic, the cleanup."""
    assert isinstance(outcome.runtime, expected_class)
    # Nothing but the two calls a session needs went to the service, all for this worker and job.
    kinds = [kind for kind, _ in outcome.api.calls]
    assert kinds[0] == "UpdateWorkerSchedule"
    assert set(kinds[1:]) == {"BatchGetJobEntity"}
    for _, request in outcome.api.calls:
        assert (request["farmId"], request["fleetId"], request["workerId"]) == (FARM_ID, FLEET_ID, WORKER_ID)
    # The session's working directory is gone once the session has stopped.
    assert outcome.working_directory.parent == outcome.session_root
    assert not outcome.working_directory.exists()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_the_agent_runs_a_whole_session(
    runtime: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected_class = runtime_factory(runtime, monkeypatch)

    outcome = run_scenario(tmp_path, fail_frame=0)

    check_common(outcome, expected_class)
    assert outcome.reports == [
        *started_and_succeeded("enter JobEnv"),
        *started_and_succeeded("enter StepEnv"),
        *started_and_succeeded("task 1"),
        *TASK_2_RUNNING,
        Report("task 2", completed="SUCCEEDED", state="SUCCESS", progress=50.0, status="half", exit_code=0),
        *started_and_succeeded("task 3"),
        *started_and_succeeded("task 4"),
        *started_and_succeeded("exit StepEnv"),
        *started_and_succeeded("exit JobEnv"),
    ]
    # Every action ran once, in order, in the environment the job defines; the output landed
    # where the path mapping rule sends /mnt/deadline-farm.
    assert ran(outcome) == expected_ran(list(action_names().values()), fail_frame=0)
    assert action_output(outcome.session_log) == [
        "action says: enter JobEnv",
        "openjd_env: ENTER_VAR=from-onEnter",
        "action says: enter StepEnv",
        "action says: task Render 1 a 0",
        "action says: task Render 2 b 0",
        "openjd_progress: 50",
        "openjd_status: half",
        "action says: task Render 3 c 0",
        "action says: task Render 4 d 0",
        "action says: exit StepEnv",
        "action says: exit JobEnv",
    ]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_failed_task_ends_the_tasks_but_not_the_exits(
    runtime: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected_class = runtime_factory(runtime, monkeypatch)

    outcome = run_scenario(tmp_path, fail_frame=2)

    check_common(outcome, expected_class)
    assert outcome.reports == [
        *started_and_succeeded("enter JobEnv"),
        *started_and_succeeded("enter StepEnv"),
        *started_and_succeeded("task 1"),
        *TASK_2_RUNNING,
        # openjd_fail is reported while the task still runs ...
        Report("task 2", completed=None, state="RUNNING", progress=50.0, status="half", fail="boom"),
        # ... and when it ends, the agent drops the tasks queued behind it (with its message)
        # before it reports the failure itself; the environment exits stay queued.
        Report("task 3", completed="NEVER_ATTEMPTED", state="FAILED", fail="boom"),
        Report("task 4", completed="NEVER_ATTEMPTED", state="FAILED", fail="boom"),
        Report(
            "task 2",
            completed="FAILED",
            state="FAILED",
            progress=50.0,
            status="half",
            fail="boom",
            exit_code=1,
        ),
        *started_and_succeeded("exit StepEnv"),
        *started_and_succeeded("exit JobEnv"),
    ]
    assert ran(outcome) == expected_ran(
        ["enter JobEnv", "enter StepEnv", "task 1", "task 2", "exit StepEnv", "exit JobEnv"], fail_frame=2
    )
    assert action_output(outcome.session_log) == [
        "action says: enter JobEnv",
        "openjd_env: ENTER_VAR=from-onEnter",
        "action says: enter StepEnv",
        "action says: task Render 1 a 2",
        "action says: task Render 2 b 2",
        "openjd_progress: 50",
        "openjd_status: half",
        "openjd_fail: boom",
        "action says: exit StepEnv",
        "action says: exit JobEnv",
    ]
