"""Spawn one command, stream its output, enforce a time limit, stop its process tree.

This module knows nothing of OpenJD: it runs an argv, hands the caller its
output exactly as written (in blocks of whole lines; a line longer than
:data:`MAX_LINE` in pieces, and a last line without its newline as it is),
and stops the process when asked or when time runs out,
using the caller's stop policy (a grace period after SIGTERM, or none). The
whole loop runs in the calling thread; other threads and signal handlers reach
it through a :class:`Control`, whose wake-up pipe interrupts the wait at once.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: it costs every session start ~17 ms
    import psutil

READ_SIZE = 1 << 16
MAX_LINE = 1 << 20
"""A line longer than this is handed over in pieces (nothing added), so memory stays bounded."""
DRAIN_AFTER_EXIT = 0.5
"""How long to keep reading after the process exits while something it left
running still holds the output pipe (a background daemon started by onEnter)."""

OutputSink = Callable[[bytes], None]


class Control:
    """Thread-safe (and signal-handler-safe) handle on the process being run."""

    def __init__(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.stop_requested = False
        self.force = False
        self.closed = False

    def stop(self, *, force: bool = False) -> None:
        """Ask for a stop: by the caller's policy, or at once when ``force``."""
        self.stop_requested = True
        self.force = self.force or force
        if self.closed:
            return  # nothing runs any more (a signal that came after the end)
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already

    def reset(self) -> None:
        self.stop_requested = False
        self.force = False
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None
    """None when the process could not be started."""
    timed_out: bool = False
    stopped: bool = False
    start_error: str = ""


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None,
    cwd: str,
    on_output: OutputSink,
    control: Control,
    timeout: float | None = None,
    grace: float | None = None,
    before_notify: Callable[[float], None] | None = None,
) -> Outcome:
    """Run ``argv`` to completion, streaming merged stdout/stderr to ``on_output``.

    ``env`` None means the child inherits this process's environment.
    ``grace`` is the stop policy: None kills the process tree at once; a number
    sends SIGTERM to the process, waits that many seconds, then kills the tree.
    ``before_notify(grace)`` runs just before that SIGTERM.
    """
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group: the tree we stop
            bufsize=0,
        )
    except OSError as exc:
        return Outcome(None, start_error=f"{exc.strerror or exc}: {argv[0]!r}")
    except ValueError as exc:  # a NUL byte in an argument or in the environment
        return Outcome(None, start_error=f"cannot start {argv[0]!r}: {exc}")
    assert proc.stdout is not None
    return _Supervisor(proc, on_output, control, timeout, grace, before_notify).loop()


class _Supervisor:
    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        on_output: OutputSink,
        control: Control,
        timeout: float | None,
        grace: float | None,
        before_notify: Callable[[float], None] | None,
    ) -> None:
        self.proc = proc
        self.on_output = on_output
        self.control = control
        self.grace = grace
        self.before_notify = before_notify
        now = time.monotonic()
        self.deadline = now + timeout if timeout is not None else None
        self.kill_at: float | None = None
        self.timed_out = False
        self.stopping = False
        self.pending = b""
        self.notified_tree: list[psutil.Process] = []

    def loop(self) -> Outcome:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        sel.register(self.control._wake_r, selectors.EVENT_READ)
        exited_at: float | None = None
        try:
            while True:
                self._check_stop()
                wait = self._next_wait(exited_at)
                ready = sel.select(wait)
                eof = False
                for key, _ in ready:
                    if key.fd == fd:
                        eof = self._read(fd)
                    else:
                        self._drain_wake()
                if eof:
                    break
                if self.proc.poll() is not None:
                    if exited_at is None:
                        exited_at = time.monotonic()
                    elif time.monotonic() - exited_at > DRAIN_AFTER_EXIT:
                        break
        except BaseException:
            # The caller's sink failed (or we were interrupted): nothing may keep running.
            self._kill()
            self.proc.wait()
            raise
        finally:
            sel.close()
            self.proc.stdout.close()
        if self.pending:
            self.on_output(self.pending)  # a last line without its newline, as written
        code = self.proc.wait()
        if self.stopping:
            # Whatever the leader left behind goes too: its group, and the tree as
            # it was when notified (a setsid() child of a leader that exited on
            # SIGTERM is no longer found from the leader).
            self._kill()
        return Outcome(code, timed_out=self.timed_out, stopped=self.stopping)

    def _next_wait(self, exited_at: float | None) -> float | None:
        now = time.monotonic()
        waits = [t - now for t in (self.deadline, self.kill_at) if t is not None]
        if exited_at is not None:
            waits.append(0.05)
        elif self.proc.returncode is None:
            # Poll for exit now and then: a child that closed its stdout early
            # gives no EOF to wake us.
            waits.append(0.2 if not self.stopping else 0.05)
        return max(0.0, min(waits)) if waits else None

    def _read(self, fd: int) -> bool:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return False
        if not data:
            return True
        cut = data.rfind(b"\n")
        if cut < 0:
            self.pending += data
            if len(self.pending) >= MAX_LINE:
                self.on_output(self.pending)  # a piece of a long line; the line goes on
                self.pending = b""
            return False
        block = self.pending + data[: cut + 1] if self.pending else data[: cut + 1]
        self.pending = data[cut + 1 :]
        self.on_output(block)
        return False

    def _kill(self) -> None:
        kill_tree(self.proc.pid, also=self.notified_tree)

    def _drain_wake(self) -> None:
        try:
            while os.read(self.control._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _check_stop(self) -> None:
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline and not self.timed_out:
            self.timed_out = True
            self.deadline = None
            self._begin_stop(force=False)
        if self.control.stop_requested:
            self.control.stop_requested = False
            self._begin_stop(force=self.control.force)
        if self.kill_at is not None and now >= self.kill_at:
            self.kill_at = None
            self._kill()

    def _begin_stop(self, *, force: bool) -> None:
        first = not self.stopping
        self.stopping = True
        if force or self.grace is None:
            self.kill_at = None
            self._kill()
            return
        if first and self.proc.poll() is None:
            self.notified_tree = tree_of(self.proc.pid)
            if self.before_notify is not None:
                self.before_notify(self.grace)
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.kill_at = time.monotonic() + self.grace
        elif first:
            self._kill()


def tree_of(pid: int) -> list[psutil.Process]:
    """The process and its descendants now (psutil handles, safe against pid reuse)."""
    import psutil

    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return []


def kill_tree(pid: int, also: Sequence[psutil.Process] = ()) -> None:
    """SIGKILL a process, its group, and every descendant (also ones that left the group).

    ``also``: processes recorded earlier (psutil handles) whose trees go too.
    Each process is stopped before its children are listed, so none can start
    another between the listing and the kill.
    """
    import psutil  # only here: importing it costs every session start ~17 ms

    found = []
    try:
        frontier = [psutil.Process(pid)]
    except psutil.Error:
        frontier = []
    frontier.extend(also)
    while frontier:
        member = frontier.pop()
        try:
            member.suspend()
            found.append(member)
            frontier.extend(member.children())
        except psutil.Error:
            pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for member in found:
        try:
            member.kill()
        except psutil.Error:
            pass
