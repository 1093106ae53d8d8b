"""``wraprun conformance``: run conformance suites against one or more implementations."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "suites",
        nargs="*",
        metavar="SUITE_DIR",
        help="suite folders or files (default: this project's own conformance/ suite)",
    )
    parser.add_argument(
        "-k", dest="pattern", metavar="PATTERN", help="only tests whose path matches this glob"
    )
    parser.add_argument(
        "--impl",
        action="append",
        default=[],
        metavar="[NAME=]COMMAND",
        help="implementation to drive (public runner contract); repeatable; default: wraprun",
    )
    parser.add_argument(
        "--compare",
        action="append",
        nargs="?",
        const="",
        metavar="[NAME=]COMMAND",
        help="run every test against every implementation (the --impl ones and this one) and show a matrix",
    )
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML")
    parser.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    parser.add_argument("-j", "--jobs", type=int, metavar="N", help="tests run at once (default: CPU count)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the output of failed tests")


def run(args: argparse.Namespace) -> int:
    from . import runner

    return runner.main(args)
