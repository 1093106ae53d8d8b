#!/usr/bin/env bash
# sshd on 127.0.0.1:2222 with throwaway host and client keys: the "remote host".
set -euo pipefail
. "$(dirname "$0")/common.sh"
dir="$WRAPRUN_SVC_DIR/sshd"
port="${WRAPRUN_SSH_PORT:-2222}"

start() {
    need openssh-server openssh-client
    mkdir -p "$dir" /run/sshd
    [ -f "$dir/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
    [ -f "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key"
    cat > "$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
AuthorizedKeysFile $dir/client_key.pub
PidFile $dir/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin yes
PasswordAuthentication no
AcceptEnv *
CONF
    cat > "$dir/ssh_config" <<CONF
Host wraprun-test
    HostName 127.0.0.1
    Port $port
    User root
    IdentityFile $dir/client_key
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
    BatchMode yes
CONF
    if ! ssh -F "$dir/ssh_config" wraprun-test true 2>/dev/null; then
        stop_pidfile "$dir/sshd.pid"
        /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
        wait_for 30 "$dir/sshd.log" ssh -F "$dir/ssh_config" wraprun-test true
    fi
    env_line WRAPRUN_SSH_CONFIG "$dir/ssh_config"
    env_line WRAPRUN_SSH_HOST wraprun-test
    env_line WRAPRUN_SSH_HOSTNAME 127.0.0.1
    env_line WRAPRUN_SSH_PORT "$port"
    env_line WRAPRUN_SSH_USER root
    env_line WRAPRUN_SSH_KEY "$dir/client_key"
    echo "sshd: ready (127.0.0.1:$port)"
}

stop() {
    stop_pidfile "$dir/sshd.pid"
    echo "sshd: stopped"
}

"${1:-start}"
