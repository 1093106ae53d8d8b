"""conformance.expect: judging ``check`` and ``run`` answers the way the public runner does."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from wraprun.conformance.expect import first_failure_code, judge_check, judge_run, runs_here
from wraprun.conformance.models import Bundle, Expected

OUT = (
    "Process exited with code: 0\n"
    "HELLO world\n"
    "Process pid 12 exited with code: 3 (unsigned) / 0x3 (hex)\n"
    "Process exited with code: 1\n"
)


def judge(expected: dict[str, Any], returncode: int = 0, output: str = OUT, invalid: bool = False) -> str:
    return judge_run(invalid, Expected.model_validate(expected), returncode, output)


def test_output_lines_are_substrings() -> None:
    assert judge({"output": ["HELLO", "world\nProcess"]}) == ""
    assert judge({"output": ["HELLO", "BYE"]}) == "missing expected line 'BYE'"


def test_any_of_needs_one_alternative() -> None:
    assert judge({"output": [{"anyOf": ["nope", "HELLO"]}]}) == ""
    assert judge({"output": [{"anyOf": ["nope", "never"]}]}) == "missing expected line anyOf 'nope' | 'never'"


def test_forbidden_lines_must_be_absent() -> None:
    assert judge({"forbidden": ["GOODBYE"]}) == ""
    assert judge({"forbidden": ["HELLO"]}) == "found forbidden line 'HELLO'"
    assert judge({"forbidden": [{"anyOf": ["x", "world"]}]}).startswith("found forbidden line anyOf")


def test_per_os_lists_add_to_the_common_ones() -> None:
    assert judge({"output_posix": ["BYE"]}) == "missing expected line 'BYE'"
    assert judge({"forbidden_posix": ["HELLO"]}) == "found forbidden line 'HELLO'"
    assert judge({"output_windows": ["BYE"], "forbidden_windows": ["HELLO"]}) == ""  # not this OS


def test_task_failure_reads_the_first_non_zero_code() -> None:
    assert first_failure_code(OUT) == 3  # not the teardown's later 1
    assert first_failure_code("exited with code: 0\nexited with code:-9") == -9
    assert first_failure_code("exited with code: 0") is None
    assert judge({"taskFailure": {"exitCode": 3}}, returncode=1) == ""
    assert judge({"taskFailure": {"exitCode": 1}}, returncode=1) == "wrong exit code (expected 1, got 3)"
    assert judge({"taskFailure": {"exitCode": 7}}, 1, "no codes") == "wrong exit code (expected 7, got None)"
    assert judge({"taskFailure": {}}, returncode=1) == ""
    assert judge({"taskFailure": {}}, returncode=0) == "expected a task failure, but the run succeeded"


def test_a_run_that_expects_no_failure_must_succeed() -> None:
    assert judge({"output": ["HELLO"]}, returncode=2) == "run failed with exit code 2"


def test_invalid_bundles_must_be_rejected_whatever_they_print() -> None:
    assert judge({}, returncode=2, invalid=True) == ""
    assert judge({}, returncode=0, invalid=True) == "accepted an invalid template"


def test_check_answers() -> None:
    assert judge_check(invalid=False, returncode=0) == ""
    assert judge_check(invalid=True, returncode=1) == ""
    assert judge_check(invalid=True, returncode=0) == "accepted an invalid template"
    assert judge_check(invalid=False, returncode=2) == "rejected a valid template (exit code 2)"


def test_run_on() -> None:
    assert runs_here(None) and runs_here(["posix"]) and runs_here(["windows", "posix"])
    assert not runs_here(["windows"])


def test_bundles_reject_misspelled_keys() -> None:
    bundle = {"template": {}, "expected": {"output": ["A"], "forbiden": ["B"]}}
    with pytest.raises(pydantic.ValidationError, match="forbiden"):
        Bundle.model_validate(bundle)
    with pytest.raises(pydantic.ValidationError, match="exit_code|exitcode"):
        Bundle.model_validate({"template": {}, "expected": {"taskFailure": {"exitcode": 1}}})
