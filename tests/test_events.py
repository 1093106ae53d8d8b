"""events: the human and JSON-lines sinks, and what they do when their stream fails."""

from __future__ import annotations

import base64
import errno
import io
import json
import re
import shlex
from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from wraprun import events
from wraprun.redact import Redactor

from .helpers import assert_no_secret


def human(*evs: events.Event, live: bool = False) -> bytes:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8")
    sink = events.HumanSink(stream, live=live)
    for event in evs:
        sink(event)
    sink.close()
    return raw.getvalue()


STARTED = events.ActionStarted("onRun", "Task T", ("python", "-c", "secret args"))
ENDED = events.ActionEnded("Task T", "SUCCEEDED", 0)


def test_human_lines_frame_each_action_and_show_only_the_command() -> None:
    out = human(events.SessionStarted("J"), STARTED, events.ActionOutput(b"hi\n"), ENDED)
    assert out == (
        b"Running job 'J'\n==> Task T: python\nhi\nProcess exited with code: 0\n<== Task T: SUCCEEDED\n"
    )


def test_an_unterminated_last_line_is_ended_before_the_next_framing_line() -> None:
    out = human(STARTED, events.ActionOutput(b"a\nno newline"), ENDED)
    assert b"a\nno newline\nProcess exited" in out


def test_output_bytes_pass_untouched() -> None:
    data = b"\xff\xfe\r\x00 \xe2\x80\xa8\n"
    assert events.ActionOutput(data).data in human(events.ActionOutput(data))


def test_the_live_line_is_cleared_before_anything_else_and_at_close() -> None:
    out = human(
        events.TaskCount(0, 2),
        STARTED,
        events.ActionProgress(50.0, "half"),
        events.ActionOutput(b"x\n"),
        live=True,
    ).decode()
    assert "tasks 0/2 | Task T | 50% half" in out
    assert "\r\x1b[Kx\n" in out and out.endswith("\r\x1b[K")


def test_a_pipe_gets_no_live_line() -> None:
    assert b"\x1b" not in human(events.TaskCount(0, 2), STARTED, events.ActionProgress(50.0, "half"))


def jsonl(*evs: events.Event) -> list[dict[str, object]]:
    stream = io.StringIO()
    sink = events.JsonLinesSink(stream)
    for event in evs:
        sink(event)
    sink.close()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@given(st.lists(st.binary(max_size=30), max_size=6))
def test_json_lines_give_back_the_exact_bytes_whatever_the_pieces(pieces: list[bytes]) -> None:
    records = jsonl(*(events.ActionOutput(p) for p in pieces), ENDED)
    rebuilt = b""
    for r in records[:-1]:
        assert r["event"] == "ActionOutput"
        line = base64.b64decode(str(r["base64"])) if "base64" in r else str(r["line"]).encode()
        rebuilt += line + (b"" if r.get("newline") is False else b"\n")
    assert rebuilt == b"".join(pieces)
    assert records[-1]["event"] == "ActionEnded"


def test_only_a_newline_ends_a_json_line() -> None:
    (record,) = jsonl(events.ActionOutput("a\rb\fc\u2028d\n".encode()))
    assert record == {"event": "ActionOutput", "line": "a\rb\fc\u2028d"}


class Failing(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_failing_stream_closes_the_sink_and_says_so_once() -> None:
    for sink_type in (events.HumanSink, events.JsonLinesSink):
        seen: list[OSError] = []
        sink = sink_type(Failing(), seen.append)
        sink(STARTED)
        sink(ENDED)
        sink.close()
        assert sink.closed and [e.errno for e in seen] == [errno.ENOSPC]


def test_progress_from_a_long_line_in_pieces_does_not_cut_its_json_line() -> None:
    records = jsonl(
        events.ActionOutput(b"ab"), events.ActionProgress(5.0, None), events.ActionOutput(b"cd\n"), ENDED
    )
    assert [r for r in records if r["event"] == "ActionOutput"] == [{"event": "ActionOutput", "line": "abcd"}]


def test_the_live_line_never_draws_over_an_unterminated_line() -> None:
    out = human(STARTED, events.ActionOutput(b"half a line"), events.ActionProgress(5.0, "x"), live=True)
    assert out.endswith(b"half a line")  # no status drawn after it, nothing cleared


# -- --timestamp-format and --verbose ----------------------------------------------------------------


def counting_stamp() -> events.Stamp:
    """Stamps that say in which call they were made: ``<1>``, ``<2>``..."""
    calls = iter(range(1, 1 << 30))
    return lambda: f"<{next(calls)}>"


def stamped(*evs: events.Event, verbose: bool = False, redactor: Redactor | None = None) -> bytes:
    raw = io.BytesIO()
    sink = events.HumanSink(
        io.TextIOWrapper(raw, encoding="utf-8"), stamp=counting_stamp(), verbose=verbose, redactor=redactor
    )
    for event in evs:
        sink(event)
    sink.close()
    return raw.getvalue()


STAMP = re.compile(rb"^<\d+>\t")


@given(st.lists(st.binary(max_size=30), max_size=8))
def test_each_line_starts_with_one_stamp_whatever_the_pieces(pieces: list[bytes]) -> None:
    """Taking one stamp off the start of each line gives back what is shown unstamped."""
    evs = (STARTED, *(events.ActionOutput(p) for p in pieces), ENDED)
    out, plain = stamped(*evs), human(*evs)
    lines = out.split(b"\n")
    assert lines[-1] == b""
    assert all(STAMP.match(line) for line in lines[:-1])
    assert b"\n".join(STAMP.sub(b"", line) for line in lines) == plain


def test_a_line_continued_in_a_later_piece_gets_no_stamp_in_its_middle() -> None:
    out = stamped(STARTED, events.ActionOutput(b"half "), events.ActionOutput(b"and half\nnext"), ENDED)
    assert b"\t" not in out.split(b"\n")[1].partition(b"\t")[2]  # one stamp, at the start only
    assert out.split(b"\n")[1:4] == [b"<2>\thalf and half", b"<3>\tnext", b"<4>\tProcess exited with code: 0"]


def test_stamps_have_the_formats_asked_for() -> None:
    relative = events.timestamps("relative")()
    assert re.fullmatch(r"0:00:\d\d\.\d{6}", relative)
    utc = datetime.fromisoformat(events.timestamps("utc")())
    assert utc.utcoffset() == timedelta(0)
    assert datetime.fromisoformat(events.timestamps("local")()).tzinfo is not None


@given(st.lists(st.text(max_size=12), min_size=1, max_size=6))
def test_verbose_shows_the_command_line_a_shell_splits_back(argv: list[str]) -> None:
    started = events.ActionStarted("onRun", "Task T", tuple(argv))
    line = human(started).decode()
    plain = line.removeprefix("==> Task T: ").removesuffix("\n")
    assert plain == argv[0]
    out = stamped(started, verbose=True).decode()
    assert out.startswith("<1>\t==> Task T: ")
    # a newline inside an argument starts a line of its own, stamped as every line is
    text = "\n".join(re.sub(r"^<\d+>\t", "", part) for part in out.removesuffix("\n").split("\n"))
    assert shlex.split(text.removeprefix("==> Task T: ")) == argv


@given(st.lists(st.text(st.characters(codec="ascii"), max_size=10), min_size=1, max_size=5), st.data())
def test_verbose_masks_a_secret_however_the_quoting_places_it(argv: list[str], data: st.DataObject) -> None:
    """A secret may span arguments once they are joined and quoted: it is masked all the same."""
    joined = shlex.join(argv)
    start = data.draw(st.integers(0, len(joined) - 1))
    secret = joined[start : data.draw(st.integers(start + 1, len(joined)))]
    redactor = Redactor()
    redactor.add(secret.encode())
    out = stamped(events.ActionStarted("onRun", "T", tuple(argv)), verbose=True, redactor=redactor)
    shown = out.split(b"\t", 1)[1].removeprefix(b"==> T: ")  # the frame is wraprun's own text
    assert_no_secret(shown, [secret.encode()])


def test_verbose_json_lines_hold_every_argument_and_mask_them() -> None:
    redactor = Redactor()
    redactor.add(b"hunter2")
    started = events.ActionStarted("onRun", "T", ("tool", "a b", "--password=hunter2"))
    stream = io.StringIO()
    sink = events.JsonLinesSink(stream, verbose=True, redactor=redactor, stamp=lambda: "NOW")
    sink(started)
    record = json.loads(stream.getvalue())
    assert list(record)[:2] == ["event", "time"] and record["time"] == "NOW"
    assert record["argv"] == ["tool", "a b", "--password=********"]
    assert jsonl(started)[0]["argv"] == ["tool"]
