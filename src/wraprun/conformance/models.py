"""Data shapes of a conformance run: what a test is, what a bundle holds, what came out."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["passed", "failed", "skipped"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "skipped")


class TestCase(BaseModel):
    """One file of a suite: a template to ``check`` or a ``*.test.yaml`` bundle to ``run``."""

    __test__: ClassVar[bool] = False  # not a pytest class, despite the name

    path: Path
    name: str
    """Path from the version folder on, e.g. ``2023-09/WRAP_ACTIONS/jobs/4.3--x.test.yaml``."""
    kind: Literal["check", "run"]
    invalid: bool
    """``.invalid.`` in the file name: the implementation must reject it."""
    folder: str
    """``2023-09/WRAP_ACTIONS/jobs``: the JUnit suite and the HTML group."""
    section: str
    """The spec section the file name starts with (``4.3`` of ``4.3--x.yaml``); '' when none."""


class AnyOf(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    any_of: list[str] = Field(alias="anyOf")


Line = str | AnyOf


class TaskFailure(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    exit_code: int | None = Field(default=None, alias="exitCode")


class Expected(BaseModel):
    # Unknown keys are errors, so a typo ("forbiden") cannot silently weaken a test.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    output: list[Line] = []
    forbidden: list[Line] = []
    output_posix: list[Line] = []
    forbidden_posix: list[Line] = []
    output_windows: list[Line] = []
    forbidden_windows: list[Line] = []
    task_failure: TaskFailure | None = Field(default=None, alias="taskFailure")


class Bundle(BaseModel):
    """A ``*.test.yaml`` job bundle of the public conformance format."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    template: dict[str, Any]
    environments: list[dict[str, Any]] = []
    parameters: dict[str, Any] | None = None
    path_mapping: list[dict[str, Any]] | None = Field(default=None, alias="pathMapping")
    run_on: list[str] | None = Field(default=None, alias="runOn")
    expected: Expected = Expected()


class Impl(BaseModel):
    """An implementation driven through the public runner contract."""

    name: str
    command: list[str]
    in_process: bool = False
    """This very wraprun: ``check`` runs in the runner's process (no interpreter start-up);
    ``run`` still gets a process of its own (signal handlers, working directory, timeouts)."""


class Result(BaseModel):
    case: TestCase
    impl: str
    status: Status
    reason: str = ""
    """Why it failed or was skipped; '' when it passed."""
    command: list[str] = []
    output: str = ""
    """stdout then stderr, as the public runner reads them."""
    seconds: float = 0.0


class Report(BaseModel):
    """Every result of a run, for every implementation, in ``impls`` order."""

    impls: list[Impl]
    results: list[Result]

    @property
    def names(self) -> list[str]:
        return [impl.name for impl in self.impls]

    def of(self, impl: str) -> list[Result]:
        return [r for r in self.results if r.impl == impl]

    def counts(self, impl: str) -> dict[Status, int]:
        found = Counter(r.status for r in self.of(impl))
        return {status: found[status] for status in STATUSES}

    def summary(self, impl: str) -> str:
        counts = self.counts(impl)
        return f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"

    def cases(self) -> list[TestCase]:
        seen: dict[str, TestCase] = {}
        for result in self.results:
            seen.setdefault(result.case.name, result.case)
        return sorted(seen.values(), key=lambda case: case.name)
