"""session: the Python API a worker agent drives, without the CLI."""

from __future__ import annotations

import io
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
