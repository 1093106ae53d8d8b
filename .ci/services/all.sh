#!/usr/bin/env bash
# all.sh start|stop [SERVICE...]: the real services the integration tests use.
set -euo pipefail
here="$(dirname "$0")"
action="${1:-start}"; shift || true
services=("${@:-docker sshd slurm bwrap}")
for service in ${services[*]}; do
    "$here/$service.sh" "$action"
done
