#!/usr/bin/env bash
# sshd.sh start|stop: the "remote host" for SSH tests: sshd on 127.0.0.1:2222
# (WRAPRUN_SSH_PORT) with throwaway host and client keys, logging in as root.
set -euo pipefail
. "$(dirname "$0")/common.sh"
dir="$WRAPRUN_SVC_DIR/sshd"
port="${WRAPRUN_SSH_PORT:-2222}"
ssh_vars=(WRAPRUN_SSH_CONFIG WRAPRUN_SSH_HOST WRAPRUN_SSH_HOSTNAME WRAPRUN_SSH_PORT WRAPRUN_SSH_USER WRAPRUN_SSH_KEY)
check() { [ "$(ssh -F "$dir/ssh_config" wraprun-test echo ok 2>&1)" = ok ]; }

start() {
    env_unset "${ssh_vars[@]}"
    need openssh-server openssh-client
    mkdir -p "$dir" /run/sshd   # /run/sshd: sshd's privilege-separation directory
    [ -f "$dir/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C wraprun-host -f "$dir/host_key"
    [ -f "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C wraprun-client -f "$dir/client_key"
    # No PAM and no StrictModes: root logs in with the key in /tmp, without a login stack.
    cat >"$dir/sshd_config.new" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
AuthorizedKeysFile $dir/client_key.pub
PidFile $dir/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AcceptEnv *
CONF
    cat >"$dir/ssh_config" <<CONF
Host wraprun-test
    HostName 127.0.0.1
    Port $port
    User root
    IdentityFile $dir/client_key
    IdentitiesOnly yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
    BatchMode yes
CONF
    if replaced "$dir/sshd_config" || ! check; then
        stop_pidfile "$dir/sshd.pid"
        /usr/sbin/sshd -t -f "$dir/sshd_config" 2>"$dir/sshd.log" || fail "bad sshd_config" "$dir/sshd.log"
        daemon "$dir/sshd.log" /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
        wait_for -t 30 -l "$dir/sshd.log" check
    fi
    env_line WRAPRUN_SSH_CONFIG "$dir/ssh_config"
    env_line WRAPRUN_SSH_HOST wraprun-test
    env_line WRAPRUN_SSH_HOSTNAME 127.0.0.1
    env_line WRAPRUN_SSH_PORT "$port"
    env_line WRAPRUN_SSH_USER root
    env_line WRAPRUN_SSH_KEY "$dir/client_key"
    echo "sshd: ready (root@127.0.0.1:$port, ssh -F $dir/ssh_config wraprun-test)"
}

stop() {
    env_unset "${ssh_vars[@]}"
    stop_pidfile "$dir/sshd.pid"
    echo "sshd: stopped"
}

lock sshd
case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
