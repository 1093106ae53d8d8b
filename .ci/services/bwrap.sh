#!/usr/bin/env bash
# bubblewrap (sandbox) and GNU time (profiler): tools, not daemons.
set -euo pipefail
. "$(dirname "$0")/common.sh"

start() {
    need bubblewrap time
    # Mount order matters: the read-only root first, then the private /tmp.
    bwrap --ro-bind / / --tmpfs /tmp --unshare-net --unshare-pid --dev /dev --proc /proc \
        --die-with-parent true
    echo "bwrap: ready ($(bwrap --version))"
}

stop() { :; }

"${1:-start}"
