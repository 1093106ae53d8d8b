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


@given(st.binary(max_size=200).filter(lambda v: not {0, 10, 13} & set(v)))
def test_any_env_value_round_trips_byte_for_byte(value: bytes) -> None:
    """Also bytes that are not UTF-8: the variable gets exactly what was printed."""
    macro = scan(b"openjd_env: KEY=" + value + b"\n")[0]
    assert macro.name == "KEY" and macro.value.encode("utf-8", "surrogateescape") == value


@given(st.binary(max_size=50).filter(lambda v: b"\n" not in v))
def test_errors_never_quote_the_value(value: bytes) -> None:
    """A malformed line is in the output already (masked); the warning must not copy it,
    escaped or not: its text depends on the kind and the name only."""
    cases = {
        b"openjd_env: bad\\name\t" + value: "openjd_env expects NAME=VALUE",
        b"openjd_redacted_env: K=\0" + value: "openjd_redacted_env: K: a value cannot hold a NUL byte",
        b"openjd_unset_env: =" + value: "openjd_unset_env expects a variable NAME",
    }
    for line, error in cases.items():
        assert scan(line + b"\n")[0].error == error


def test_a_nul_byte_in_a_value_is_an_error_not_a_variable() -> None:
    macro = scan(b"openjd_env: A=x\0y\n")[0]
    assert macro.error == "openjd_env: A: a value cannot hold a NUL byte"


def test_text_after_the_start_of_a_line_is_never_a_macro() -> None:
    assert scan(b"xx openjd_env: A=1\n\topenjd_fail: no\nok\n") == []
