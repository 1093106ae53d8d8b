"""The own suite's tests are not vacuous: each fails on a runtime that ignores its rule.

``rule_breaker.py`` is wraprun with one RFC 0008 rule broken on purpose (see
its docstring); the selected tests pass on wraprun itself (test_conformance_cli
runs the whole own suite) and must all fail under the breaker. Mutating a
bundle's expectation shows the other side: the runner reads what the bundle
asks for.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wraprun.conformance.discover import discover

from .conformance_helpers.cli import breaking, conformance, write
from .conformance_helpers.paths import OWN_SUITE, OWN_WRAP

CASES = {
    # rule broken: (tests that must then fail, a reason one of them gives)
    "exit-hook-for-every-env": (
        "*4.3--nothing-to-replace-inner-env-without-onexit*",
        "EXIT_HOOK_LOG=[EnvWithExit]",
    ),
    "ignore-forwarded-timeout": (
        "*4.10--wrapped-*timeout*",
        "expected a task failure, but the run succeeded",
    ),
    "ignore-unset-env": ("*unset-env-through-wrap-hook*", "missing expected line 'HOOK_TEMP_VAR=<unset>'"),
    "redacted-as-plain": ("*redacted-env-through-wrap-hook*", "openjd_redacted_env: SECRET_TOKEN=********"),
    "naive-quoting": ("*6.1--hostile-args-rebuilt-with-repr-sh*", "FAILED"),
    "wrapper-outermost": ("*2.1--wrapper-in-middle-of-three*", "missing expected line 'ORDER=Outer.onEnter,"),
    "truncate-lines": ("*long-line-and-unterminated*", "_LONG_TAIL"),
    "always-succeed": ("*4.9--*", "expected a task failure, but the run succeeded"),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_breaking_a_rule_fails_its_tests(rule: str) -> None:
    pattern, reason = CASES[rule]
    selected = discover([OWN_SUITE], pattern)
    assert selected, pattern
    done = conformance("-k", pattern, "--impl", breaking(rule), timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAILED ")]
    assert len(failures) == len(selected), done.stdout  # every selected test caught it
    assert reason in done.stdout
    assert done.stdout.splitlines()[-1] == f"0 passed, {len(selected)} failed, 0 skipped"


def mutated(tmp_path: Path, name: str, change: dict[str, object]) -> Path:
    source = OWN_WRAP / "jobs" / name
    bundle = yaml.safe_load(source.read_text(encoding="utf-8"))
    bundle["expected"].update(change)
    return write(tmp_path / "2023-09" / "WRAP_ACTIONS" / "jobs" / name, bundle)


def test_a_forbidden_line_really_is_absent(tmp_path: Path) -> None:
    # Ask for what the nothing-to-replace test forbids: wraprun must then fail it.
    path = mutated(
        tmp_path,
        "4.3--nothing-to-replace-inner-env-without-onexit.test.yaml",
        {"output": ["WEXIT_MARK=EnvNoExit"]},
    )
    done = conformance(str(path))
    assert done.returncode == 1
    assert "missing expected line 'WEXIT_MARK=EnvNoExit'" in done.stdout


def test_the_exit_code_is_pinned(tmp_path: Path) -> None:
    path = mutated(
        tmp_path, "4.9--wrapped-task-exit-code-is-task-failure.test.yaml", {"taskFailure": {"exitCode": 43}}
    )
    done = conformance(str(path))
    assert done.returncode == 1
    assert "wrong exit code (expected 43, got 42)" in done.stdout
