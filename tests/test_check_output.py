"""``wraprun check --output human|json|yaml``: the same verdicts, as lines or as a document."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import wraprun, write

JOB = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "J",
    "steps": [{"name": "S", "script": {"actions": {"onRun": {"command": "echo"}}}}],
}
ENV = {"specificationVersion": "environment-2023-09", "environment": {"name": "E", "variables": {"A": "1"}}}
BAD = {"specificationVersion": "jobtemplate-2023-09", "name": "J", "steps": []}


def files(tmp: Path, kinds: list[str]) -> list[str]:
    documents = {"job": JOB, "environment": ENV, "bad": BAD}
    return [str(write(tmp / f"{i}-{kind}.yaml", documents[kind])) for i, kind in enumerate(kinds)]


def document(out: subprocess.CompletedProcess[str], output: str) -> Any:
    return json.loads(out.stdout) if output == "json" else yaml.safe_load(out.stdout)


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_one_valid_file_is_openjd_clis_success_document(tmp_path: Path, output: str) -> None:
    [job] = files(tmp_path, ["job"])
    out = wraprun("check", job, "--output", output)
    assert out.returncode == 0 and out.stderr == ""
    assert document(out, output) == {
        "status": "success",
        "message": f"{job}: valid job template",
        "path": job,
        "kind": "job",
        "problems": [],
    }


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_one_invalid_file_is_an_error_document_and_its_lines_on_stderr(tmp_path: Path, output: str) -> None:
    [bad] = files(tmp_path, ["bad"])
    human = wraprun("check", bad)
    out = wraprun("check", bad, "--output", output)
    assert out.returncode == human.returncode == 2
    assert out.stderr == human.stderr and out.stderr.startswith(f"{bad}: ")
    problems = out.stderr.splitlines()
    assert document(out, output) == {
        "status": "error",
        "message": "\n".join(problems),
        "path": bad,
        "kind": None,
        "problems": problems,
    }


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["job", "environment", "bad"]), min_size=2, max_size=4))
def test_several_files_are_a_list_in_order_under_an_overall_status(tmp_path: Path, kinds: list[str]) -> None:
    names = files(tmp_path, kinds)
    out = wraprun("check", *names, "--output", "json")
    invalid = kinds.count("bad")
    assert out.returncode == (2 if invalid else 0)
    checked = json.loads(out.stdout)
    assert checked["status"] == ("error" if invalid else "success")
    assert checked["message"] == f"{len(kinds) - invalid} of {len(kinds)} templates valid"
    assert [r["path"] for r in checked["results"]] == names
    assert [r["kind"] or "bad" for r in checked["results"]] == kinds
    assert [r["status"] for r in checked["results"]] == ["error" if k == "bad" else "success" for k in kinds]
    # Each entry is what checking that file alone prints.
    for name, result in zip(names, checked["results"], strict=True):
        assert json.loads(wraprun("check", name, "--output", "json").stdout) == result


def test_human_output_is_unchanged(tmp_path: Path) -> None:
    job, bad = files(tmp_path, ["job", "bad"])
    out = wraprun("check", job, bad)
    assert out.returncode == 2
    assert out.stdout == f"{job}: valid job template\n"
    assert out.stderr.startswith(f"{bad}: ") and out.stderr.count("\n") == 1


@pytest.mark.parametrize("output", ["human", "json"])
def test_check_leaves_the_pydantic_models_unloaded(tmp_path: Path, output: str) -> None:
    # What keeps check fast: the document needs json only; yaml is read for the template anyway.
    [job] = files(tmp_path, ["job"])
    probe = (
        "import sys, contextlib, io\n"
        "from wraprun.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    code = main(['check', {job!r}, '--output', {output!r}])\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout == "0 []\n", out.stderr
