"""cli: what a user types and sees — exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import PUBLIC_SUITE, REPO, assert_no_secret, gone, wraprun, write

JOB = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "Cli",
    "parameterDefinitions": [{"name": "N", "type": "INT", "default": 1}],
    "steps": [
        {
            "name": "S",
            "script": {
                "actions": {
                    "onRun": {
                        "command": "python",
                        "args": ["-c", "import sys; print('N={{Param.N}}'); sys.exit({{Param.N}} - 1)"],
                    }
                }
            },
        }
    ],
}


def test_check_valid_job_and_environment(tmp_path: Path) -> None:
    env = (
        PUBLIC_SUITE
        / "WRAP_ACTIONS/env_templates/4.2--wrap-fmtstring-timeout-and-mode-with-feature-bundle.yaml"
    )
    result = wraprun("check", str(write(tmp_path / "job.yaml", JOB)), str(env))
    assert result.returncode == 0
    assert "valid job template" in result.stdout and "valid environment template" in result.stdout


def test_every_shipped_template_and_example_passes_check() -> None:
    shipped = sorted((REPO / "templates").glob("*.yaml")) + sorted((REPO / "examples").glob("*.yaml"))
    assert len(shipped) >= 9
    result = wraprun("check", *map(str, shipped))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(shipped) and result.stderr == ""


def test_check_reports_each_problem_on_one_line(tmp_path: Path) -> None:
    env = (
        PUBLIC_SUITE / "WRAP_ACTIONS/env_templates/4.2--wrap-fmtstring-timeout-no-feature-bundle.invalid.yaml"
    )
    result = wraprun("check", str(env))
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 3  # one per hook
    assert all(line.startswith(f"{env}: environment -> script -> actions -> onWrap") for line in lines)
    assert "Traceback" not in result.stderr


def test_check_bad_yaml_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    result = wraprun("check", str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{bad}:2:1: invalid YAML")


def test_run_exit_codes(tmp_path: Path) -> None:
    job = write(tmp_path / "job.yaml", JOB)
    ok = wraprun("session", str(job))
    assert ok.returncode == 0 and "N=1" in ok.stdout and "Process exited with code: 0" in ok.stdout
    failed = wraprun("run", str(job), "-p", "N=4")
    assert failed.returncode == 1 and "Process exited with code: 3" in failed.stdout


def test_parameter_forms(tmp_path: Path) -> None:
    job = write(tmp_path / "job.yaml", JOB)
    params = write(tmp_path / "p.yaml", {"N": 1})
    assert wraprun("run", str(job), "-p", f"file://{params}").returncode == 0
    assert wraprun("run", str(job), "-p", '{"N": 1}').returncode == 0


def test_invalid_parameters_exit_2_without_running(tmp_path: Path) -> None:
    job = write(tmp_path / "job.yaml", JOB)
    for args in (["-p", "N=abc"], ["-p", "Nope=1"], ["-p", "justtext"], ["--step", "Missing"]):
        result = wraprun("run", str(job), *args)
        assert result.returncode == 2, args
        assert "Process exited" not in result.stdout
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_two_wrapping_environments_rejected_before_anything_runs(tmp_path: Path) -> None:
    bundle = PUBLIC_SUITE / "WRAP_ACTIONS/jobs/wrap-two-wrap-env-templates-rejected.invalid.test.yaml"
    import yaml

    data = yaml.safe_load(bundle.read_text())
    job = write(tmp_path / "job.yaml", data["template"])
    envs = [str(write(tmp_path / f"e{i}.yaml", e)) for i, e in enumerate(data["environments"])]
    result = wraprun("run", str(job), *[a for e in envs for a in ("--env", e)])
    assert result.returncode == 2
    names = [e["environment"]["name"] for e in data["environments"]]
    assert all(f"'{n}'" in result.stderr for n in names)
    assert "Process exited" not in result.stdout


def test_command_length_checked_before_exec(tmp_path: Path) -> None:
    big = ["x" * 100_000] * 12  # 1.2 MB: runs unwrapped, but not once a hook doubles it
    job = write(
        tmp_path / "job.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Big",
            "steps": [{"name": "S", "script": {"actions": {"onRun": {"command": "true", "args": big}}}}],
        },
    )
    assert wraprun("run", str(job)).returncode == 0
    twice = {"command": "true", "args": ["{{WrappedAction.Args}}", "{{WrappedAction.Args}}"]}
    env = write(
        tmp_path / "wrap.yaml",
        {
            "specificationVersion": "environment-2023-09",
            "extensions": ["WRAP_ACTIONS", "EXPR"],
            "environment": {
                "name": "Doubler",
                "script": {
                    "actions": {"onWrapEnvEnter": twice, "onWrapTaskRun": twice, "onWrapEnvExit": twice}
                },
            },
        },
    )
    result = wraprun("run", str(job), "--env", str(env))
    assert result.returncode == 1
    assert "onWrapTaskRun of the wrapping environment 'Doubler' for Task S" in result.stdout
    assert "ARG_MAX" in result.stdout
    one_huge = write(
        tmp_path / "huge.yaml",
        {
            **JOB,
            "steps": [
                {"name": "S", "script": {"actions": {"onRun": {"command": "true", "args": ["y" * 200_000]}}}}
            ],
        },
    )
    huge = wraprun("run", str(one_huge))
    assert huge.returncode == 1 and "MAX_ARG_STRLEN" in huge.stdout


def test_help_is_fast_path() -> None:
    result = wraprun("--help")
    assert result.returncode == 0 and "conformance" in result.stdout


# --- secrets, exact output, signals and closed output (issue: everything probes found) ---

SECRET_SCRIPT = r"""
import json, sys
d = json.load(open(sys.argv[1]))
out = sys.stdout.buffer
secrets = [bytes.fromhex(h) for h in d["secrets"]]
for i, s in enumerate(secrets):
    out.write(b"openjd_redacted_env: S%d=" % i + s + b"\n")
out.flush()
for piece in d["writes"]:
    out.write(bytes.fromhex(piece)); out.flush()
out.write(b"\n")
for s in secrets:
    out.write(b"openjd_status: using " + s + b"\nopenjd_progress: 10\n")
    out.write(b"openjd_env: bad\t\\name " + s + b"\n")
out.write(b"openjd_fail: failed with " + secrets[0] + b"\n")
sys.exit(3)
"""


def secret_job(tmp: Path) -> Path:
    return write(
        tmp / "secret.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Secrets",
            "extensions": ["REDACTED_ENV_VARS"],
            "parameterDefinitions": [{"name": "Data", "type": "STRING"}],
            "steps": [
                {
                    "name": "S",
                    "script": {
                        "actions": {
                            "onRun": {"command": "python", "args": ["-c", SECRET_SCRIPT, "{{Param.Data}}"]}
                        }
                    },
                }
            ],
        },
    )


def json_strings(stdout: bytes) -> list[bytes]:
    """Every string a JSON-lines stream holds, as the bytes it stands for."""
    found: list[bytes] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.append(value.encode("utf-8", "surrogateescape"))
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(base64.b64decode(item) if key == "base64" else item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, bytes):
            found.append(value)

    for line in stdout.splitlines():
        walk(json.loads(line))
    return found


# Each secret holds one byte that wraprun's own words never do, so that finding it
# in wraprun's framing ("FAILED", "Process exited...") is not mistaken for a leak.
MARK = st.sampled_from([b"\x01", b"\x7f", b"\xff", b"\xc3", b"~", b"`"])
PART = st.one_of(
    st.binary(max_size=4).map(lambda b: bytes(b"ab*"[x % 3] for x in b)),  # overlaps are common
    st.binary(max_size=4).filter(lambda b: not {0, 10} & set(b)),
)
SECRET = st.builds(lambda a, m, b: a + m + b, PART, MARK, PART).filter(lambda b: not b.endswith(b"\r"))
NOISE = st.one_of(st.binary(max_size=12).filter(lambda b: b"openjd_" not in b), st.just(b"\n"), PART)


@st.composite
def secret_sets(draw: st.DrawFn) -> list[bytes]:
    """Secrets in any declaration order, some containing others."""
    secrets = draw(st.lists(SECRET, min_size=1, max_size=3))
    if draw(st.booleans()):
        secrets.append(draw(PART) + secrets[0] + draw(PART))
    return draw(st.permutations(secrets))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), secrets=secret_sets())
def test_no_secret_reaches_any_output(tmp_path: Path, data: st.DataObject, secrets: list[bytes]) -> None:
    """Random secrets (any bytes), overlapping and containing each other, declared in any
    order, written across arbitrary write boundaries, echoed in status, warnings and the
    fail message: no sink shows one."""
    text = b"".join(data.draw(st.lists(st.one_of(st.sampled_from(secrets), NOISE), max_size=12)))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=5)))
    writes = [text[a:b].hex() for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    spec = tmp_path / f"spec-{uuid.uuid4().hex}.json"
    spec.write_text(json.dumps({"secrets": [s.hex() for s in secrets], "writes": writes}))
    job = secret_job(tmp_path)
    for output in ("human", "jsonl"):
        done = subprocess.run(
            [sys.executable, "-m", "wraprun", "run", str(job), "-p", f"Data={spec}", "--output", output],
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 1, done.stderr
        shown = [done.stdout, done.stderr] if output == "human" else [*json_strings(done.stdout), done.stderr]
        for piece in shown:
            assert_no_secret(piece, secrets)


def run_in(tmp: Path, *args: str, **popen: Any) -> subprocess.Popen[bytes]:
    """Start wraprun with its own TMPDIR (``tmp/t``), where its session directory goes."""
    (tmp / "t").mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp / "t")}
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-m", "wraprun", *args], env=env, **popen)


def sessions_left(tmp: Path) -> list[str]:
    return [p.name for p in (tmp / "t").glob("wraprun-session-*")]


def job_with_teardown(tmp: Path, task: str) -> Path:
    """A job whose environment's onExit leaves a marker, and whose task runs ``task``."""
    marker = tmp / "exited"
    return write(
        tmp / "job.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Teardown",
            "jobEnvironments": [
                {
                    "name": "E",
                    "script": {"actions": {"onExit": {"command": "touch", "args": [str(marker)]}}},
                }
            ],
            "steps": [
                {"name": "S", "script": {"actions": {"onRun": {"command": "sh", "args": ["-c", task]}}}}
            ],
        },
    )


def test_jsonl_is_one_event_per_output_line_and_ends_with_the_session(tmp_path: Path) -> None:
    task = r"printf 'a\rb\fc\342\200\250d\n\377\376\nlast'"
    done = run_in(tmp_path, "run", str(job_with_teardown(tmp_path, task)), "--output", "jsonl")
    stdout, _ = done.communicate(timeout=60)
    records = [json.loads(line) for line in stdout.splitlines()]
    lines = [r for r in records if r["event"] == "ActionOutput"]
    assert lines == [
        {"event": "ActionOutput", "line": "a\rb\fc\u2028d"},
        {"event": "ActionOutput", "line": "\ufffd\ufffd", "base64": "//4="},
        {"event": "ActionOutput", "line": "last", "newline": False},
    ]
    assert records[0] == {"event": "SessionStarted", "job_name": "Teardown"}
    end = records[-1]
    assert end["event"] == "SessionEnded" and end["state"] == "SUCCEEDED" and end["tasks_run"] == 1
    assert isinstance(end["duration"], float) and done.returncode == 0


def test_human_output_names_the_job_and_ends_an_unterminated_line(tmp_path: Path) -> None:
    done = run_in(tmp_path, "run", str(job_with_teardown(tmp_path, "printf no-newline")))
    stdout = done.communicate(timeout=60)[0].decode()
    assert stdout.startswith("Running job 'Teardown'\n")
    assert "no-newline\nProcess exited with code: 0\n" in stdout


TREE_TASK = "sleep 3600 & setsid sleep 3600 & echo ready; wait"


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT])
def test_a_hangup_is_a_cancel_like_sigterm(tmp_path: Path, sig: int) -> None:
    task = TREE_TASK.replace("3600", "3601")
    proc = run_in(tmp_path, "run", str(job_with_teardown(tmp_path, task)))
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(b"ready"):
            break
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert (tmp_path / "exited").exists(), "teardown ran"
    assert gone("3601") and sessions_left(tmp_path) == []


@pytest.mark.parametrize("count", [1, 3])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_as_the_session_directory_appears(tmp_path: Path, sig: int, count: int) -> None:
    proc = run_in(tmp_path, "run", str(job_with_teardown(tmp_path, "sleep 30")))
    end = time.monotonic() + 30
    while not sessions_left(tmp_path) and proc.poll() is None and time.monotonic() < end:
        pass  # spin: the signal must land within moments of the directory's creation
    for _ in range(count):
        proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode == 3, "handled, not killed by the signal"
    assert sessions_left(tmp_path) == []


def test_a_signal_just_after_success_changes_nothing(tmp_path: Path) -> None:
    proc = run_in(tmp_path, "run", str(job_with_teardown(tmp_path, "true")))
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(b"Session succeeded"):
            proc.send_signal(signal.SIGTERM)
            break
    proc.communicate(timeout=60)
    assert proc.returncode == 0 and sessions_left(tmp_path) == []


def test_a_reader_that_goes_away_stops_the_task_and_tears_down(tmp_path: Path) -> None:
    """``wraprun run ... --output jsonl | head -c 4096``"""
    task = "while :; do echo flood-3602; done"
    proc = run_in(tmp_path, "run", str(job_with_teardown(tmp_path, task)), "--output", "jsonl")
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(4096)) == 4096
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 3 and err == b""
    assert (tmp_path / "exited").exists(), "teardown ran"
    assert gone("flood-3602") and sessions_left(tmp_path) == []


def test_a_full_disk_is_one_clear_line(tmp_path: Path) -> None:
    with open("/dev/full", "wb") as full:
        proc = run_in(tmp_path, "run", str(job_with_teardown(tmp_path, "echo hi")), stdout=full)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert err.decode().splitlines() == [
        "wraprun: cannot write the output: No space left on device; session canceled"
    ]
    assert sessions_left(tmp_path) == []


def test_a_closed_stdout_is_one_clear_line(tmp_path: Path) -> None:
    proc = run_in(
        tmp_path, "run", str(job_with_teardown(tmp_path, "echo hi")), preexec_fn=lambda: os.close(1)
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.decode().splitlines() == ["wraprun: standard output is closed; nothing was run"]
    assert sessions_left(tmp_path) == []


def env_then_task(tmp: Path, enter: str, task: str, **extra: Any) -> Path:
    """A job whose environment's onEnter runs python ``enter`` and whose task runs ``task``."""
    return write(
        tmp / "long.yaml",
        {
            "specificationVersion": "jobtemplate-2023-09",
            "name": "Long",
            **extra,
            "jobEnvironments": [
                {
                    "name": "E",
                    "script": {"actions": {"onEnter": {"command": "python", "args": ["-c", enter]}}},
                }
            ],
            "steps": [
                {"name": "S", "script": {"actions": {"onRun": {"command": "sh", "args": ["-c", task]}}}}
            ],
        },
    )


MIB = 1 << 20


def test_long_lines_pass_whole_and_forge_no_macro(tmp_path: Path) -> None:
    enter = (
        "import sys; o = sys.stdout.buffer\n"
        f"o.write(b'x' * ({MIB} - 5) + b'openjd_env: INJECTED=yes\\n')\n"  # across the 1 MiB cut
        f"o.write(b'y' * (3 * {MIB}) + b'\\n' + b'z' * {MIB} + b'\\n')\n"
    )
    job = env_then_task(tmp_path, enter, 'echo "task sees ${INJECTED:-nothing}"')
    done = subprocess.run([sys.executable, "-m", "wraprun", "run", str(job)], capture_output=True, timeout=60)
    lines = done.stdout.split(b"\n")
    assert b"x" * (MIB - 5) + b"openjd_env: INJECTED=yes" in lines
    assert b"y" * (3 * MIB) in lines and b"z" * MIB in lines and b"" not in lines[:-1]
    assert b"task sees nothing" in lines and done.returncode == 0


def test_a_secret_across_the_line_cut_and_a_long_status(tmp_path: Path) -> None:
    enter = (
        "import sys; o = sys.stdout.buffer\n"
        "o.write(b'openjd_redacted_env: T=TOPSECRET\\n')\n"
        f"o.write(b'x' * ({MIB} - 4) + b'TOPSECRET' + b'x' * 10 + b'\\n')\n"
        f"o.write(b'openjd_status: ' + b's' * (3 * {MIB} // 2) + b'\\n')\n"
    )
    job = env_then_task(tmp_path, enter, "true", extensions=["REDACTED_ENV_VARS"])
    done = subprocess.run(
        [sys.executable, "-m", "wraprun", "run", str(job), "--output", "jsonl"],
        capture_output=True,
        timeout=60,
    )
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert b"TOPSECRET" not in done.stdout
    assert {"event": "ActionOutput", "line": "x" * (MIB - 4) + "********" + "x" * 10} in records
    statuses = [r["status"] for r in records if r["event"] == "ActionProgress"]
    assert statuses == ["s" * (3 * MIB // 2)]


def test_submit_help_states_the_default_number_of_elements() -> None:
    """The parser is built without importing submit.py (start-up cost); its help must still agree."""
    from wraprun import submit

    help_text = subprocess.run(
        [sys.executable, "-m", "wraprun", "submit", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert f"at most {submit.ELEMENTS})" in " ".join(help_text.split())


@pytest.mark.parametrize("command", ["check", "summary", "run"])
def test_openjd_clis_human_readable_is_human(tmp_path: Path, command: str) -> None:
    """A user switching from openjd-cli types its spelling, ``--output human-readable``."""
    job = str(write(tmp_path / "job.yaml", JOB))
    ours = wraprun(command, job, "--output", "human-readable", cwd=tmp_path)
    plain = wraprun(command, job, "--output", "human", cwd=tmp_path)
    assert ours.returncode == plain.returncode == 0, ours.stderr
    assert ours.stdout.splitlines()[:1] == plain.stdout.splitlines()[:1] and ours.stdout.strip()
