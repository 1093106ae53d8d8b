#!/usr/bin/env bash
# The project's test command (README, and what .ci/run calls).
# Sets up .venv, starts the real services the integration tests use (as root:
# dockerd, sshd, slurm, bubblewrap), runs the linters and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv >/dev/null 2>&1 || true
.venv/bin/pip install --disable-pip-version-check -q -e '.[test]'
export PATH="$PWD/.venv/bin:$PATH"   # templates call `python`: this one

if [ "$(id -u)" = 0 ]; then
    .ci/services/all.sh start
    # The conformance report test renders HTML in a real headless browser.
    command -v chromium >/dev/null || apt-get install -y -q --no-install-recommends chromium >/dev/null
fi
svc_env="${WRAPRUN_SVC_DIR:-/tmp/wraprun-services}/services.env"
# shellcheck disable=SC1090
[ -f "$svc_env" ] && . "$svc_env"

ruff check src tests benchmarks
mypy
python -m pytest -q "$@"
