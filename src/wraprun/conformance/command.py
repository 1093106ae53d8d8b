"""Placeholder wiring for ``wraprun conformance``; the runner is being written."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suites", nargs="*", metavar="SUITE_DIR")


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("wraprun conformance is not written yet")
