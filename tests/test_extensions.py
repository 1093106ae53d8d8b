"""``--extensions LIST``: the extensions a template may declare, on every command that reads one."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wraprun.check import plan_run_options
from wraprun.cli import build_parser
from wraprun.submit import _stage, _work
from wraprun.templates import SUPPORTED_EXTENSIONS

from .helpers import wraprun, write

COMMANDS = ["check", "summary", "run", "session"]


def job(tmp: Path, extensions: list[str], marker: Path | None = None) -> Path:
    """A job declaring ``extensions`` whose one task touches ``marker`` (to tell it ran)."""
    touch = {"command": "touch", "args": [str(marker or tmp / "ran")]}
    document: dict[str, Any] = {"specificationVersion": "jobtemplate-2023-09", "name": "J"}
    if extensions:
        document["extensions"] = extensions
    document["steps"] = [{"name": "S", "script": {"actions": {"onRun": touch}}}]
    return write(tmp / "job.yaml", document)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_template_declaring_an_extension_not_accepted_is_invalid(tmp_path: Path, command: str) -> None:
    template = job(tmp_path, ["TASK_CHUNKING"])
    out = wraprun(command, str(template), "--extensions", "EXPR")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == f"{template}: extensions: Unsupported extension names: TASK_CHUNKING\n"
    assert not (tmp_path / "ran").exists()
    accepted = wraprun(command, str(template), "--extensions", " expr , Task_Chunking,")  # any case, spaces
    assert accepted.returncode == 0, accepted.stderr


@pytest.mark.parametrize("command", [*COMMANDS, "submit"])
def test_an_unknown_extension_name_is_one_line_and_exit_2(tmp_path: Path, command: str) -> None:
    template = job(tmp_path, [])
    more = ["--slurm"] if command == "submit" else []
    out = wraprun(command, str(template), *more, "--extensions", "EXPR,NOPE,Other")
    assert out.returncode == 2 and out.stdout == ""
    supported = ",".join(SUPPORTED_EXTENSIONS)
    assert out.stderr == f"--extensions: unsupported: NOPE, OTHER (supported: {supported})\n"


def test_environment_templates_are_held_to_the_list_too(tmp_path: Path) -> None:
    env = write(
        tmp_path / "env.yaml",
        {
            "specificationVersion": "environment-2023-09",
            "extensions": ["REDACTED_ENV_VARS"],
            "environment": {"name": "E", "variables": {"A": "1"}},
        },
    )
    template = job(tmp_path, [])
    for command in ("summary", "run"):
        out = wraprun(command, str(template), "--env", str(env), "--extensions", "EXPR")
        assert (out.returncode, out.stderr) == (
            2,
            f"{env}: extensions: Unsupported extension names: REDACTED_ENV_VARS\n",
        )
    assert wraprun("check", str(env), "--extensions", "EXPR").returncode == 2
    assert wraprun("check", str(env), "--extensions", "REDACTED_ENV_VARS").returncode == 0


def test_by_default_every_supported_extension_is_accepted_and_an_empty_list_accepts_none(
    tmp_path: Path,
) -> None:
    everything = job(tmp_path, list(SUPPORTED_EXTENSIONS))
    assert wraprun("check", str(everything)).returncode == 0
    assert wraprun("check", str(everything), "--extensions=").returncode == 2
    (tmp_path / "plain").mkdir()
    plain = job(tmp_path / "plain", [])
    assert wraprun("check", str(plain), "--extensions=").returncode == 0


# A template's list is valid on its own (WRAP_ACTIONS needs EXPR beside it): the rule under test
# is only what the runtime accepts.
DECLARED = st.sets(st.sampled_from(SUPPORTED_EXTENSIONS)).filter(
    lambda d: "WRAP_ACTIONS" not in d or "EXPR" in d
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(DECLARED, st.sets(st.sampled_from(SUPPORTED_EXTENSIONS)))
def test_a_template_is_accepted_exactly_when_it_declares_only_accepted_extensions(
    tmp_path: Path, declared: set[str], accepted: set[str]
) -> None:
    template = job(tmp_path, sorted(declared))
    out = wraprun("check", str(template), f"--extensions={','.join(sorted(accepted))}")
    assert out.returncode == (0 if declared <= accepted else 2), out.stderr


@pytest.mark.parametrize("given_list", [None, "TASK_CHUNKING,EXPR", ""])
def test_submit_hands_the_list_to_every_nodes_session(tmp_path: Path, given_list: str | None) -> None:
    marker = tmp_path / "node-ran"
    template = job(tmp_path, [] if given_list == "" else ["EXPR"], marker)
    flags = [] if given_list is None else [f"--extensions={given_list}"]
    args = build_parser().parse_args(["submit", str(template), "--slurm", *flags])
    plan = plan_run_options(args)
    assert plan is not None
    work, picks = _work(plan, None)
    stage = tmp_path / "stage"
    stage.mkdir()
    command = _stage(stage, plan, args, picks)(work[0].slices[0])  # what the array element runs
    assert [a for a in command if a.startswith("--extensions")] == flags
    node = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert node.returncode == 0, node.stderr
    assert marker.exists()
