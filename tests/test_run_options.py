"""The run options taken from openjd-cli: --environment, --no-run-dependencies,
--timestamp-format and --verbose, through the CLI as users call it."""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .helpers import HOSTILE_ARGS, argv_job, assert_no_secret, markers, wraprun, write

STAMPS = {
    "relative": re.compile(r"^(\d+):(\d\d):(\d\d)\.(\d{6})$"),
    "utc": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$"),
    "local": re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$"),
}


def action(command: str) -> dict[str, Any]:
    return {"command": "sh", "args": ["-c", command]}


def environment(path: Path, name: str) -> Path:
    actions = {"onEnter": action(f"echo M:enter-{name}"), "onExit": action(f"echo M:exit-{name}")}
    return write(
        path,
        {
            "specificationVersion": "environment-2023-09",
            "environment": {"name": name, "script": {"actions": actions}},
        },
    )


def chain_job(path: Path) -> Path:
    """Steps A <- B <- C, each printing its name."""
    steps: list[dict[str, Any]] = []
    for name, after in (("A", None), ("B", "A"), ("C", "B")):
        step: dict[str, Any] = {"name": name, "script": {"actions": {"onRun": action(f"echo M:{name}")}}}
        if after:
            step["dependencies"] = [{"dependsOn": after}]
        steps.append(step)
    return write(path, {"specificationVersion": "jobtemplate-2023-09", "name": "Chain", "steps": steps})


# -- --environment ---------------------------------------------------------------------------------


def test_environment_is_env_by_another_name(tmp_path: Path) -> None:
    job = chain_job(tmp_path / "job.yaml")
    one, two = environment(tmp_path / "one.yaml", "One"), environment(tmp_path / "two.yaml", "Two")
    mixed = wraprun("run", str(job), "--environment", str(one), "--env", str(two), "--step", "A")
    plain = wraprun("run", str(job), "--env", str(one), "--env", str(two), "--step", "A")
    assert mixed.returncode == plain.returncode == 0, mixed.stderr
    assert mixed.stdout == plain.stdout
    assert markers(mixed.stdout) == ["M:enter-One", "M:enter-Two", "M:A", "M:exit-Two", "M:exit-One"]


def test_environment_alone_is_entered_outermost_first(tmp_path: Path) -> None:
    job = chain_job(tmp_path / "job.yaml")
    one, two = environment(tmp_path / "one.yaml", "One"), environment(tmp_path / "two.yaml", "Two")
    result = wraprun("run", str(job), "--environment", str(two), "--environment", str(one), "--step", "A")
    assert result.returncode == 0, result.stderr
    assert markers(result.stdout) == ["M:enter-Two", "M:enter-One", "M:A", "M:exit-One", "M:exit-Two"]


# -- --no-run-dependencies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "ran"),
    [
        ((), ["M:C"]),
        (("--no-run-dependencies",), ["M:C"]),
        (("--run-dependencies",), ["M:A", "M:B", "M:C"]),
        (("--run-dependencies", "--no-run-dependencies"), ["M:C"]),
        (("--no-run-dependencies", "--run-dependencies"), ["M:A", "M:B", "M:C"]),
        (("--run-dependencies", "--no-run-dependencies", "--run-dependencies"), ["M:A", "M:B", "M:C"]),
    ],
)
def test_the_last_of_the_dependency_flags_wins(
    tmp_path: Path, flags: tuple[str, ...], ran: list[str]
) -> None:
    job = chain_job(tmp_path / "job.yaml")
    result = wraprun("run", str(job), "--step", "C", *flags)
    assert result.returncode == 0, result.stderr
    assert markers(result.stdout) == ran


# -- --timestamp-format ------------------------------------------------------------------------------


def chatty_job(path: Path) -> Path:
    """Lines, a blank line, a line written in two pieces, and a last line without its newline."""
    enter = "echo M:enter; printf 'M:first half '; sleep 0.2; echo 'second half'"
    task = "printf 'M:one\\n\\nM:three\\n'; printf 'M:no newline'"
    return write(
        path,
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Chatty",
            "jobEnvironments": [{"name": "E", "script": {"actions": {"onEnter": action(enter)}}}],
            "steps": [
                {
                    "name": "S",
                    "parameterSpace": {
                        "taskParameterDefinitions": [{"name": "N", "type": "INT", "range": "1-2"}]
                    },
                    "script": {"actions": {"onRun": action(task)}},
                }
            ],
        },
    )


def split_stamps(stdout: str, style: str) -> tuple[list[str], str]:
    """Each line's timestamp, and the output with them taken off (one per line, at its start)."""
    stamps, rest = [], []
    for line in stdout.split("\n")[:-1]:
        stamp, tab, text = line.partition("\t")
        assert tab and STAMPS[style].match(stamp), line
        stamps.append(stamp)
        rest.append(text)
    return stamps, "\n".join(rest) + "\n"


def relative_time(stamp: str) -> timedelta:
    match = STAMPS["relative"].match(stamp)
    assert match is not None
    hours, minutes, seconds, micro = (int(g) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds, microseconds=micro)


@pytest.mark.parametrize("style", ["relative", "local", "utc"])
def test_every_line_starts_with_a_time_and_is_otherwise_unchanged(tmp_path: Path, style: str) -> None:
    job = chatty_job(tmp_path / "job.yaml")
    plain = wraprun("run", str(job))
    stamped = wraprun("run", str(job), "--timestamp-format", style)
    assert plain.returncode == stamped.returncode == 0, stamped.stderr
    stamps, rest = split_stamps(stamped.stdout, style)
    assert rest == plain.stdout  # no stamp inside a line, none missing, nothing else changed
    assert "M:first half second half\n" in rest and "M:no newline\n" in rest
    if style == "relative":
        since = [relative_time(s) for s in stamps]
        assert since == sorted(since)
        assert since[-1] >= timedelta(seconds=0.2)  # a lower bound: the enter action slept that long
    else:
        assert all(datetime.fromisoformat(s).tzinfo is not None for s in stamps)


def test_without_the_option_no_line_has_a_time(tmp_path: Path) -> None:
    result = wraprun("run", str(chatty_job(tmp_path / "job.yaml")))
    assert result.returncode == 0
    assert "\t" not in result.stdout
    assert result.stdout.startswith("Running job 'Chatty'\n")


def test_parallel_sessions_stamp_every_line_after_the_session_tag(tmp_path: Path) -> None:
    job = chatty_job(tmp_path / "job.yaml")
    result = wraprun("run", str(job), "--sessions", "2", "--timestamp-format", "relative")
    assert result.returncode == 0, result.stderr
    per_session: dict[str, list[timedelta]] = {}
    for line in result.stdout.splitlines():
        tag, _, rest = line.partition("] ") if line.startswith("[s") else ("", "", line)
        stamp, tab, _ = rest.partition("\t")
        assert tab and STAMPS["relative"].match(stamp), line
        per_session.setdefault(tag, []).append(relative_time(stamp))
    assert set(per_session) == {"", "[s1", "[s2"}
    assert all(times == sorted(times) for times in per_session.values())


def test_json_lines_get_a_time_field(tmp_path: Path) -> None:
    job = chatty_job(tmp_path / "job.yaml")
    plain = wraprun("run", str(job), "--output", "jsonl")
    stamped = wraprun("run", str(job), "--output", "jsonl", "--timestamp-format", "utc")
    assert plain.returncode == stamped.returncode == 0, stamped.stderr
    records = [json.loads(line) for line in stamped.stdout.splitlines()]
    times = [datetime.fromisoformat(r.pop("time")) for r in records]
    assert all(t.utcoffset() == timedelta(0) for t in times)
    without = [json.loads(line) for line in plain.stdout.splitlines()]
    for record in (*records, *without):
        record.pop("duration", None)  # the only field that differs between two runs
    assert records == without
    assert all("time" not in r for r in without)


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_a_result_document_refuses_timestamps_before_running(tmp_path: Path, output: str) -> None:
    job = chatty_job(tmp_path / "job.yaml")
    result = wraprun("run", str(job), "--output", output, "--timestamp-format", "utc")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "--timestamp-format" in result.stderr


def test_an_unknown_timestamp_format_is_refused(tmp_path: Path) -> None:
    result = wraprun("run", str(chatty_job(tmp_path / "job.yaml")), "--timestamp-format", "iso")
    assert result.returncode == 2 and "invalid choice" in result.stderr


# -- --verbose -------------------------------------------------------------------------------------


def command_line_of(stdout: str, label: str) -> str:
    """What follows ``==> LABEL: `` up to the action's end (an argument may hold a newline)."""
    start = stdout.index(f"==> {label}: ") + len(f"==> {label}: ")
    return stdout[start : stdout.index("\nProcess exited with code", start)]


def test_verbose_shows_the_whole_command_line_shell_quoted(tmp_path: Path) -> None:
    record = tmp_path / "argv.json"
    job = argv_job(tmp_path / "job.yaml", str(record))
    result = wraprun("run", str(job), "--verbose")
    assert result.returncode == 0, result.stderr
    received = json.loads(record.read_text(encoding="utf-8"))
    assert received == HOSTILE_ARGS
    shown = shlex.split(command_line_of(result.stdout, "Task Argv"))
    assert shown[0] == "python3" and shown[3:] == [str(record), *received]


def test_without_verbose_only_the_command_is_shown(tmp_path: Path) -> None:
    job = argv_job(tmp_path / "job.yaml", str(tmp_path / "argv.json"))
    result = wraprun("run", str(job))
    assert result.returncode == 0, result.stderr
    assert command_line_of(result.stdout, "Task Argv") == "python3"


def test_verbose_json_lines_hold_the_whole_argv(tmp_path: Path) -> None:
    record = tmp_path / "argv.json"
    job = argv_job(tmp_path / "job.yaml", str(record))
    verbose = wraprun("run", str(job), "--verbose", "--output", "jsonl")
    plain = wraprun("run", str(job), "--output", "jsonl")
    assert verbose.returncode == plain.returncode == 0, verbose.stderr

    def started(stdout: str) -> dict[str, Any]:
        return next(r for r in map(json.loads, stdout.splitlines()) if r["event"] == "ActionStarted")

    assert started(verbose.stdout)["argv"][3:] == [str(record), *HOSTILE_ARGS]
    assert started(plain.stdout)["argv"] == ["python3"]


SECRETS = ["s3cret two words", "it's-s3cret", 'say "s3cret"', "s3cret;$HOME|`id`", "alpha-s3c beta-s3c"]


def secret_job(path: Path, secrets_file: Path) -> Path:
    """A job environment declares each secret (read from a file, so that no command line holds
    it before it is declared); a later task's command line holds each, whole and inside words,
    and the last one only across two arguments."""
    enter = {
        "command": "sh",
        "args": [
            "-c",
            'while IFS= read -r s; do echo "openjd_redacted_env: T=$s"; done < "$0"',
            str(secrets_file),
        ],
    }
    args = ["-c", "true"]
    for position in range(len(SECRETS) - 1):
        args += [f"{{{{Param.S{position}}}}}", f"before {{{{Param.S{position}}}}} after"]
    args += ["alpha-s3c", "beta-s3c"]
    return write(
        path,
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Secrets",
            "extensions": ["REDACTED_ENV_VARS"],
            "parameterDefinitions": [{"name": f"S{p}", "type": "STRING"} for p in range(len(SECRETS) - 1)],
            "jobEnvironments": [{"name": "Vault", "script": {"actions": {"onEnter": enter}}}],
            "steps": [{"name": "S", "script": {"actions": {"onRun": {"command": "sh", "args": args}}}}],
        },
    )


@pytest.mark.parametrize("extra", [(), ("--timestamp-format", "relative"), ("--sessions", "2")])
def test_verbose_never_shows_a_secret_an_earlier_action_declared(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    secrets_file = tmp_path / "secrets.txt"
    secrets_file.write_text("".join(f"{s}\n" for s in SECRETS), encoding="utf-8")
    job = secret_job(tmp_path / "job.yaml", secrets_file)
    values = [f"--job-param=S{p}={s}" for p, s in enumerate(SECRETS[:-1])]
    result = wraprun("run", str(job), "--verbose", *values, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "==> Task S: sh -c true '********' 'before ******** after'" in result.stdout
    assert_no_secret(result.stdout.encode(), [s.encode() for s in SECRETS])
    assert "alpha-s3c" not in result.stdout  # masked with its neighbour: together they are a secret


# -- submit: each node's session gets the options ----------------------------------------------------


def test_submit_hands_timestamps_and_verbose_to_every_node_session(tmp_path: Path) -> None:
    """The command line an array element runs (as staged; no cluster needed to run it here)."""
    import subprocess

    from wraprun import cli, submit
    from wraprun.check import plan_run_options

    record = tmp_path / "argv.json"
    job = argv_job(tmp_path / "job.yaml", str(record))
    args = cli.build_parser().parse_args(
        ["submit", str(job), "--slurm", "--timestamp-format", "utc", "--verbose"]
    )
    plan = plan_run_options(args)
    assert plan is not None
    work, picks = submit._work(plan, None)
    stage = tmp_path / "stage"
    stage.mkdir()
    argv = submit._stage(stage, plan, args, picks)(work[0].slices[0])
    assert "--timestamp-format=utc" in argv and "--verbose" in argv
    node = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert node.returncode == 0, node.stderr
    stamps, rest = split_stamps(node.stdout, "utc")
    assert stamps and shlex.split(command_line_of(rest, "Task Argv"))[4:] == HOSTILE_ARGS
