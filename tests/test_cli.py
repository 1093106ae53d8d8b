"""cli: what a user types and sees — exit codes, one-line errors, no tracebacks."""

from __future__ import annotations

from pathlib import Path

from .helpers import PUBLIC_SUITE, REPO, wraprun, write

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
