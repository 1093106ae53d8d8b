"""templates: decode with openjd-model, one line per problem naming the file and the place."""

from __future__ import annotations

from pathlib import Path

import pytest

from wraprun.templates import TemplateError, load

from .helpers import REPO, write

JOB = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "J",
    "steps": [{"name": "S", "script": {"actions": {"onRun": {"command": "echo"}}}}],
}


def test_a_job_and_an_environment_load_with_their_kind_and_extensions() -> None:
    job = load(REPO / "examples" / "hello.yaml")
    env = load(REPO / "templates" / "docker.yaml", expect="environment")
    assert (job.kind, env.kind) == ("job", "environment")
    assert "WRAP_ACTIONS" in env.extensions and job.job.name == job.document["name"]


def test_the_wrong_kind_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        load(write(tmp_path / "job.yaml", JOB), expect="environment")
    expected = "specificationVersion: expected an environment template, got 'jobtemplate-2023-09'"
    assert caught.value.problems == [f"{tmp_path / 'job.yaml'}: {expected}"]


def test_each_problem_is_one_line_naming_its_place(tmp_path: Path) -> None:
    bad = {
        **JOB,
        "steps": [{"name": "S", "script": {"actions": {"onRun": {"command": "echo", "timeout": 0}}}}],
    }
    bad["steps"].append({"name": "S", "script": {"actions": {"onRun": {"command": "echo"}}}})
    with pytest.raises(TemplateError) as caught:
        load(write(tmp_path / "bad.yaml", bad))
    problems = caught.value.problems
    assert problems and all("\n" not in p and p.startswith(f"{tmp_path / 'bad.yaml'}: ") for p in problems)
    assert any("steps" in p for p in problems)


def test_a_document_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(TemplateError, match="a template must be a mapping at the top level"):
        load(path)
