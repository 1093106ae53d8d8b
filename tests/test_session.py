"""session: the Python API a worker agent drives, without the CLI."""

from __future__ import annotations

import io
import shutil
import threading
from pathlib import Path

import pytest

from wraprun import Session, events, job, templates

from .helpers import write


def plan_for(tmp: Path, document: dict, session: Session, envs: list[dict] | None = None) -> job.JobPlan:
    job_template = templates.load(write(tmp / "job.yaml", document))
    env_templates = [templates.load(write(tmp / f"env{i}.yaml", e)) for i, e in enumerate(envs or [])]
    created = job.create(job_template, env_templates, {})
    return job.plan(created, job_template, env_templates)


def task_job(body: str, **action: object) -> dict:
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "name": "Api",
        "jobEnvironments": [
            {
                "name": "E",
                "variables": {"FROM_VARS": "v1"},
                "script": {
                    "actions": {
                        "onEnter": {"command": "python", "args": ["-c", "print('openjd_env: FROM_ENTER=v2')"]}
                    }
                },
            }
        ],
        "steps": [
            {
                "name": "S",
                "script": {"actions": {"onRun": {"command": "python", "args": ["-c", body], **action}}},
            }
        ],
    }


def test_drive_a_session_step_by_step(tmp_path: Path) -> None:
    seen: list[events.Event] = []
    with Session(callback=seen.append) as session:
        plan = plan_for(
            tmp_path,
            task_job(
                "import os; print('openjd_progress: 50'); print('openjd_status: half');"
                "print(os.environ['FROM_VARS'], os.environ['FROM_ENTER'])"
            ),
            session,
        )
        ((origin, env, scope),) = plan.environments
        assert session.enter_environment(env, scope, origin).succeeded
        assert session.environments_entered == ["E"]
        step = plan.steps[0]
        result = session.run_task("S", step.script, step.scope, step.tasks[0])
        assert result.succeeded and result.exit_code == 0
        assert (result.progress, result.status_message) == (50.0, "half")
        assert session.exit_environment().succeeded
        assert session.environments_entered == []
        working = Path(session.working_directory)
        assert working.is_dir()
    assert not working.exists()
    output = b"".join(e.data for e in seen if isinstance(e, events.ActionOutput))
    assert b"v1 v2" in output
    assert [e.state for e in seen if isinstance(e, events.ActionEnded)] == [
        "SUCCEEDED"
    ] * 2  # E has no onExit


def test_cancel_from_another_thread(tmp_path: Path) -> None:
    with Session() as session:
        plan = plan_for(
            tmp_path,
            task_job(
                "import time; print('go', flush=True); time.sleep(60)",
                cancelation={"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 1},
            ),
            session,
        )
        step = plan.steps[0]
        threading.Timer(0.5, session.cancel).start()
        result = session.run_task("S", step.script, step.scope, step.tasks[0])
        assert result.state == "CANCELED"
        assert (Path(session.working_directory) / "cancel_info.json").exists()


def test_second_wrapping_environment_is_refused(tmp_path: Path) -> None:
    hooks = {h: {"command": "true"} for h in ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")}
    wrapper = {
        "specificationVersion": "environment-2023-09",
        "extensions": ["WRAP_ACTIONS", "EXPR"],
        "environment": {"name": "W1", "script": {"actions": hooks}},
    }
    other = {**wrapper, "environment": {"name": "W2", "script": {"actions": hooks}}}
    with Session() as session:
        plan = plan_for(tmp_path, task_job("print(1)"), session, envs=[wrapper, other])
        (o1, w1, s1), (o2, w2, s2), _ = plan.environments
        assert session.enter_environment(w1, s1, o1).succeeded
        with pytest.raises(ValueError, match="W1"):
            session.enter_environment(w2, s2, o2)


def test_redacted_values_never_reach_events(tmp_path: Path) -> None:
    seen: list[events.Event] = []
    document = task_job("import os; print('leak:', os.environ.get('TOKEN'))")
    document["extensions"] = ["REDACTED_ENV_VARS"]
    document["jobEnvironments"][0]["script"]["actions"]["onEnter"]["args"] = [
        "-c",
        "print('openjd_redacted_env: TOKEN=hunter2'); print('openjd_status: using hunter2')",
    ]
    with Session(callback=seen.append) as session:
        plan = plan_for(tmp_path, document, session)
        ((origin, env, scope),) = plan.environments
        session.enter_environment(env, scope, origin)
        step = plan.steps[0]
        session.run_task("S", step.script, step.scope, step.tasks[0])
        session.exit_environment()
    for sink_type in (events.HumanSink, events.JsonLinesSink):
        stream = io.StringIO()
        sink = sink_type(stream)
        for event in seen:
            sink(event)
        assert "hunter2" not in stream.getvalue()
        assert "********" in stream.getvalue()
    later = [e for e in seen if isinstance(e, (events.ActionOutput, events.ActionProgress))]
    assert "hunter2" not in repr(later) and "leak: ********" in repr(later)


def run_job(tmp: Path, document: dict, envs: list[dict] | None = None) -> list[events.Event]:
    """Enter every environment, run every task, exit: the events seen."""
    seen: list[events.Event] = []
    with Session(callback=seen.append) as session:
        plan = plan_for(tmp, document, session, envs)
        for origin, env, scope in plan.environments:
            session.enter_environment(env, scope, origin)
        for step in plan.steps:
            for environment in step.environments:
                session.enter_environment(environment, step.scope)
            for task in step.tasks:
                session.run_task(step.step.name, step.script, step.scope, task)
        while session.environments_entered:
            session.exit_environment()
    return seen


def shown(seen: list[events.Event]) -> str:
    return b"".join(e.data for e in seen if isinstance(e, events.ActionOutput)).decode()


def test_a_status_set_before_its_secret_was_declared_is_never_shown_again(tmp_path: Path) -> None:
    body = (
        "print('openjd_status: token is s3cr3t', flush=True);"
        "print('openjd_redacted_env: T=s3cr3t');"
        "print('openjd_progress: 50'); print('openjd_fail: s3cr3t broke'); raise SystemExit(1)"
    )
    seen = run_job(tmp_path, task_job(body))
    # The first status line comes before the declaration (shown as printed); the
    # progress line after it re-sends the status, which must be masked by then.
    (progress,) = [e for e in seen if isinstance(e, events.ActionProgress) and e.progress == 50]
    assert progress.status == "token is ********"
    (failed,) = [e for e in seen if isinstance(e, events.ActionEnded) and e.state == "FAILED"]
    assert failed.message == "******** broke"


WRITES_OVER_ITS_FILES = "cat {{Env.File.Note}}; echo changed > {{Env.File.Note}}"


def test_environment_files_are_written_before_each_of_its_actions(tmp_path: Path) -> None:
    """Template Schemas §6: 'written prior to every one of the corresponding actions'."""
    document = task_job("print('task')")
    document["jobEnvironments"][0]["script"] = {
        "embeddedFiles": [{"name": "Note", "type": "TEXT", "data": "original\n"}],
        "actions": {
            "onEnter": {"command": "sh", "args": ["-c", WRITES_OVER_ITS_FILES]},
            "onExit": {"command": "sh", "args": ["-c", WRITES_OVER_ITS_FILES]},
        },
    }
    assert shown(run_job(tmp_path, document)).split() == ["original", "task", "original"]


def wrapper_env(shell: str, *args: str, **script: object) -> dict:
    """A wrapping environment 'W' whose three hooks run ``sh -c SHELL hook ARGS...``."""
    hook = {"command": "sh", "args": ["-c", shell, "hook", *args]}
    actions = {h: hook for h in ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")}
    return {
        "specificationVersion": "environment-2023-09",
        "extensions": ["WRAP_ACTIONS", "EXPR"],
        "environment": {"name": "W", "script": {**script, "actions": actions}},
    }


FORWARD = ("{{WrappedAction.Command}}", "{{WrappedAction.Args}}")


def test_a_wrappers_own_files_are_written_before_each_hook(tmp_path: Path) -> None:
    note = [{"name": "Note", "type": "TEXT", "data": "original\n"}]
    wrapper = wrapper_env(WRITES_OVER_ITS_FILES + '; exec "$@"', *FORWARD, embeddedFiles=note)
    document = task_job("print('task')")
    document["jobEnvironments"][0]["script"]["actions"]["onExit"] = {"command": "echo", "args": ["exit"]}
    out = shown(run_job(tmp_path, document, [wrapper])).split()
    assert [w for w in out if w in ("original", "task", "exit")] == [
        *("original", "original", "task"),  # the hook for onEnter, then for the task
        *("original", "exit"),  # the hook for onExit
    ]


def test_every_action_sees_the_session_working_directory_in_its_environment(tmp_path: Path) -> None:
    document = task_job("import os; print('task', os.environ['OPENJD_SESSION_WORKING_DIR'])")
    document["jobEnvironments"][0]["script"]["actions"]["onEnter"] = {
        "command": "sh",
        "args": ["-c", 'echo enter "$OPENJD_SESSION_WORKING_DIR" {{Session.WorkingDirectory}}'],
    }
    enter, task = shown(run_job(tmp_path, document)).splitlines()
    _, env_value, template_value = enter.split()
    assert env_value == template_value and task == f"task {template_value}"


def test_a_nul_byte_in_openjd_env_is_a_warning_also_under_a_wrapper(tmp_path: Path) -> None:
    wrapper = wrapper_env('exec "$@"', *FORWARD, "{{WrappedAction.Environment}}")
    document = task_job("print('task ran')")
    document["jobEnvironments"][0]["script"]["actions"]["onEnter"]["args"] = [
        "-c",
        "import sys; sys.stdout.write('openjd_env: BAD=a\\0b\\n')",
    ]
    seen = run_job(tmp_path, document, [wrapper])
    warnings = [e.text for e in seen if isinstance(e, events.SessionMessage)]
    assert warnings == ["openjd_env: BAD: a value cannot hold a NUL byte"]
    assert "task ran" in shown(seen)


def test_errors_of_the_python_api(tmp_path: Path) -> None:
    """Misuse raises SessionStateError; anything an action's own content causes, including
    files that cannot be written, is that action's FAILED result."""
    from wraprun.session import SessionStateError

    document = task_job("print(1)")
    document["steps"][0]["script"]["embeddedFiles"] = [{"name": "F", "type": "TEXT", "data": "d"}]
    with Session() as session:
        with pytest.raises(SessionStateError):
            session.exit_environment()
        plan = plan_for(tmp_path, document, session)
        step = plan.steps[0]
        shutil.rmtree(session.files_directory)  # where task files go: the write fails
        result = session.run_task("S", step.script, step.scope, step.tasks[0])
        assert result.state == "FAILED" and "No such file or directory" in result.fail_message


def test_events_say_what_each_action_is_for_as_data(tmp_path: Path) -> None:
    """Sinks (the result document, the report) read the environment or step an action is for
    from the events, never from the label; also for a hook, and for one that never started."""
    wrapper = {
        "specificationVersion": "environment-2023-09",
        "extensions": ["EXPR", "WRAP_ACTIONS"],
        "environment": {
            "name": "W",
            "script": {
                "actions": {
                    hook: {"command": "{{WrappedAction.Command}}", "args": ["{{WrappedAction.Args}}"]}
                    for hook in ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")
                }
            },
        },
    }
    seen: list[events.Event] = []
    with Session(callback=seen.append) as session:
        plan = plan_for(tmp_path, task_job("print('hi')"), session, [wrapper])
        for origin, env, scope in plan.environments:
            assert session.enter_environment(env, scope, origin).succeeded
        step = plan.steps[0]
        assert session.run_task("S", step.script, step.scope, step.tasks[0]).succeeded
        (tmp_path / "b").mkdir()
        # An argument past the OS limit (MAX_ARG_STRLEN): refused before any process starts.
        broken = plan_for(tmp_path / "b", task_job("#" + "x" * 200_000), session).steps[0]
        assert not session.run_task("S", broken.script, broken.scope, broken.tasks[0]).succeeded
    started = [(e.kind, e.subject, e.wrapped_by) for e in seen if isinstance(e, events.ActionStarted)]
    assert started == [("onWrapEnvEnter", "E", "W"), ("onWrapTaskRun", "S", "W")]
    ended = [(e.purpose, e.subject, e.state) for e in seen if isinstance(e, events.ActionEnded)]
    assert ended == [("onEnter", "E", "SUCCEEDED"), ("onRun", "S", "SUCCEEDED"), ("onRun", "S", "FAILED")]
