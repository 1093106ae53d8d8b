#!/usr/bin/env bash
# all.sh start|stop [SERVICE...]: the real local services the integration tests use
# (default: docker sshd slurm bwrap). start tries every service, so one broken service
# does not hide the others, and exits non-zero if any failed. Then:
#   . "${WRAPRUN_SVC_DIR:-/tmp/wraprun-services}/services.env"
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
action="${1:-start}"
[ $# -gt 0 ] && shift
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(docker sshd slurm bwrap)
case "$action" in
    start) ;;
    stop) mapfile -t services < <(printf '%s\n' "${services[@]}" | tac) ;;  # reverse order
    *) echo "usage: $0 start|stop [docker|sshd|slurm|bwrap]..." >&2; exit 2 ;;
esac

failed=()
for service in "${services[@]}"; do
    if [ ! -x "$here/$service.sh" ]; then echo "$service: unknown service" >&2; failed+=("$service"); continue; fi
    "$here/$service.sh" "$action" || failed+=("$service")
done
[ "$action" = start ] && echo "services: env in $ENV_FILE (${SECONDS}s)"
[ ${#failed[@]} -eq 0 ] || { echo "services: FAILED to $action: ${failed[*]}" >&2; exit 1; }
