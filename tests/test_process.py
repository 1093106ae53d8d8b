"""process: streaming output, time limits, and stopping whole process trees."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wraprun import process

from .helpers import alive, survivors_of

PY = sys.executable


def run(code: str, tmp_path: Path, **kwargs: object) -> tuple[process.Outcome, bytes]:
    chunks: list[bytes] = []
    control = kwargs.pop("control", None) or process.Control()
    outcome = process.run(
        [PY, "-c", code],
        env=dict(os.environ),
        cwd=str(tmp_path),
        on_output=chunks.append,
        control=control,
        **kwargs,  # type: ignore[arg-type]
    )
    return outcome, b"".join(chunks)


def test_exit_code_and_merged_stderr(tmp_path: Path) -> None:
    outcome, out = run("import sys; print('out'); print('err', file=sys.stderr); sys.exit(7)", tmp_path)
    assert outcome.exit_code == 7 and not outcome.timed_out
    assert out.splitlines() == [b"out", b"err"]


def test_blocks_hold_whole_lines_even_for_split_writes(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "for part in ['open', 'jd_env: A=', '1\\nnext', ' line\\n']:\n"
        "    sys.stdout.write(part); sys.stdout.flush(); time.sleep(0.05)\n"
    )
    blocks: list[bytes] = []
    process.run(
        [PY, "-c", code],
        env=dict(os.environ),
        cwd=str(tmp_path),
        on_output=blocks.append,
        control=process.Control(),
    )
    assert all(b.endswith(b"\n") for b in blocks)
    assert b"".join(blocks) == b"openjd_env: A=1\nnext line\n"


def test_output_without_final_newline_is_relayed_as_written(tmp_path: Path) -> None:
    _, out = run("import sys; sys.stdout.write('no newline at end')", tmp_path)
    assert out == b"no newline at end"


def test_very_long_line_is_relayed_whole(tmp_path: Path) -> None:
    _, out = run("print('x' * 300000)", tmp_path)
    assert out.replace(b"\n", b"") == b"x" * 300000


def test_unicode_passes_through_bytes_untouched(tmp_path: Path) -> None:
    _, out = run("import sys; sys.stdout.buffer.write('ünï ✓\\n'.encode())", tmp_path)
    assert out.decode() == "ünï ✓\n"


def test_start_error_names_the_command(tmp_path: Path) -> None:
    outcome = process.run(
        ["/no/such/program"], env={}, cwd=str(tmp_path), on_output=lambda b: None, control=process.Control()
    )
    assert outcome.exit_code is None and "/no/such/program" in outcome.start_error


TREE = (
    "import os, subprocess, sys, time\n"
    "kids = [subprocess.Popen(['sleep', '60']),\n"
    "        subprocess.Popen(['sleep', '60'], start_new_session=True),\n"
    "        subprocess.Popen([sys.executable, '-c',\n"
    '                          \'import subprocess; subprocess.Popen(["sleep", "60"]).wait()\'])]\n'
    "time.sleep(0.3)\n"
    "open('pids', 'w').write(' '.join(str(p.pid) for p in kids))\n"
    "print('started', flush=True)\n"
    "time.sleep(60)\n"
)


def tree_pids(tmp_path: Path) -> list[int]:
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    grand = [c.pid for p in pids if alive(p) for c in psutil.Process(p).children(recursive=True)]
    return pids + grand


def test_timeout_kills_the_whole_tree(tmp_path: Path) -> None:
    seen: list[int] = []

    def on_output(block: bytes) -> None:
        if b"started" in block:
            seen.extend(tree_pids(tmp_path))

    outcome = process.run(
        [PY, "-c", TREE],
        env=dict(os.environ),
        cwd=str(tmp_path),
        on_output=on_output,
        control=process.Control(),
        timeout=1.5,
    )
    assert outcome.timed_out and outcome.exit_code == -9
    assert len(seen) >= 4
    assert survivors_of(seen, wait=5.0) == []


def test_stop_from_another_thread_kills_the_tree(tmp_path: Path) -> None:
    control = process.Control()
    seen: list[int] = []

    def on_output(block: bytes) -> None:
        if b"started" in block:
            seen.extend(tree_pids(tmp_path))
            threading.Timer(0.1, control.stop).start()

    outcome = process.run(
        [PY, "-c", TREE], env=dict(os.environ), cwd=str(tmp_path), on_output=on_output, control=control
    )
    assert outcome.stopped and not outcome.timed_out
    assert survivors_of(seen, wait=5.0) == []


NOTIFY = (
    "import signal, sys, time\n"
    "def term(*_):\n"
    "    print('got SIGTERM', flush=True); time.sleep({linger})\n"
    "    print('clean exit', flush=True); sys.exit(3)\n"
    "signal.signal(signal.SIGTERM, term)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.mark.parametrize("linger, expect_clean", [(0.2, True), (30, False)])
def test_notify_then_terminate(tmp_path: Path, linger: float, expect_clean: bool) -> None:
    control = process.Control()
    notified: list[float] = []

    def on_output(block: bytes) -> None:
        if b"ready" in block:
            control.stop()

    chunks: list[bytes] = []

    def collect(block: bytes) -> None:
        chunks.append(block)
        on_output(block)

    outcome = process.run(
        [PY, "-c", NOTIFY.format(linger=linger)],
        env=dict(os.environ),
        cwd=str(tmp_path),
        on_output=collect,
        control=control,
        grace=1.0,
        before_notify=notified.append,
    )
    out = b"".join(chunks)
    assert notified == [1.0]
    assert b"got SIGTERM" in out
    if expect_clean:
        assert outcome.exit_code == 3 and b"clean exit" in out
    else:
        assert outcome.exit_code == -9 and b"clean exit" not in out  # killed when the grace ran out


def test_forced_stop_skips_the_grace_period(tmp_path: Path) -> None:
    control = process.Control()

    def on_output(block: bytes) -> None:
        if b"ready" in block:
            control.stop(force=True)

    notified: list[float] = []
    outcome = process.run(
        [PY, "-c", NOTIFY.format(linger=30)],
        env=dict(os.environ),
        cwd=str(tmp_path),
        on_output=on_output,
        control=control,
        grace=30.0,
        before_notify=notified.append,
    )
    assert outcome.exit_code == -9
    assert notified == []  # no notice, no grace: killed at once


def test_background_daemon_does_not_hold_the_action(tmp_path: Path) -> None:
    # An onEnter may start a daemon that keeps stdout open; the action ends with its leader.
    code = (
        "import subprocess; p = subprocess.Popen(['sleep', '3600'])\n"
        "open('daemon', 'w').write(str(p.pid)); print('leader done')"
    )
    outcome, out = run(code, tmp_path)
    assert outcome.exit_code == 0 and b"leader done" in out
    daemon = int((tmp_path / "daemon").read_text())
    # Still running: the action ended with its leader, not when the daemon's hour was up,
    # and the daemon was left alone on purpose (environments may start daemons).
    assert alive(daemon)
    os.kill(daemon, 9)


SETSID_UNDER_NOTIFY = (
    "import os, signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the leader leaves at once\n"
    "kid = subprocess.Popen(['sleep', '3600'], start_new_session=True)\n"
    "open('kid', 'w').write(str(kid.pid)); print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.mark.parametrize("timeout", [None, 1.0])
def test_notify_then_terminate_kills_setsid_descendants_of_a_leader_that_left(
    tmp_path: Path, timeout: float | None
) -> None:
    """Cancel and timeout alike: the tree is recorded before the notice, so a setsid()
    child whose leader exited on SIGTERM (and is no longer found from it) goes too."""
    control = process.Control()

    def on_output(block: bytes) -> None:
        if b"ready" in block and timeout is None:
            control.stop()

    outcome = process.run(
        [PY, "-c", SETSID_UNDER_NOTIFY],
        env=dict(os.environ),
        cwd=str(tmp_path),
        on_output=on_output,
        control=control,
        grace=30.0,
        timeout=timeout,
    )
    assert outcome.exit_code == 0 and (outcome.timed_out or outcome.stopped)
    assert survivors_of([int((tmp_path / "kid").read_text())], wait=3.0) == []


def relay(code: str, tmp_path: Path) -> bytes:
    return run(code, tmp_path)[1]


@pytest.mark.parametrize(
    "shape",
    [
        "b'x' * (3 << 20) + b'\\n'",  # three pieces' worth, one line
        "b'x' * (1 << 20) + b'\\n'",  # exactly the piece size
        "b'x' * ((1 << 20) - 1) + b'\\n' + b'y' * (1 << 20)",  # a last line without newline
        "b''.join(b'progress %d%%\\r' % (i % 100) for i in range(120000))",  # \\r only, over 1 MiB
    ],
)
def test_long_lines_are_relayed_byte_for_byte(tmp_path: Path, shape: str) -> None:
    expected = eval(shape)  # noqa: S307 - the parameters above, nothing else
    out = relay(f"import sys; sys.stdout.buffer.write({shape})", tmp_path)
    assert len(out) == len(expected) and out == expected


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=6))
def test_any_bytes_written_any_way_are_relayed_exactly(data: bytes, cuts: list[int]) -> None:
    bounds = sorted(min(c, len(data)) for c in cuts)
    writes = [data[a:b] for a, b in zip([0, *bounds], [*bounds, len(data)], strict=True)]
    code = (
        "import sys, time\n"
        f"for part in {writes!r}:\n"
        "    sys.stdout.buffer.write(part); sys.stdout.flush(); time.sleep(0.002)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        assert relay(code, Path(tmp)) == data


def test_a_nul_byte_in_an_argument_is_a_start_error(tmp_path: Path) -> None:
    outcome = process.run(
        ["echo", "a\0b"], env={}, cwd=str(tmp_path), on_output=lambda b: None, control=process.Control()
    )
    assert outcome.exit_code is None and "null" in outcome.start_error
