#!/usr/bin/env bash
# docker.sh start|stop: a private dockerd on its own unix socket, with no network of
# its own (no registry is reachable and no bridge may be made: --bridge=none), plus
# a local test image wraprun-test:busybox built from Debian's static busybox.
set -euo pipefail
. "$(dirname "$0")/common.sh"
dir="$WRAPRUN_SVC_DIR/docker"
sock="unix://$dir/docker.sock"
image=wraprun-test:busybox
marker=inside-wraprun-test-image
dk() { docker -H "$sock" "$@"; }

start() {
    env_unset WRAPRUN_DOCKER_HOST WRAPRUN_TEST_IMAGE
    # The image needs a *static* busybox: it has no libc of its own.
    if ! command -v dockerd >/dev/null || [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
        need docker.io busybox-static
    fi
    mkdir -p "$dir"
    if ! dk info >/dev/null 2>&1; then
        stop quiet   # a hung or killed dockerd, its containerd, a stale pid file
        daemon "$dir/dockerd.log" dockerd --host "$sock" --data-root "$dir/data" \
            --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
            --bridge=none --iptables=false --ip-forward=false --ip-masq=false
        wait_for -t 60 -l "$dir/dockerd.log" -p "$DAEMON_PID" dk info
    fi
    dk image inspect "$image" >/dev/null 2>&1 || build_image
    local out
    out=$(dk run --rm --network none "$image" cat /etc/wraprun-test-image 2>&1) || true
    [ "$out" = "$marker" ] || fail "docker run $image printed: $out" "$dir/dockerd.log"
    env_line WRAPRUN_DOCKER_HOST "$sock"
    env_line WRAPRUN_TEST_IMAGE "$image"
    echo "docker: ready ($sock, image $image)"
}

# A root folder with busybox, its applets, /bin/sh, root in /etc/passwd, /tmp and the
# marker file, imported as an image: no registry, no Dockerfile base image.
build_image() {
    local root; root=$(mktemp -d)
    mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list) sh; do
        [ -e "$root/bin/$applet" ] || ln -s /bin/busybox "$root/bin/$applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    echo "$marker" >"$root/etc/wraprun-test-image"
    tar -C "$root" -c . | dk import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - "$image" >/dev/null
    rm -rf "$root"
}

stop() {
    env_unset WRAPRUN_DOCKER_HOST WRAPRUN_TEST_IMAGE
    # Containers first, so dockerd's shutdown does not wait on them.
    if dk info >/dev/null 2>&1; then
        dk ps -aq | xargs -r docker -H "$sock" rm -f >/dev/null 2>&1 || true
    fi
    stop_pidfile "$dir/dockerd.pid"
    # dockerd stops the containerd it started; this only catches a leftover one.
    stop_pidfile "$dir/exec/containerd/containerd.pid"
    # A killed dockerd leaves its bind mount of --data-root (and overlays) behind.
    awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
    [ "${1:-}" = quiet ] || echo "docker: stopped"
}

lock docker
case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
