"""Mask the values given to ``openjd_redacted_env`` in everything a session shows.

One unit does all masking, for every sink: action output (bytes, possibly in
pieces of one long line), and text such as status and fail messages, labels
and warnings. Secrets are arbitrary bytes (a value that is not valid UTF-8
stays as its raw bytes), never hold a newline (a macro's value ends at the
end of its line), and may overlap or contain one another in any order.

The rule: after masking, no secret occurs in the output except wholly inside
a mask. Every byte that belongs to any occurrence of any secret is covered;
overlapping and adjacent occurrences share one mask. Because a mask is made
of ``*`` and a secret may contain ``*``, a mask can complete a secret with
the text beside it; masking repeats until that no longer happens (each round
swallows at least one unmasked byte, so it ends).
"""

from __future__ import annotations

MASK = b"********"


class Redactor:
    """The session's secrets, and the masking of bytes and text with them."""

    def __init__(self) -> None:
        self._secrets: list[bytes] = []
        self.longest = 0

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def add(self, secret: bytes) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            self.longest = max(self.longest, len(secret))

    def mask(self, data: bytes) -> bytes:
        """``data`` with every secret occurrence masked."""
        if not self._secrets:
            return data
        return self._mask(b"", data)[0]

    def text(self, text: str) -> str:
        """Mask a str; non-UTF-8 secret bytes are matched through surrogate escapes."""
        if not self._secrets:
            return text
        raw = text.encode("utf-8", "surrogateescape")
        return self._mask(b"", raw)[0].decode("utf-8", "surrogateescape")

    def _mask(self, context: bytes, data: bytes) -> tuple[bytes, list[tuple[int, int]]]:
        """Mask ``data``, which follows ``context`` (already shown, not to be changed).

        Returns the masked data and its mask spans. An occurrence that starts in
        ``context`` masks only its part in ``data``.
        """
        masks: list[tuple[int, int]] = []
        while True:
            found = self._occurrences(context, data, masks)
            if not found:
                return data, masks
            data, masks = _apply(data, masks + found)

    def _occurrences(
        self, context: bytes, data: bytes, masks: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Spans of ``data`` covered by secret occurrences not already wholly masked."""
        text = context + data if context else data
        offset = len(context)
        spans = []
        for secret in self._secrets:
            at = text.find(secret, max(0, offset - len(secret) + 1))
            while at >= 0:
                start, end = max(at - offset, 0), at - offset + len(secret)
                if not _covered(start, end, masks):
                    spans.append((start, end))
                at = text.find(secret, at + 1)
        return spans


def _covered(start: int, end: int, masks: list[tuple[int, int]]) -> bool:
    """Whether [start, end) lies inside the union of ``masks`` (sorted, disjoint)."""
    for mask_start, mask_end in masks:
        if mask_start <= start < mask_end:
            start = mask_end
            if start >= end:
                return True
    return start >= end


def _apply(data: bytes, spans: list[tuple[int, int]]) -> tuple[bytes, list[tuple[int, int]]]:
    """Replace the union of ``spans`` with one mask per merged run."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out = bytearray()
    masks = []
    last = 0
    for start, end in merged:
        out += data[last:start]
        masks.append((len(out), len(out) + len(MASK)))
        out += MASK
        last = end
    out += data[last:]
    return bytes(out), masks


class StreamMasker:
    """Mask one action's output as it arrives, in pieces that may split a secret.

    A piece that ends a line is masked and shown whole (secrets hold no
    newline). A piece that ends mid-line keeps back its last bytes, as many as
    a secret could still need, until the next piece or the end of the output.
    """

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._held = b""
        self._shown = b""
        """The tail of what was shown on the current line: a secret may start in it."""

    def feed(self, piece: bytes) -> bytes:
        data = self._held + piece if self._held else piece
        self._held = b""
        if not self.redactor:
            return data
        masked, masks = self.redactor._mask(self._shown, data)
        if masked.endswith(b"\n"):
            self._shown = b""
            return masked
        # Keep back what could still be the start of a secret, but never part of a
        # mask: what follows the last mask is original text, safe to mask again.
        keep = self.redactor.longest - 1
        cut = max([len(masked) - keep, 0, *(end for _, end in masks)])
        shown, self._held = masked[:cut], masked[cut:]
        line_start = shown.rfind(b"\n") + 1
        recent = shown[line_start:] if line_start else self._shown + shown
        self._shown = recent[-keep:] if keep else b""
        return shown

    def flush(self) -> bytes:
        """What is still held back, masked (the output ended)."""
        held, self._held = self._held, b""
        if not held:
            return b""
        masked = self.redactor._mask(self._shown, held)[0] if self.redactor else held
        self._shown = b""
        return masked
