"""record: a session's events kept as data — actions, spans, steps, caps, the result document."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from wraprun import events
from wraprun.record import Limits, Output, Recorder, SessionRecord, document, dump, walk
from wraprun.redact import Redactor


def recorded(evs: Iterable[events.Event], limits: Limits | None = None) -> SessionRecord:
    """Feed events one second apart (event i arrives at t = i)."""
    ticks = itertools.count()
    recorder = Recorder(
        clock=lambda: float(next(ticks)), wall=lambda: 1_700_000_000.0, limits=limits or Limits()
    )
    for event in evs:
        recorder(event)
    return recorder.record


def action(
    kind: events.ActionKind,
    label: str,
    *output: bytes,
    via: str = "",
    state: str = "SUCCEEDED",
    subject: str = "",
    purpose: events.ActionKind = "onRun",
) -> list[events.Event]:
    """The events of one action: started, its output pieces, ended; ``subject``: its
    environment or step, ``purpose``: the lifecycle action (as the session says them)."""
    code = 0 if state == "SUCCEEDED" else 1
    message = "" if code == 0 else "it broke"
    return [
        events.ActionStarted(kind, label, ("prog", "--secret-arg"), via, subject),
        *(events.ActionOutput(piece) for piece in output),
        events.ActionEnded(label, state, code, message, purpose, subject),  # type: ignore[arg-type]
    ]


def enter(name: str, via: str = "") -> list[events.Event]:
    kind: events.ActionKind = "onWrapEnvEnter" if via else "onEnter"
    return action(kind, f"Enter environment '{name}'", via=via, subject=name, purpose="onEnter")


def leave(name: str, via: str = "") -> list[events.Event]:
    kind: events.ActionKind = "onWrapEnvExit" if via else "onExit"
    return action(kind, f"Exit environment '{name}'", via=via, subject=name, purpose="onExit")


def task(step: str, n: int, via: str = "", state: str = "SUCCEEDED") -> list[events.Event]:
    kind: events.ActionKind = "onWrapTaskRun" if via else "onRun"
    return action(kind, f"Task {step} (N={n})", b"line\n", via=via, state=state, subject=step)


def session(*parts: list[events.Event], state: events.SessionState = "SUCCEEDED") -> list[events.Event]:
    body = [event for part in parts for event in part]
    return [events.SessionStarted("Job"), *body, events.SessionEnded(state, 2, 9.5, "")]


# --- actions and environments -------------------------------------------------------------------


def test_actions_keep_order_timing_state_and_output() -> None:
    record = recorded(
        session(
            enter("Outer"),
            [events.TaskCount(0, 2, "S")],
            task("S", 1),
            [events.TaskCount(1, 2, "S")],
            task("S", 2, state="FAILED"),
            leave("Outer"),
        )
    )
    labels = [a.label for a in record.actions]
    assert labels == ["Enter environment 'Outer'", "Task S (N=1)", "Task S (N=2)", "Exit environment 'Outer'"]
    first = record.actions[0]
    assert (first.start, first.end, first.duration(0), first.state, first.exit_code) == (
        1,
        2,
        1,
        "SUCCEEDED",
        0,
    )
    failed = record.actions[2]
    assert (failed.state, failed.exit_code, failed.message, failed.step) == ("FAILED", 1, "it broke", "S")
    assert failed.output.lines() == ["line"]
    assert failed.command == "prog"  # the program, never its arguments
    assert (record.state, record.duration, record.tasks_run, record.job_name) == ("SUCCEEDED", 9.5, 2, "Job")
    [step] = record.steps
    assert (step.name, step.tasks_run, step.tasks_done) == ("S", 2, 1)


def test_environments_are_nested_spans_from_their_enter_to_the_end_of_their_exit() -> None:
    record = recorded(
        session(
            enter("A"), enter("B"), task("S", 1), leave("B"), enter("C"), task("S", 2), leave("C"), leave("A")
        )
    )
    spans = {span.name: span for span in record.environments}
    a, b, c = spans["A"], spans["B"], spans["C"]
    assert (a.depth, a.parent, b.depth, b.parent, c.parent) == (0, None, 1, a.index, a.index)
    by_label = {x.label: x for x in record.actions}
    assert by_label["Task S (N=1)"].environment == b.index
    assert by_label["Task S (N=2)"].environment == c.index
    assert by_label["Enter environment 'B'"].environment == b.index  # an enter or exit is its own span's
    assert by_label["Exit environment 'A'"].environment == a.index
    for span in (a, b, c):
        inside = [x for x in record.actions if x.environment == span.index]
        assert span.end is not None
        assert all(span.start <= x.start and x.end is not None and x.end <= span.end for x in inside)
    assert a.start < b.start < b.end < c.start < c.end < a.end  # type: ignore[operator]


def test_an_environment_without_an_exit_action_ends_with_the_one_around_it() -> None:
    record = recorded(session(enter("A"), enter("NoExit"), task("S", 1), leave("A")))
    spans = {span.name: span for span in record.environments}
    exit_a = record.actions[-1]
    assert spans["NoExit"].end == exit_a.start and spans["NoExit"].exit_action is None
    assert spans["A"].end == exit_a.end


def test_an_environment_without_an_enter_action_is_its_exit_alone() -> None:
    record = recorded(session(task("S", 1), leave("Quiet")))
    [span] = record.environments
    assert span.enter_action is None and span.exit_action == 1
    assert (span.start, span.end) == (record.actions[1].start, record.actions[1].end)


def test_a_wrapping_environment_encloses_the_hooks_that_ran_for_it() -> None:
    """The wrapper has no enter/exit action of its own: its hooks say it was entered, and the
    first unwrapped action after them that it left."""
    record = recorded(
        session(
            enter("Outer"),
            enter("Inner", via="W"),
            task("S", 1, via="W"),
            leave("Inner", via="W"),
            leave("Outer"),
        )
    )
    spans = {span.name: span for span in record.environments}
    wrapper, inner, outer = spans["W"], spans["Inner"], spans["Outer"]
    assert wrapper.wraps and not inner.wraps and wrapper.enter_action is None
    assert (wrapper.parent, inner.parent) == (outer.index, wrapper.index)
    hooks = [x for x in record.actions if x.wrapped_by]
    assert [x.kind for x in hooks] == ["onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit"]
    assert wrapper.start == hooks[0].start and wrapper.end == hooks[-1].end
    assert record.actions[-1].environment == outer.index  # Outer's exit is not inside the wrapper


def test_a_wrapping_environment_with_its_own_actions_spans_them() -> None:
    record = recorded(session(enter("W"), task("S", 1, via="W"), leave("W")))
    [span] = record.environments
    assert span.wraps and span.enter_action == 0 and span.exit_action == 2
    assert record.actions[1].environment == span.index


def test_an_action_that_failed_before_it_started_is_kept() -> None:
    record = recorded(
        session(
            [events.ActionEnded("Enter environment 'E'", "FAILED", None, "cannot write", "onEnter", "E")],
            leave("E"),
        )
    )
    first = record.actions[0]
    assert (first.kind, first.started, first.state, first.message) == (
        "onEnter",
        False,
        "FAILED",
        "cannot write",
    )
    [span] = record.environments
    assert span.enter_action == 0 and span.exit_action == 1


def test_progress_and_status_updates_are_kept_with_their_times() -> None:
    record = recorded(
        [
            events.ActionStarted("onRun", "Task S", ("p",)),
            events.ActionProgress(10.0, None),
            events.ActionProgress(10.0, "half"),
            events.ActionProgress(90.0, "half"),
            events.ActionEnded("Task S", "SUCCEEDED", 0),
        ]
    )
    [done] = record.actions
    assert [(u.at, u.progress, u.status) for u in done.updates] == [
        (1, 10.0, None),
        (2, 10.0, "half"),
        (3, 90.0, "half"),
    ]
    assert (done.progress, done.status) == (90.0, "half")


def test_a_session_that_never_ended_has_no_state_and_its_action_runs_to_the_last_event() -> None:
    record = recorded([events.SessionStarted("J"), *enter("A")[:1], events.ActionOutput(b"x")])
    [running] = record.actions
    assert record.state is None and running.state == "RUNNING" and running.end is None
    assert running.duration(record.length) == record.length - running.start
    assert document(record)["status"] == "FAILED"  # a document always says an end


def test_walk_lists_spans_before_what_they_hold() -> None:
    record = recorded(session(enter("A"), task("S", 1), leave("A"), task("S", 2)))
    order = [(parent, getattr(item, "label", getattr(item, "name", ""))) for parent, item in walk(record)]
    assert order == [
        (None, "A"),
        (0, "Enter environment 'A'"),
        (0, "Task S (N=1)"),
        (0, "Exit environment 'A'"),
        (None, "Task S (N=2)"),
    ]


# --- caps ---------------------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=40), max_size=12), st.integers(0, 30))
def test_output_keeps_its_first_and_last_bytes_and_counts_the_rest(pieces: list[bytes], edge: int) -> None:
    output = Output(edge, edge)
    for piece in pieces:
        output.add(piece)
    data = b"".join(pieces)
    assert output.total == len(data)
    assert len(output.head) <= edge and len(output.tail) <= edge
    if len(data) <= 2 * edge:
        assert bytes(output.head + output.tail) == data and output.omitted == 0
    else:
        assert bytes(output.head) == data[:edge] and bytes(output.tail) == data[len(data) - edge :]
        assert output.omitted == len(data) - 2 * edge
        assert f"{output.omitted:,} bytes omitted" in "\n".join(output.lines())


def test_a_cut_does_not_split_a_character() -> None:
    output = Output(4, 4)
    output.add("ab€€€€cd€".encode())  # € is 3 bytes: both cuts fall inside one
    assert output.parts() == ("ab", 11, "d€")


def test_all_actions_together_keep_at_most_the_output_budget() -> None:
    limits = Limits(output_edge=100, output_budget=1000)
    evs = [e for n in range(30) for e in action("onRun", f"Task S (N={n})", b"x" * 500)]
    record = recorded(evs, limits)
    kept = sum(a.output.kept for a in record.actions)
    assert kept <= 1000
    assert all(a.output.total == 500 for a in record.actions)  # every byte is still counted
    assert record.actions[0].output.kept == 200 and record.actions[-1].output.kept == 0


def test_small_outputs_leave_the_budget_to_later_actions() -> None:
    limits = Limits(output_edge=100, output_budget=400)
    evs = [e for n in range(50) for e in action("onRun", f"Task S (N={n})", b"ok\n")]
    record = recorded([*evs, *action("onRun", "Task S (N=big)", b"y" * 1000)], limits)
    assert all(a.output.lines() == ["ok"] for a in record.actions[:-1])
    assert record.actions[-1].output.kept == 200


def test_only_the_first_and_last_actions_are_kept_and_the_rest_counted() -> None:
    limits = Limits(action_edge=3)
    evs = [e for n in range(10) for e in task("S", n)]
    record = recorded(session(evs), limits)
    assert [a.index for a in record.actions] == [0, 1, 2, 7, 8, 9]
    assert record.actions_omitted == 4
    assert record.steps[0].tasks_run == 10
    assert document(record)["actions_omitted"] == 4


def test_updates_and_messages_are_capped() -> None:
    limits = Limits(update_limit=3, message_limit=2)
    evs: list[events.Event] = [events.ActionStarted("onRun", "Task S", ("p",))]
    evs += [events.ActionProgress(float(n), None) for n in range(10)]
    evs += [events.SessionMessage(f"m{n}") for n in range(5)]
    record = recorded(evs, limits)
    [running] = record.actions
    assert [u.progress for u in running.updates] == [7.0, 8.0, 9.0] and running.updates_dropped == 7
    assert [m.text for m in record.messages] == ["m0", "m1"] and record.messages_omitted == 3


# --- text ---------------------------------------------------------------------------------------


def test_text_that_is_not_utf8_is_kept_encodable() -> None:
    lone = "bad\udcff surrogate"
    record = recorded(
        [
            events.SessionStarted(lone),
            events.ActionStarted("onRun", lone, (lone,)),
            events.ActionOutput(b"\xff\xfe raw\n"),
            events.ActionProgress(None, lone),
            events.ActionEnded(lone, "FAILED", 1, lone),
            events.SessionMessage(lone, "warning"),
        ]
    )
    text = dump(document(record), "json") + dump(document(record), "yaml")
    text.encode("utf-8")  # no lone surrogate left
    assert record.actions[0].output.lines() == ["\ufffd\ufffd raw"]


def test_mask_hides_a_secret_printed_before_it_was_declared() -> None:
    secret = "hunter2-VALUE"
    record = recorded(
        session(
            action("onEnter", "Enter environment 'E'", f"early {secret}\n".encode()),
            [events.SessionMessage(f"warn {secret}")],
            action("onRun", f"Task S (P={secret})", b"x" * 100 + secret.encode() + b"y" * 100),
        ),
        Limits(output_edge=150),
    )
    redactor = Redactor()
    redactor.add(secret.encode())
    record.mask(redactor)
    for form in ("json", "yaml"):
        assert secret not in dump(document(record), form)


# --- the document -------------------------------------------------------------------------------

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    [
        "<script>alert(1)</script>",
        "a & b",
        "'\"",
        "\x00nul",
        "\x1b[31mred\x1b[0m",
        "\u2028",
        "\x85",
        "\ud800x",
    ]
)
KINDS = st.sampled_from(["onEnter", "onRun", "onExit", "onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit"])
LABELS = (
    TEXT
    | st.builds(lambda n: f"Enter environment '{n}'", TEXT)
    | st.builds(lambda n: f"Exit environment '{n}'", TEXT)
)
EVENT = st.one_of(
    st.builds(events.SessionStarted, TEXT),
    st.builds(events.ActionStarted, KINDS, LABELS, st.tuples(TEXT), st.sampled_from(["", "W"]) | TEXT),
    st.builds(events.ActionOutput, st.binary(max_size=50)),
    st.builds(events.ActionProgress, st.none() | st.floats(0, 100), st.none() | TEXT),
    st.builds(
        events.ActionEnded,
        LABELS,
        st.sampled_from(["SUCCEEDED", "FAILED", "CANCELED", "TIMEOUT", "RUNNING"]),
        st.none() | st.integers(-255, 255),
        TEXT,
    ),
    st.builds(events.SessionMessage, TEXT, st.sampled_from(["info", "warning"]) | TEXT),
    st.builds(events.TaskCount, st.integers(0, 9), st.integers(0, 9), TEXT),
    st.builds(
        events.SessionEnded,
        st.sampled_from(["SUCCEEDED", "FAILED", "CANCELED"]),
        st.integers(0, 9),
        st.floats(0, 99),
        TEXT,
        TEXT,
    ),
)
EVENTS = st.lists(EVENT, max_size=40)


@settings(max_examples=150)
@given(EVENTS)
def test_any_event_sequence_makes_a_well_formed_record_and_document(evs: list[events.Event]) -> None:
    record = recorded(evs, Limits(output_edge=16, output_budget=200, action_edge=4))
    spans = record.environments
    for span in spans:  # a tree: parents come first, depth follows the parent
        assert span.parent is None or (
            span.parent < span.index and span.depth == spans[span.parent].depth + 1
        )
        assert span.end is None or span.end >= span.start
    for kept in record.actions:
        assert kept.environment is None or 0 <= kept.environment < len(spans)
        assert kept.duration(record.length) >= 0
    assert sum(a.output.kept for a in record.actions) <= 200
    data = document(record)
    assert json.loads(dump(data, "json")) == json.loads(json.dumps(data))
    assert yaml.safe_load(dump(data, "yaml")) == json.loads(json.dumps(data))
    assert data["status"] in ("SUCCEEDED", "FAILED", "CANCELED")
    actions, running = 0, False  # an ActionEnded with none running is an action of its own
    for event in evs:
        if isinstance(event, events.ActionStarted) or (isinstance(event, events.ActionEnded) and not running):
            actions += 1
        running = isinstance(event, events.ActionStarted) or (
            running and not isinstance(event, (events.ActionEnded, events.SessionEnded))
        )
    assert len(data["actions"]) + data["actions_omitted"] == actions
