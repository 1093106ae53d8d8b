"""relay: only lines that start with a macro are macros, whatever the pieces; bytes pass exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wraprun import macros, relay
from wraprun.redact import MASK, Redactor
from wraprun.relay import Relay

LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [b"openjd_env: A=1", b"openjd_status: busy", b"x openjd_env: FORGED=1", b"openjd_", b"open", b""]
        ),
        st.binary(max_size=20).filter(lambda b: b"\n" not in b),
    ),
    max_size=12,
)


class Seen:
    def __init__(self, secrets: tuple[bytes, ...] = ()) -> None:
        self.redactor = Redactor()
        for secret in secrets:
            self.redactor.add(secret)
        self.macros: list[macros.Macro] = []
        self.shown = bytearray()
        self.warnings: list[str] = []
        self.relay = Relay(self.redactor, self.on_macro, self.shown.extend, self.warnings.append)

    def on_macro(self, macro: macros.Macro) -> None:
        self.macros.append(macro)
        if macro.kind == "redacted_env":
            self.redactor.add(macro.value.encode("utf-8", "surrogateescape"))
            assert macro.value.encode() not in self.shown, "shown before it was declared"

    def feed(self, *pieces: bytes) -> Seen:
        for piece in pieces:
            self.relay.feed(piece)
        self.relay.close()
        return self


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = sorted(min(c, len(data)) for c in cuts)
    return [data[a:b] for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True)]


@given(LINES, st.booleans(), st.lists(st.integers(0, 300), max_size=8))
def test_pieces_change_nothing(lines: list[bytes], last_newline: bool, cuts: list[int]) -> None:
    data = b"\n".join(lines) + (b"\n" if last_newline else b"")
    seen = Seen().feed(*split(data, cuts))
    assert bytes(seen.shown) == data
    assert seen.macros == macros.scan(data)
    assert not any(m.name == "FORGED" for m in seen.macros)


def test_text_after_a_cut_inside_a_line_is_not_a_macro() -> None:
    seen = Seen().feed(b"x" * 100, b"openjd_env: INJECTED=yes\n", b"openjd_env: REAL=1\n")
    assert [m.name for m in seen.macros] == ["REAL"]
    assert bytes(seen.shown) == b"x" * 100 + b"openjd_env: INJECTED=yes\nopenjd_env: REAL=1\n"


def test_a_long_macro_line_is_read_whole_and_masks_its_own_secret() -> None:
    secret = b"s" * (1 << 20) + b"!"
    line = b"openjd_redacted_env: TOKEN=" + secret + b"\n"
    pieces = split(line + b"later " + secret + b"\n", [1 << 19, 1 << 20, (1 << 20) + 30])
    seen = Seen().feed(*pieces)
    assert [(m.kind, len(m.value)) for m in seen.macros] == [("redacted_env", len(secret))]
    assert bytes(seen.shown) == b"openjd_redacted_env: TOKEN=" + MASK + b"\nlater " + MASK + b"\n"


def test_a_long_status_is_not_cut() -> None:
    status = b"y" * (3 << 19)
    seen = Seen().feed(*split(b"openjd_status: " + status + b"\n", [1000, 1 << 20]))
    assert seen.macros[0].value.encode() == status


def test_a_last_line_without_newline_is_still_a_macro() -> None:
    assert Seen().feed(b"openjd_progress: 50").macros[0].progress == 50


def test_a_line_past_the_macro_limit_is_plain_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay, "MAX_MACRO_LINE", 64)  # a small limit, for the test only
    seen = Seen().feed(b"openjd_env: A=" + b"v" * 60, b"v" * 10, b"\nopenjd_env: B=1\n")
    assert [m.name for m in seen.macros] == ["B"] and seen.warnings
    assert bytes(seen.shown) == b"openjd_env: A=" + b"v" * 70 + b"\nopenjd_env: B=1\n"


def test_secrets_split_by_pieces_are_masked() -> None:
    seen = Seen((b"hunter2",)).feed(b"a" * 50 + b"hun", b"ter2", b" end")
    assert bytes(seen.shown) == b"a" * 50 + MASK + b" end"
