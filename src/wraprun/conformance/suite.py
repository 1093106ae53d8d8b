"""Orchestrate a conformance run: pick implementations, discover, execute in parallel, report."""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TextIO

from ..statusline import StatusLine
from . import report
from .discover import discover
from .execute import DEFAULT_TIMEOUT, run_case
from .models import Impl, Report, Result, TestCase

OWN_SUITE_ENV = "WRAPRUN_CONFORMANCE_DIR"
DEFAULT_NAME = "wraprun"
_NAMED = re.compile(r"([A-Za-z][\w.-]*)=(.+)", re.DOTALL)


class UsageError(Exception):
    pass


def own_suite() -> Path:
    """$WRAPRUN_CONFORMANCE_DIR, else the suite installed with wraprun (``conformance/`` of
    the checkout, shipped in the wheel as the data package ``wraprun.conformance_suite``)."""
    configured = os.environ.get(OWN_SUITE_ENV)
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec("wraprun.conformance_suite")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("the project's own suite is not installed; name a suite folder")
    return Path(next(iter(spec.submodule_search_locations)))


def default_impl() -> Impl:
    # This very wraprun, whatever PATH holds, so a checkout tests itself.
    return Impl(name=DEFAULT_NAME, command=[sys.executable, "-m", "wraprun"], in_process=True)


def parse_impl(value: str) -> Impl:
    """``COMMAND`` or ``NAME=COMMAND``; the command is split like a shell would."""
    named = _NAMED.fullmatch(value)
    name, command = (named.group(1), named.group(2)) if named else ("", value)
    words = shlex.split(command)
    if not words:
        raise UsageError(f"--impl {value!r}: no command")
    if words == [DEFAULT_NAME]:
        return default_impl().model_copy(update={"name": name or DEFAULT_NAME})
    return Impl(name=name or Path(words[0]).name, command=words)


def choose_impls(values: list[str], compare: bool) -> list[Impl]:
    impls = [parse_impl(v) for v in values] or [default_impl()]
    if compare and len(impls) < 2 and all(i.name != DEFAULT_NAME for i in impls):
        impls.append(default_impl())
    if compare and len(impls) < 2:
        raise UsageError("--compare needs two or more --impl")
    if not compare and len(impls) > 1:
        raise UsageError("several --impl need --compare")
    seen: dict[str, int] = {}
    for impl in impls:  # columns need distinct names
        seen[impl.name] = seen.get(impl.name, 0) + 1
        if seen[impl.name] > 1:
            impl.name = f"{impl.name}#{seen[impl.name]}"
    return impls


def main(args: argparse.Namespace) -> int:
    try:
        impls = choose_impls(args.impl, args.compare)
        roots = [Path(s) for s in args.suites] or [own_suite()]
        missing = [str(r) for r in roots if not r.exists()]
        if missing:
            raise UsageError(f"no such suite: {', '.join(missing)}")
        cases = discover(roots, args.pattern)
        if not cases:
            raise UsageError("no tests found" + (f" matching {args.pattern!r}" if args.pattern else ""))
    except UsageError as exc:
        print(f"wraprun conformance: {exc}", file=sys.stderr)
        return 2
    jobs = args.jobs or os.cpu_count() or 1
    progress = Progress(sys.stdout, len(cases) * len(impls), len(impls) > 1, args.verbose)
    results = execute(cases, impls, jobs, args.timeout, progress)
    outcome = Report(impls=impls, results=results)
    if args.compare:
        print(report.matrix_text(outcome))
        for name in outcome.names:
            print(f"{name}: {outcome.summary(name)}")
    if args.junit:
        from .junit import write_junit

        write_junit(outcome, Path(args.junit))
    if args.html:
        from .html_report import write_html

        write_html(outcome, Path(args.html))
    # The first implementation is the one judged (in a comparison, the others are references).
    first = outcome.names[0]
    print(outcome.summary(first))
    return 0 if outcome.counts(first)["failed"] == 0 else 1


def execute(
    cases: list[TestCase],
    impls: list[Impl],
    jobs: int,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> list[Result]:
    """Every case against every implementation, ``jobs`` at a time; results in (impl, name) order."""
    order = {impl.name: index for index, impl in enumerate(impls)}
    results: list[Result] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_case, case, impl, timeout) for impl in impls for case in cases]
        for future in as_completed(futures):
            result = future.result()
            results.append(result)
            if progress is not None:
                progress.update(result)
    if progress is not None:
        progress.close()
    return sorted(results, key=lambda r: (order[r.impl], r.case.name))


class Progress:
    """A live line on a terminal; plain lines (failures only) when piped."""

    def __init__(self, stream: TextIO, total: int, with_impl: bool, verbose: bool) -> None:
        self.stream, self.total, self.with_impl, self.verbose = stream, total, with_impl, verbose
        self.status = StatusLine(stream.write, stream.isatty())
        self.done = self.passed = self.failed = 0

    def update(self, result: Result) -> None:
        self.done += 1
        self.passed += result.status == "passed"
        self.failed += result.status == "failed"
        self.status.clear()
        if result.status == "failed":
            self.stream.write(report.failure_line(result, self.with_impl) + "\n")
            if self.verbose:
                self.stream.write(report.tail(result.output) + "\n")
        self.status.show(f"{self.done}/{self.total} done, {self.passed} passed, {self.failed} failed")
        self.stream.flush()

    def close(self) -> None:
        self.status.clear()
        self.stream.flush()
