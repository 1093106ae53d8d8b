"""SIGINT, SIGTERM and SIGHUP for the commands that run work, and an output that went away.

Shared by the faces that run sessions (``run``/``session``) and follow them (``submit``/``status``).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable


class Interrupts:
    """SIGINT, SIGTERM and SIGHUP, from the first moment of a run to the end of the process.

    A signal that comes before the run can act is recorded and replayed when it
    can: one cancels the run (its teardown runs), a second skips what teardown
    remains. After the run it changes nothing: the work is already done.
    A caller with nothing to attach (following a submission) reads ``count``.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.count = 0
        self._target: Callable[[], None] | None = None
        for sig in self.SIGNALS:
            signal.signal(sig, self)

    def __call__(self, *_: object) -> None:
        self.count += 1
        if self._target is not None:
            self._target()

    def attach(self, target: Callable[[], None]) -> None:
        for _ in range(self.count):
            target()
        self._target = target

    def detach(self) -> None:
        """The run is over: from now on these signals are ignored. (A Python handler would
        not do: the interpreter puts the default action back while it shuts down.)"""
        self._target = None
        for sig in self.SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


def silence_stdout() -> None:
    """Point fd 1 at /dev/null, so no later flush (ours, or the interpreter's at exit) fails again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
