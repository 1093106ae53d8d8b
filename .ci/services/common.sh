# shellcheck shell=bash
# Sourced by the service scripts. Every service listens on 127.0.0.1 only and keeps
# its state, sockets, logs and keys under $WRAPRUN_SVC_DIR; each one records how to
# reach it as export lines in $WRAPRUN_SVC_DIR/services.env (source it to use them).
export WRAPRUN_SVC_DIR="${WRAPRUN_SVC_DIR:-/tmp/wraprun-services}"
export DEBIAN_FRONTEND=noninteractive
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"   # the daemons live in sbin
ENV_FILE="$WRAPRUN_SVC_DIR/services.env"
mkdir -p "$WRAPRUN_SVC_DIR"

# lock NAME: one start/stop of a service at a time (several engineers share a machine).
# fd 9 holds the lock, so daemons are started with 9>&- (see daemon) and never keep it.
lock() {
    exec 9>"$WRAPRUN_SVC_DIR/.$1.lock"
    flock -w 300 9 || { echo "$1: another start/stop holds the lock" >&2; exit 1; }
}

# need PACKAGE...: install the Debian packages that are missing (a no-op when warm).
need() {
    local pkg missing=() log="$WRAPRUN_SVC_DIR/apt.log" stamp="$WRAPRUN_SVC_DIR/.apt-updated"
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    # Package scripts must not start system-wide daemons (docker0 bridge, sshd on :22...).
    local policy="" rc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    fi
    # apt-get update at most once an hour: a fresh machine may have no or stale lists.
    {
        [ -n "$(find "$stamp" -mmin -60 2>/dev/null)" ] || { apt-get update -q && touch "$stamp"; }
    } >>"$log" 2>&1 || rc=$?
    [ $rc -ne 0 ] || apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 || rc=$?
    [ -z "$policy" ] || rm -f "$policy"
    [ $rc -eq 0 ] || fail "apt-get install ${missing[*]}" "$log"
}

# daemon LOG COMMAND...: start COMMAND in its own session, detached from the caller
# (so killing the test run's process group does not take the service with it).
daemon() {
    local log=$1; shift
    setsid "$@" </dev/null >>"$log" 2>&1 9>&- &
    # shellcheck disable=SC2034  # for wait_for -p, when COMMAND does not fork itself
    DAEMON_PID=$!
}

# wait_for [-t SECONDS] [-l LOG] [-p PID] COMMAND...: retry COMMAND every 0.5 s until it
# succeeds, for at most SECONDS (default 60); on timeout, or as soon as process PID has
# died (a daemon that did not start), show LOG's tail and fail.
wait_for() {
    local seconds=60 log="" pid=""
    while :; do
        case "$1" in
            -t) seconds=$2; shift 2 ;;
            -l) log=$2; shift 2 ;;
            -p) pid=$2; shift 2 ;;
            *) break ;;
        esac
    done
    local end=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ -z "$pid" ] || alive "$pid" || fail "exited (pid $pid) while waiting for: $*" "$log"
        [ $SECONDS -lt "$end" ] || fail "timed out after ${seconds}s waiting for: $*" "$log"
        sleep 0.5
    done
}

# fail MESSAGE [LOG]: print MESSAGE and LOG's tail, exit non-zero.
fail() {
    echo "FAILED: $1" >&2
    [ -n "${2:-}" ] && [ -f "$2" ] && { echo "--- tail of $2:" >&2; tail -n 40 "$2" >&2; }
    exit 1
}

# alive PID: the process exists and is not a zombie (our init may reap them late).
alive() { local st; st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) && [ "${st:0:1}" != Z ]; }

# running PIDFILE: the process PIDFILE names is alive.
running() { [ -s "$1" ] && alive "$(cat "$1")"; }

# stop_pidfile PIDFILE: TERM the process PIDFILE names, wait up to 20 s, then KILL.
stop_pidfile() {
    running "$1" || { rm -f "$1"; return 0; }
    local pid; pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}

# replaced FILE: move FILE.new over FILE; true when that changed FILE (restart its daemon).
replaced() {
    if cmp -s "$1.new" "$1"; then rm -f "$1.new"; return 1; fi
    mv "$1.new" "$1"
}

# env_line KEY VALUE: record `export KEY=VALUE` for the test runner (replacing an older one).
env_line() {
    env_unset "$1"
    ( flock 8; printf 'export %s=%q\n' "$1" "$2" >>"$ENV_FILE" ) 8>"$ENV_FILE.lock"
}

# env_unset KEY...: forget KEYs, so a stopped or broken service is not advertised.
env_unset() {
    local key
    ( flock 8; touch "$ENV_FILE"
      for key in "$@"; do sed -i "/^export $key=/d" "$ENV_FILE"; done ) 8>"$ENV_FILE.lock"
}
