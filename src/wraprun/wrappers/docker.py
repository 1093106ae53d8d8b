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
(daemon unreachable, image missing, container gone); 2 for bad usage.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import Any

SUBSTRATE_FAILED = 125
CONTAINER_VAR = "WRAPRUN_DOCKER_CONTAINER"
IDLE_COMMAND = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"]


class SubstrateError(Exception):
    """Docker itself failed, not the wrapped action."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        client = _client(args.host)
        if args.command == "start":
            return start(client, args)
        container = args.container or os.environ.get(CONTAINER_VAR, "")
        if not container:
            raise SubstrateError(f"no container: pass --container or set {CONTAINER_VAR}")
        if args.command == "stop":
            return stop(client, container)
        return run_exec(client, container, args)
    except SubstrateError as exc:
        print(f"wraprun-docker: {exc}", file=sys.stderr, flush=True)
        return SUBSTRATE_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wraprun-docker", description=__doc__.split("\n\n")[0])
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
    options = dict(option.split("=", 1) for option in args.option)
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
    print(f"openjd_env: {CONTAINER_VAR}={container.id}", flush=True)
    print(f"Started container {container.short_id} from {args.image}", flush=True)
    return 0


def stop(client: Any, container: str) -> int:
    import docker.errors

    try:
        client.containers.get(container).remove(force=True)
    except docker.errors.NotFound:
        print(f"Container {container[:12]} is already gone", flush=True)
        return 0
    except docker.errors.APIError as exc:
        raise SubstrateError(f"cannot remove container {container[:12]}: {exc.explanation or exc}") from exc
    print(f"Removed container {container[:12]}", flush=True)
    return 0


def run_exec(client: Any, container: str, args: argparse.Namespace) -> int:
    import docker.errors

    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        print("wraprun-docker exec: no command given after --", file=sys.stderr)
        return 2
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
    code = api.exec_inspect(exec_id).get("ExitCode")
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

    def _stop(self) -> None:
        pid = self.api.exec_inspect(self.exec_id).get("Pid") or 0
        if not pid:
            return
        if self.grace > 0:
            _signal(pid, signal.SIGTERM)
            end = time.monotonic() + self.grace
            while time.monotonic() < end and _alive(pid):
                time.sleep(0.1)
        kill_tree(pid)

    def finish(self) -> None:
        """The exec'd process ended; whatever it left running in the container goes too if stopping."""
        if self.started:
            pid = self.api.exec_inspect(self.exec_id).get("Pid") or 0
            if pid:
                kill_tree(pid)


def kill_tree(pid: int) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for proc in family:
        try:
            proc.kill()
        except psutil.Error:
            pass


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
