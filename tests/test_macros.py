"""macros: recognising openjd_* lines in blocks of output."""

from hypothesis import given
from hypothesis import strategies as st

from wraprun.macros import parse_line, scan


def test_plain_output_has_no_macros() -> None:
    assert scan(b"hello\nworld\n") == []


def test_env_value_keeps_equals_signs() -> None:
    macro = parse_line("openjd_env: URL=http://x/?a=b=c")
    assert macro is not None and (macro.kind, macro.name, macro.value) == ("env", "URL", "http://x/?a=b=c")


def test_each_kind() -> None:
    block = (
        b"openjd_progress: 42.5\nopenjd_status: rendering frame 3\n"
        b"openjd_fail: bad input\nopenjd_unset_env: FOO\nopenjd_redacted_env: TOKEN=s3cret\n"
    )
    found = scan(block)
    assert [m.kind for m in found] == ["progress", "status", "fail", "unset_env", "redacted_env"]
    assert found[0].progress == 42.5
    assert found[1].value == "rendering frame 3"
    assert found[3].name == "FOO"
    assert (found[4].name, found[4].value) == ("TOKEN", "s3cret")


def test_macro_must_start_the_line() -> None:
    assert scan(b"echo openjd_env: A=1\n  openjd_env: B=2\n") == []


def test_crlf_line_endings() -> None:
    macro = scan(b"openjd_env: A=1\r\n")[0]
    assert macro.value == "1"


def test_unicode_values() -> None:
    macro = scan("openjd_status: ünïcødé ✓\n".encode())[0]
    assert macro.value == "ünïcødé ✓"


def test_malformed_env_is_reported_not_applied() -> None:
    macro = scan(b"openjd_env: no-equals-here\n")[0]
    assert macro.error and "NAME=VALUE" in macro.error
    assert scan(b"openjd_env: 1BAD=x\n")[0].error


def test_progress_out_of_range_is_none() -> None:
    assert scan(b"openjd_progress: 150\n")[0].progress is None
    assert scan(b"openjd_progress: abc\n")[0].progress is None


@given(st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=200))
def test_any_env_value_round_trips(value: str) -> None:
    macro = scan(f"openjd_env: KEY={value}\n".encode())[0]
    assert (macro.name, macro.value) == ("KEY", value)
