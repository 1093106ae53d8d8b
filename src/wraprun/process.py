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

import grp
import os
import selectors
import signal
import subprocess
import tempfile
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


@dataclass(frozen=True)
class RunAs:
    """Run commands as another POSIX user, through ``sudo`` (which must let us do so without a password).

    The command's environment and working directory reach it through a small
    script in ``scratch`` (readable by ``group`` only): ``sudo`` resets the
    environment, and values on a command line would be visible to every user.
    """

    user: str
    group: str
    scratch: str


class Control:
    """Thread-safe (and signal-handler-safe) handle on the process being run."""

    def __init__(self) -> None:
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.stop_requested = False
        self.force = False
        self.grace_limit: float | None = None
        self.closed = False

    def stop(self, *, force: bool = False, grace_limit: float | None = None) -> None:
        """Ask for a stop: by the caller's policy, or at once when ``force``.

        ``grace_limit`` shortens the caller's grace period (an urgent stop); 0 kills at once.
        """
        self.stop_requested = True
        self.force = self.force or force or grace_limit == 0
        if grace_limit is not None:
            self.grace_limit = grace_limit if self.grace_limit is None else min(self.grace_limit, grace_limit)
        if self.closed:
            return  # nothing runs any more (a signal that came after the end)
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already

    def reset(self) -> None:
        self.stop_requested = False
        self.force = False
        self.grace_limit = None
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
    on_spawn: Callable[[], None] | None = None,
    run_as: RunAs | None = None,
) -> Outcome:
    """Run ``argv`` to completion, streaming merged stdout/stderr to ``on_output``.

    ``env`` None means the child inherits this process's environment.
    ``grace`` is the stop policy: None kills the process tree at once; a number
    sends SIGTERM to the process, waits that many seconds, then kills the tree.
    ``before_notify(grace)`` runs just before that SIGTERM; ``on_spawn()`` once
    the process has started.
    """
    launcher = ""
    command = list(argv)
    try:
        if run_as is not None:
            launcher = _launcher(run_as, env, cwd)
            command = ["sudo", "-n", "-u", run_as.user, "-i", "/bin/sh", launcher, *command]
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group: the tree we stop
            bufsize=0,
        )
    except OSError as exc:
        _remove(launcher)
        return Outcome(None, start_error=f"{exc.strerror or exc}: {command[0]!r}")
    except ValueError as exc:  # a NUL byte in an argument or in the environment
        _remove(launcher)
        return Outcome(None, start_error=f"cannot start {argv[0]!r}: {exc}")
    assert proc.stdout is not None
    supervisor = _Supervisor(proc, on_output, control, timeout, grace, before_notify)
    if launcher:
        # The notice goes to the command itself (sudo does not pass it on): the
        # launcher wrote its pid, which exec keeps, beside itself.
        supervisor.notify_pid = lambda: _read_pid(launcher + ".pid")
    try:
        if on_spawn is not None:
            on_spawn()
        return supervisor.loop()
    finally:
        _remove(launcher)
        _remove(launcher + ".pid" if launcher else "")


_LOGIN_VARS = frozenset({"HOME", "USER", "LOGNAME", "SHELL", "MAIL"})
"""Who the user is comes from its own login (``sudo -i``), not from ours."""


def _launcher(run_as: RunAs, env: Mapping[str, str] | None, cwd: str) -> str:
    """Write the script that sets the environment and directory, then execs the command."""
    import shlex

    fd, path = tempfile.mkstemp(prefix="launch-", suffix=".sh", dir=run_as.scratch)
    lines = [f"echo $$ > {shlex.quote(path + '.pid')}", f"cd -- {shlex.quote(cwd)} || exit 125"]
    for name, value in (os.environ if env is None else env).items():
        if name.isidentifier() and name.isascii() and name not in _LOGIN_VARS:
            lines.append(f"export {name}={shlex.quote(value)}")
    lines.append('exec "$@"')
    try:
        os.fchmod(fd, 0o640)
        os.fchown(fd, -1, grp.getgrnam(run_as.group).gr_gid)
        os.write(fd, ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    finally:
        os.close(fd)
    return path


def _read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None  # not written yet: the command has not started


def _remove(path: str) -> None:
    if path:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


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
        self.notify_pid: Callable[[], int | None] = lambda: proc.pid
        """Who gets the notice (SIGTERM) of NOTIFY_THEN_TERMINATE: the process, unless told otherwise."""

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
        grace = self.grace
        if grace is not None and self.control.grace_limit is not None:
            grace = min(grace, self.control.grace_limit)
        if force or grace is None or grace <= 0:
            self.kill_at = None
            self._kill()
            return
        if first and self.proc.poll() is None:
            self.notified_tree = tree_of(self.proc.pid)
            if self.before_notify is not None:
                self.before_notify(grace)
            target = self.notify_pid()
            if target not in {member.pid for member in self.notified_tree}:
                target = self.proc.pid  # only ever a process of this action's own tree
            try:
                os.kill(target, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.kill_at = time.monotonic() + grace
        elif first:
            self._kill()
        elif self.kill_at is not None:  # a later, more urgent stop shortens the grace
            self.kill_at = min(self.kill_at, time.monotonic() + grace)


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
