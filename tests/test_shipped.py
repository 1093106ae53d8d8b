"""Ready environment templates travel with wraprun: listed, shown, and named by ``--env NAME``."""

from __future__ import annotations

import argparse
import json
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wraprun import shipped
from wraprun.cli import build_parser
from wraprun.job import Request, plan_request
from wraprun.submit import _stage, _work
from wraprun.templates import TemplateError, load

from .helpers import REPO, unmodified_job, wraprun, write

CHECKOUT = sorted(p.stem for p in (REPO / "templates").glob("*.yaml"))
MARK = "M:local-template"


def environment(marker: str) -> dict[str, Any]:
    """A small environment template of one's own that says ``marker`` when entered."""
    return {
        "specificationVersion": "environment-2023-09",
        "environment": {
            "name": "Mine",
            "script": {"actions": {"onEnter": {"command": "sh", "args": ["-c", f"echo {marker}"]}}},
        },
    }


def job(tmp: Path) -> Path:
    return unmodified_job(tmp, "echo M:task", enter="echo M:enter", tasks=None)


def traced(output: str) -> list[list[str]]:
    """The argv lines templates/trace.yaml printed: evidence that it wrapped the actions."""
    prefix = "trace: argv "
    return [json.loads(line[len(prefix) :]) for line in output.splitlines() if line.startswith(prefix)]


def test_the_installed_templates_are_the_checkout_templates() -> None:
    assert len(CHECKOUT) >= 7
    assert shipped.names() == CHECKOUT
    assert shipped.folder() == REPO / "templates"


def test_the_listing_has_one_line_per_template_with_its_description(tmp_path: Path) -> None:
    result = wraprun("templates", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == CHECKOUT
    for name, line in zip(CHECKOUT, lines, strict=True):
        document = yaml.safe_load((REPO / "templates" / f"{name}.yaml").read_text(encoding="utf-8"))
        about = document["environment"]["description"]
        assert about and "\n" not in about
        assert line.split(None, 1)[1] == about


@pytest.mark.parametrize("name", CHECKOUT)
def test_show_prints_the_template_exactly_as_shipped(name: str, tmp_path: Path) -> None:
    text = (REPO / "templates" / f"{name}.yaml").read_text(encoding="utf-8")
    for spelling in (name, f"{name}.yaml"):
        result = wraprun("templates", "show", spelling, cwd=tmp_path)
        assert (result.returncode, result.stdout, result.stderr) == (0, text, "")


def test_show_of_an_unknown_name_is_one_line_listing_the_names(tmp_path: Path) -> None:
    for unknown in ("dockr", "docker.json", "../templates/docker", "README"):
        result = wraprun("templates", "show", unknown, cwd=tmp_path)
        assert result.returncode == 2 and result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert repr(unknown) in line and line.endswith("ready: " + ", ".join(CHECKOUT))


def test_check_passes_on_every_template_by_name(tmp_path: Path) -> None:
    result = wraprun("check", *CHECKOUT, *(f"{n}.yaml" for n in CHECKOUT), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    spellings = [*CHECKOUT, *(f"{n}.yaml" for n in CHECKOUT)]
    assert result.stdout.splitlines() == [f"{s}: valid environment template" for s in spellings]


@pytest.mark.parametrize("name", CHECKOUT)
def test_a_name_with_or_without_yaml_loads_the_shipped_file(name: str) -> None:
    shipped_file = REPO / "templates" / f"{name}.yaml"
    bare, suffixed = load(name, expect="environment"), load(f"{name}.yaml", expect="environment")
    assert bare.path == suffixed.path == shipped_file
    assert bare.document == suffixed.document == yaml.safe_load(shipped_file.read_text(encoding="utf-8"))


def test_a_job_runs_through_a_template_named_by_name(tmp_path: Path) -> None:
    for option in ("trace", "trace.yaml"):
        result = wraprun("run", str(job(tmp_path)), "--env", option, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert traced(result.stdout) == [
            ["sh", "-c", "echo M:enter"],
            ["sh", "-c", "echo M:task"],
            ["sh", "-c", "echo M:exit"],
        ]


@pytest.mark.parametrize("spelling", ["trace", "trace.yaml"])
def test_an_existing_file_wins_over_the_shipped_name(spelling: str, tmp_path: Path) -> None:
    write(tmp_path / spelling, environment(MARK))
    result = wraprun("run", str(job(tmp_path)), "--env", spelling, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert MARK in result.stdout.splitlines() and traced(result.stdout) == []
    assert load(tmp_path / spelling, expect="environment").environment.environment.name == "Mine"


def test_a_directory_of_that_name_does_not_hide_the_shipped_template(tmp_path: Path) -> None:
    (tmp_path / "trace").mkdir()
    result = wraprun("run", str(job(tmp_path)), "--env", "trace", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(traced(result.stdout)) == 3


def test_a_path_is_never_taken_for_a_name(tmp_path: Path) -> None:
    for given_path in ("./trace", "sub/trace.yaml", str(tmp_path / "trace")):
        result = wraprun("run", str(job(tmp_path)), "--env", given_path, cwd=tmp_path)
        assert result.returncode == 2 and result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert "cannot read: No such file or directory" in line


def test_an_unknown_env_is_one_no_such_file_line_naming_the_ready_templates(tmp_path: Path) -> None:
    for unknown in ("dockr", "templates/docker.yaml"):
        result = wraprun("run", str(job(tmp_path)), "--env", unknown, cwd=tmp_path)
        assert result.returncode == 2 and result.stdout == ""
        ready = ", ".join(CHECKOUT)
        assert result.stderr.splitlines() == [
            f"{unknown}: cannot read: No such file or directory; ready templates by name: {ready}"
        ]


@settings(max_examples=200, deadline=None)
@given(st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=20))
def test_only_the_shipped_names_resolve(name: str) -> None:
    if name.removesuffix(".yaml") in CHECKOUT:
        assert load(name, expect="environment").path.parent == REPO / "templates"
        return
    with pytest.raises(TemplateError) as caught:
        load(name, expect="environment")
    (line,) = caught.value.problems
    if not Path(name).exists():  # a file (or folder) of that name where the tests run wins
        assert line.endswith("ready templates by name: " + ", ".join(CHECKOUT))


def test_a_job_template_is_never_looked_up_by_name(tmp_path: Path) -> None:
    result = wraprun("run", "trace", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["trace: cannot read: No such file or directory"]


def test_submit_stages_the_shipped_file_and_the_staged_command_runs_it(tmp_path: Path) -> None:
    path = job(tmp_path)
    args: argparse.Namespace = build_parser().parse_args(["submit", str(path), "--slurm", "--env", "trace"])
    plan = plan_request(Request(template=args.template, env_templates=args.env))
    work, picks = _work(plan, None)
    stage = tmp_path / "stage"
    stage.mkdir()
    command = _stage(stage, plan, args, picks)
    staged = stage / "templates" / "env-1-trace.yaml"
    assert staged.read_bytes() == (REPO / "templates" / "trace.yaml").read_bytes()
    (piece,) = work[0].slices
    argv = command(piece)
    assert argv[argv.index("--env") + 1] == str(staged)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=elsewhere, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ["sh", "-c", "echo M:task"] in traced(done.stdout)


@settings(max_examples=50, deadline=None)
@given(
    comment=st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zl", "Zp"]), max_size=40),
    blank_lines=st.integers(0, 2),
)
def test_without_a_description_the_first_comment_line_describes(comment: str, blank_lines: int) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.yaml"
        body = yaml.safe_dump(environment(MARK), sort_keys=False)
        path.write_text("#\n" * blank_lines + f"# {comment}\n# more\n{body}", encoding="utf-8")
        assert shipped.description(path) == (comment.strip() or "more")
        path.write_text(body, encoding="utf-8")
        assert shipped.description(path) == ""
        document = environment(MARK)
        document["environment"]["description"] = "Says  hello\nnicely."
        path.write_text(f"# {comment}\n" + yaml.safe_dump(document), encoding="utf-8")
        assert shipped.description(path) == "Says hello nicely."


def test_the_cli_stays_fast_to_import() -> None:
    """``wraprun templates`` is parsed without loading the listing module at import time."""
    code = "import sys, wraprun.cli; sys.exit('wraprun.shipped' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
