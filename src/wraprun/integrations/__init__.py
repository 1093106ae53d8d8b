"""Adapters that let other systems drive wraprun sessions (each an optional extra)."""

from __future__ import annotations

import sys


def deadline_worker_agent() -> None:
    """``wraprun-deadline-worker-agent``: the worker agent with wraprun as its Python runtime."""
    try:
        from .deadline import main
    except ImportError:  # the extra is missing: say so in one line
        print(
            "wraprun-deadline-worker-agent needs the Deadline Cloud worker agent: "
            "pip install 'wraprun[deadline]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    main()
