#!/usr/bin/env bash
# dockerd on a private socket, with no network of its own (--bridge=none), and a
# local busybox test image built without any registry.
set -euo pipefail
. "$(dirname "$0")/common.sh"
dir="$WRAPRUN_SVC_DIR/docker"
sock="unix://$dir/docker.sock"
image=wraprun-test:busybox
dk() { docker -H "$sock" "$@"; }

start() {
    need docker.io busybox-static
    mkdir -p "$dir"
    if ! dk info >/dev/null 2>&1; then
        dockerd --host "$sock" --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
            --bridge=none --iptables=false --ip-forward=false --ip-masq=false >"$dir/dockerd.log" 2>&1 &
        wait_for 60 "$dir/dockerd.log" dk info
    fi
    if ! dk image inspect "$image" >/dev/null 2>&1; then
        build_image
    fi
    [ "$(dk run --rm --network none "$image" cat /etc/wraprun-test-image)" = inside-wraprun-test-image ]
    env_line WRAPRUN_DOCKER_HOST "$sock"
    env_line WRAPRUN_TEST_IMAGE "$image"
    echo "docker: ready ($sock, image $image)"
}

build_image() {
    local root; root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $("$root/bin/busybox" --list); do
        [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
    echo 'root:x:0:' > "$root/etc/group"
    echo inside-wraprun-test-image > "$root/etc/wraprun-test-image"
    tar -C "$root" -c . | dk import --change 'ENV PATH=/bin' - "$image" >/dev/null
    rm -rf "$root"
}

stop() {
    if dk info >/dev/null 2>&1; then
        dk ps -q | xargs -r docker -H "$sock" rm -f >/dev/null 2>&1 || true
    fi
    stop_pidfile "$dir/dockerd.pid"
    pkill -f "containerd --config $dir" 2>/dev/null || true
    echo "docker: stopped"
}

"${1:-start}"
