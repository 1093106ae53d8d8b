"""``wraprun-docker``: run wrapped actions in a Docker container, safely cancelable.

``docker container exec`` does not pass signals to the process it started
(moby/moby#9098, docker/cli#5309): kill the client and the work goes on in the
container. This helper is what a wrap hook calls instead. It starts the
process with the Docker SDK, streams its output, and on SIGTERM or timeout
signals the process itself — then, after the notify period, kills it and
everything it started — using the process ids the daemon reports.

    wraprun-docker start --image IMAGE --mount DIR [--network none]   (onEnter)
    wraprun-docker exec [--env K=V ...] [--timeout N] [--mode M] [--notify-period N] -- CMD ARG...
    wraprun-docker stop                                               (onExit)

``start`` publishes the container id with ``openjd_env: WRAPRUN_DOCKER_CONTAINER=...``;
the other commands read it from that variable (or ``--container``).

Exit codes: the wrapped process's own status; 125 when the substrate failed
(daemon unreachable, image missing, container gone); 2 for bad usage (one line on
stderr, found before the daemon is asked anything where the command line shows it).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any, NoReturn

from ..process import kill_tree, tree_of

SUBSTRATE_FAILED = 125
USAGE = 2
CONTAINER_VAR = "WRAPRUN_DOCKER_CONTAINER"
IDLE_COMMAND = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"]
OWN_RUN_KEYWORDS = {"image", "command", "detach", "labels", "network_mode"}
"""containers.run() keywords ``start`` sets itself (``--network`` gives network_mode)."""


class SubstrateError(Exception):
    """Docker itself failed, not the wrapped action."""


class UsageError(Exception):
    """The command line is wrong: the caller's mistake, neither Docker's nor the action's."""


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one line: a hook's output is read line by line,
    and the usage text would bury the line that says what is wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _require_sdk()
        check_usage(args)
        client = _client(args.host)
        if args.command == "start":
            return start(client, args)
        container = args.container or os.environ.get(CONTAINER_VAR, "")
        if args.command == "stop":
            return stop(client, container)
        return run_exec(client, container, args)
    except UsageError as exc:
        print(f"wraprun-docker {args.command}: error: {exc}", file=sys.stderr, flush=True)
        return USAGE
    except SubstrateError as exc:
        print(f"wraprun-docker: {exc}", file=sys.stderr, flush=True)
        return SUBSTRATE_FAILED


def _require_sdk() -> None:
    try:
        import docker  # noqa: F401 - only to say, in one line, that the extra is missing
    except ImportError as exc:
        raise UsageError("the Docker SDK is not installed: pip install 'wraprun[docker]'") from exc


def check_usage(args: argparse.Namespace) -> None:
    """What the command line alone shows is wrong, found before the daemon is reached:
    otherwise an unreachable daemon would report a typo as a substrate failure (125)."""
    if args.command == "start":
        run_options(args.option)
        return
    if not (args.container or os.environ.get(CONTAINER_VAR)):
        raise UsageError(f"no container: pass --container or set {CONTAINER_VAR}")
    if args.command == "exec" and not _command(args.argv):
        raise UsageError("no command given after --")


def run_options(pairs: list[str]) -> dict[str, str]:
    """``--option KEY=VALUE`` values as containers.run() keywords, each one it takes."""
    from docker.models.containers import RUN_CREATE_KWARGS, RUN_HOST_CONFIG_KWARGS

    known = (set(RUN_CREATE_KWARGS) | set(RUN_HOST_CONFIG_KWARGS)) - OWN_RUN_KEYWORDS
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option {pair!r}: expected KEY=VALUE")
        if key not in known:
            raise UsageError(f"--option {key!r}: not a containers.run() keyword wraprun-docker passes on")
        options[key] = value
    return options


def _command(argv: list[str]) -> list[str]:
    return argv[1:] if argv[:1] == ["--"] else argv


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="wraprun-docker", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--host", default=None, help="daemon address (default: $DOCKER_HOST or the local socket)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start_cmd = sub.add_parser("start", help="start the session's container")
    start_cmd.add_argument("--image", required=True)
    start_cmd.add_argument(
        "--mount",
        action="append",
        default=[],
        metavar="DIR",
        help="bind-mount DIR at the same path (repeatable)",
    )
    start_cmd.add_argument("--network", default="none")
    start_cmd.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra containers.run() keyword, e.g. user=1000",
    )
    for name in ("exec", "stop"):
        command = sub.add_parser(name)
        command.add_argument("--container", default="")
    exec_cmd = sub.choices["exec"]
    exec_cmd.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    exec_cmd.add_argument("--timeout", type=int, default=0, help="seconds; 0 for none")
    exec_cmd.add_argument("--mode", default="TERMINATE", choices=("TERMINATE", "NOTIFY_THEN_TERMINATE"))
    exec_cmd.add_argument("--notify-period", type=int, default=0, help="seconds between SIGTERM and SIGKILL")
    exec_cmd.add_argument("--workdir", default=None, help="default: this process's working directory")
    exec_cmd.add_argument("argv", nargs=argparse.REMAINDER)
    return parser


def _client(host: str | None) -> Any:
    import docker

    try:
        client = docker.DockerClient(base_url=host) if host else docker.from_env()
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types here
        where = host or os.environ.get("DOCKER_HOST", "the default socket")
        raise SubstrateError(f"cannot reach the Docker daemon at {where}: {exc}") from exc
    return client


def start(client: Any, args: argparse.Namespace) -> int:
    import docker.errors

    try:
        client.images.get(args.image)
    except docker.errors.ImageNotFound:
        try:
            client.images.pull(args.image)
        except docker.errors.APIError as exc:
            raise SubstrateError(f"image {args.image!r} is not available: {exc.explanation or exc}") from exc
    mounts = {path: {"bind": path, "mode": "rw"} for path in args.mount}
    options = run_options(args.option)
    try:
        container = client.containers.run(
            args.image,
            IDLE_COMMAND,
            detach=True,
            volumes=mounts,
            network_mode=args.network,
            labels={"wraprun": "session"},
            **options,
        )
    except docker.errors.APIError as exc:
        raise SubstrateError(
            f"cannot start a container from {args.image!r}: {exc.explanation or exc}"
        ) from exc
    except (docker.errors.DockerException, TypeError, ValueError) as exc:
        # The SDK checks option values (types, units) itself, before any request is made.
        raise UsageError(f"--option: {' '.join(str(exc).split())}") from exc
    print(f"openjd_env: {CONTAINER_VAR}={container.id}", flush=True)
    print(f"Started container {container.short_id} from {args.image}", flush=True)
    return 0


def stop(client: Any, container: str) -> int:
    import docker.errors

    try:
        client.containers.get(container).remove(force=True)
    except docker.errors.APIError as exc:
        if not gone(exc):
            why = exc.explanation or exc
            raise SubstrateError(f"cannot remove container {container[:12]}: {why}") from exc
        print(f"Container {container[:12]} is already gone", flush=True)
        return 0
    print(f"Removed container {container[:12]}", flush=True)
    return 0


def gone(exc: Exception) -> bool:
    """Whether a Docker error says the container is removed, or being removed by someone
    else (its ``--rm``, a concurrent stop): either way there is nothing left to remove."""
    import docker.errors

    if isinstance(exc, docker.errors.NotFound):
        return True
    text = str(getattr(exc, "explanation", None) or exc)
    return getattr(exc, "status_code", None) == 409 and "already in progress" in text


def run_exec(client: Any, container: str, args: argparse.Namespace) -> int:
    import docker.errors

    argv = _command(args.argv)
    api = client.api
    try:
        exec_id = api.exec_create(
            container,
            argv,
            environment=args.env,
            workdir=args.workdir or os.getcwd(),
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
        )["Id"]
        stream = api.exec_start(exec_id, stream=True, demux=False)
    except docker.errors.APIError as exc:
        raise SubstrateError(f"cannot run in container {container[:12]}: {exc.explanation or exc}") from exc
    stopper = _Stopper(api, exec_id, args)
    signal.signal(signal.SIGTERM, lambda *_: stopper.request())
    signal.signal(signal.SIGINT, lambda *_: stopper.request())
    if args.timeout > 0:
        timer = threading.Timer(args.timeout, stopper.timed_out)
        timer.daemon = True
        timer.start()
    out = sys.stdout.buffer
    for chunk in stream:  # stdout and stderr interleaved as the process writes them
        out.write(chunk)
        out.flush()
    try:
        code = api.exec_inspect(exec_id).get("ExitCode")
    except docker.errors.APIError as exc:  # the container went away under the process
        raise SubstrateError(f"container {container[:12]} is gone: {exc.explanation or exc}") from exc
    stopper.finish()
    if stopper.reason:
        print(f"wraprun-docker: {stopper.reason}", file=sys.stderr, flush=True)
    return 128 + signal.SIGKILL if code is None else int(code)


class _Stopper:
    """Signals the exec'd process tree, by the host pids the daemon reports."""

    def __init__(self, api: Any, exec_id: str, args: argparse.Namespace) -> None:
        self.api = api
        self.exec_id = exec_id
        self.grace = args.notify_period if args.mode == "NOTIFY_THEN_TERMINATE" else 0
        self.reason = ""
        self.lock = threading.Lock()
        self.started = False

    def timed_out(self) -> None:
        self.reason = self.reason or "timeout reached; stopped the process in the container"
        self.request()

    def request(self) -> None:
        self.reason = self.reason or "canceled; stopped the process in the container"
        with self.lock:
            if self.started:
                return
            self.started = True
        # Off the signal handler: talking to the daemon must not block the output stream.
        threading.Thread(target=self._stop, daemon=True).start()

    def _pid(self) -> int:
        """The exec'd process's host pid; 0 when it, or its container, is already gone."""
        import docker.errors

        try:
            return int(self.api.exec_inspect(self.exec_id).get("Pid") or 0)
        except docker.errors.APIError:
            return 0

    def _stop(self) -> None:
        pid = self._pid()
        if not pid:
            return
        tree = []
        if self.grace > 0:
            tree = tree_of(pid)  # before the notice: a child that leaves with setsid() goes too
            _signal(pid, signal.SIGTERM)
            end = time.monotonic() + self.grace
            while time.monotonic() < end and _alive(pid):
                time.sleep(0.1)
        kill_tree(pid, also=tree)

    def finish(self) -> None:
        """The exec'd process ended; whatever it left running in the container goes too if stopping."""
        if self.started:
            pid = self._pid()
            if pid:
                kill_tree(pid)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
