#!/usr/bin/env bash
# bwrap.sh start|stop: bubblewrap (the sandbox wrapper) and GNU time (the profiler
# wrapper). Tools, not daemons: start installs and checks them, stop does nothing.
set -euo pipefail
. "$(dirname "$0")/common.sh"

start() {
    need bubblewrap time
    # Mount order matters: the read-only root first, then the private /tmp over it.
    local out
    out=$(bwrap --ro-bind / / --tmpfs /tmp --unshare-net --unshare-pid --dev /dev --proc /proc \
        --die-with-parent sh -c 'touch /tmp/x && ! touch /etc/wraprun-x 2>/dev/null && echo ok' 2>&1) || true
    [ "$out" = ok ] || fail "bwrap sandbox check printed: $out"
    /usr/bin/time -f ok true 2>/dev/null || fail "GNU time (/usr/bin/time) does not run"
    echo "bwrap: ready ($(bwrap --version), /usr/bin/time)"
}

case "${1:-start}" in
    start) start ;;
    stop) echo "bwrap: nothing to stop" ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
