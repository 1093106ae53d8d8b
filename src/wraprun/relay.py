"""From an action's raw output to what the session shows: macros, then masking.

The process layer hands over output in pieces: whole lines as a rule, and
pieces of a line too long to hold (or the last line, without its newline).
Here the pieces become what may be shown:

- a macro is recognised only on a line that starts with it, whatever the
  pieces; text after a cut inside a line is never a macro;
- a macro line is read whole, however long, before it applies and before any
  of it is shown (it may declare the secret it holds); past
  :data:`MAX_MACRO_LINE` it is not a macro but plain output;
- macros of a piece apply before the piece is masked, so a declaration masks
  its own line;
- nothing is added, removed or split: the bytes shown are the bytes written,
  secrets masked.
"""

from __future__ import annotations

from collections.abc import Callable

from . import macros
from .redact import Redactor, StreamMasker

MAX_MACRO_LINE = 64 << 20
PREFIX = b"openjd_"


class Relay:
    def __init__(
        self,
        redactor: Redactor,
        on_macro: Callable[[macros.Macro], None],
        show: Callable[[bytes], None],
        warn: Callable[[str], None],
    ) -> None:
        self._masker = StreamMasker(redactor)
        self._on_macro = on_macro
        self._show = show
        self._warn = warn
        self._line_start = True
        self._macro_line: bytearray | None = None
        """A line that starts like a macro, read until its newline."""

    def feed(self, piece: bytes) -> None:
        if self._macro_line is not None:
            piece = self._continue_macro_line(piece)
            if not piece:
                return
        elif not self._line_start:
            end = piece.find(b"\n") + 1
            if not end:
                self._pass(piece)
                return
            self._pass(piece[:end])
            piece = piece[end:]
            self._line_start = True
            if not piece:
                return
        whole = piece.rfind(b"\n") + 1
        tail = piece[whole:]
        if whole:
            lines = piece[:whole]  # the piece itself, uncopied, when it ends a line
            for macro in macros.scan(lines):
                self._on_macro(macro)
            self._pass(lines)
        if tail:
            if tail.startswith(PREFIX) or PREFIX.startswith(tail):
                self._macro_line = bytearray(tail)
            else:
                self._pass(tail)
                self._line_start = False

    def close(self) -> None:
        """The output ended: a last line without its newline is still a line."""
        if self._macro_line is not None:
            line, self._macro_line = bytes(self._macro_line), None
            for macro in macros.scan(line):
                self._on_macro(macro)
            self._pass(line)
        rest = self._masker.flush()
        if rest:
            self._show(rest)
        self._line_start = True

    def _continue_macro_line(self, piece: bytes) -> bytes:
        """Add to the macro line being read; returns what follows its end."""
        assert self._macro_line is not None
        end = piece.find(b"\n") + 1
        self._macro_line += piece[:end] if end else piece
        if not end:
            too_long = len(self._macro_line) > MAX_MACRO_LINE
            if too_long:
                self._warn(f"an output line over {MAX_MACRO_LINE >> 20} MiB is not read as a macro")
            if too_long or not (self._macro_line.startswith(PREFIX) or PREFIX.startswith(self._macro_line)):
                line, self._macro_line = bytes(self._macro_line), None
                self._pass(line)  # plain output after all: shown, and the line goes on
                self._line_start = False
            return b""
        line, self._macro_line = bytes(self._macro_line), None
        for macro in macros.scan(line):
            self._on_macro(macro)
        self._pass(line)
        self._line_start = True
        return piece[end:]

    def _pass(self, data: bytes) -> None:
        shown = self._masker.feed(data)
        if shown:
            self._show(shown)
