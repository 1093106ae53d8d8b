"""Orchestrate a conformance run: discover, execute in parallel, report."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import report
from .discover import TestCase, discover
from .execute import Result, run_case

OWN_SUITE_ENV = "WRAPRUN_CONFORMANCE_DIR"


def own_suite() -> Path:
    """The project's own suite: $WRAPRUN_CONFORMANCE_DIR, else ``conformance/`` of this checkout."""
    configured = os.environ.get(OWN_SUITE_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "conformance"


def parse_impls(values: list[str]) -> list[tuple[str, list[str]]]:
    impls = []
    for value in values or ["wraprun"]:
        name, sep, command = value.partition("=")
        if not sep or " " in name or "/" in name:
            name, command = Path(shlex.split(value)[0]).name, value
        words = shlex.split(command)
        if words == ["wraprun"]:
            words = [sys.executable, "-m", "wraprun"]  # this very wraprun, whatever PATH says
        impls.append((name, words))
    return impls


def main(args: argparse.Namespace) -> int:
    roots = [Path(s) for s in args.suites] or [own_suite()]
    missing = [str(r) for r in roots if not r.exists()]
    if missing:
        print(f"wraprun conformance: no such suite: {', '.join(missing)}", file=sys.stderr)
        return 2
    comparing = args.compare is not None
    impls = parse_impls(args.impl + [c for c in args.compare or [] if c])
    if len(impls) > 1 and not comparing:
        print("wraprun conformance: several --impl need --compare", file=sys.stderr)
        return 2
    cases = discover(roots, args.pattern)
    if not cases:
        print("wraprun conformance: no tests found", file=sys.stderr)
        return 2
    results = _execute(cases, impls, args.jobs or os.cpu_count() or 1, args.verbose)
    names = [name for name, _ in impls]
    if comparing:
        print(report.matrix_text(results, names))
    for name in names:
        mine = [r for r in results if r.impl == name]
        prefix = f"{name}: " if comparing else ""
        print(prefix + report.summary_line(mine))
    if args.junit:
        report.write_junit(results, Path(args.junit))
    if args.html:
        report.write_html(results, names, Path(args.html))
    return 1 if any(r.status == "failed" for r in results) else 0


def _execute(
    cases: list[TestCase], impls: list[tuple[str, list[str]]], jobs: int, verbose: bool
) -> list[Result]:
    work = [(case, name, command) for name, command in impls for case in cases]
    live = sys.stdout.isatty()
    results: list[Result] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_case, case, name, command) for case, name, command in work]
        for future in futures:
            result = future.result()
            results.append(result)
            if live:
                sys.stdout.write("\r\x1b[K")
            if result.status == "failed":
                print(report.failure_line(result, len(impls) > 1))
                if verbose:
                    print("    " + result.output[-2000:].replace("\n", "\n    "))
            if live:
                failed = sum(r.status == "failed" for r in results)
                sys.stdout.write(f"{len(results)}/{len(work)} run, {failed} failed  {result.case.name[:60]}")
            sys.stdout.flush()
    if live:
        sys.stdout.write("\r\x1b[K")
    return results
