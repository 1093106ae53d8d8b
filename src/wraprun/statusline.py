"""The one live status line at the bottom of a terminal, shared by every face of wraprun.

Whatever is printed next first clears it; it is drawn again after. On a pipe
nothing is drawn: piped output stays plain lines that scripts can read.
"""

from __future__ import annotations

from collections.abc import Callable

CLEAR = "\r\x1b[K"
WIDTH = 200
"""Longer status text is cut, so the line never wraps into a second one."""


class StatusLine:
    def __init__(self, write: Callable[[str], object], live: bool) -> None:
        self._write = write
        self.live = live
        self._shown = False

    def clear(self) -> None:
        """Call before printing anything else."""
        if self._shown:
            self._write(CLEAR)
            self._shown = False

    def show(self, text: str) -> None:
        if self.live and text:
            self.clear()
            self._write(text[:WIDTH])
            self._shown = True
