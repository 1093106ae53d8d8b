"""``wraprun conformance``: run conformance suites against one or more implementations.

Only argparse at import: ``wraprun --help`` builds this parser, and must stay fast.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run conformance tests in the public OpenJD layout "
        "(<version>/<component>/{job_templates,env_templates,jobs}/) against an implementation "
        "driven as `IMPL check FILE` and `IMPL run TEMPLATE -p file://P --env E ... "
        "--path-mapping-rules file://M`. Exit status 0 when nothing failed."
    )
    parser.add_argument(
        "suites",
        nargs="*",
        metavar="SUITE_DIR",
        help="suite, version or component folders, or single files "
        "(default: this project's conformance/ suite, or $WRAPRUN_CONFORMANCE_DIR)",
    )
    parser.add_argument(
        "-k",
        dest="pattern",
        metavar="PATTERN",
        help="only tests whose path or file name matches this glob (a plain word: a substring)",
    )
    parser.add_argument(
        "--impl",
        action="append",
        default=[],
        metavar="[NAME=]COMMAND",
        help="the implementation to drive, split like a shell command line (default: this wraprun, "
        "named 'wraprun'); repeatable with --compare",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="run every test against every --impl (wraprun is added when only one is given), "
        "show a side-by-side matrix; the exit status judges the first one",
    )
    parser.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    parser.add_argument(
        "-j", "--jobs", type=int, metavar="N", help="tests run at once (default: the CPU count)"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, metavar="SECONDS", help="per test (default: 300)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show the output tail of failures")


def run(args: argparse.Namespace) -> int:
    from .suite import main

    return main(args)
