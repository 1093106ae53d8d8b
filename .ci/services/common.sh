# Shared by the service scripts: where state lives, bounded waits, the env file.
# Services listen on 127.0.0.1 only and keep everything under $WRAPRUN_SVC_DIR.
export WRAPRUN_SVC_DIR="${WRAPRUN_SVC_DIR:-/tmp/wraprun-services}"
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$WRAPRUN_SVC_DIR"
ENV_FILE="$WRAPRUN_SVC_DIR/services.env"

# need PACKAGE... : install the Debian packages that are missing.
need() {
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ -f /var/lib/apt/lists/lock ] && [ -n "$(ls /var/lib/apt/lists/*_Packages 2>/dev/null)" ] \
        || apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# wait_for SECONDS LOG COMMAND...: retry COMMAND until it succeeds; on timeout show LOG and fail.
wait_for() {
    local seconds=$1 log=$2; shift 2
    local end=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $end ]; then
            echo "timed out waiting for: $*" >&2
            [ -f "$log" ] && tail -n 30 "$log" >&2
            return 1
        fi
        sleep 0.5
    done
}

# env_line KEY VALUE: record an export line for the test runner (replacing an older one).
env_line() {
    touch "$ENV_FILE"
    sed -i "/^export $1=/d" "$ENV_FILE"
    echo "export $1=$2" >> "$ENV_FILE"
}

# stop_pidfile FILE: stop the process whose pid FILE holds, and wait for it.
stop_pidfile() {
    [ -f "$1" ] || return 0
    local pid; pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}
