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
    # The templates' embedded shell scripts are linted by the tests.
    command -v shellcheck >/dev/null || apt-get install -y -q --no-install-recommends shellcheck >/dev/null
    # Run-as-user tests run actions as another POSIX user through sudo.
    command -v sudo >/dev/null || apt-get install -y -q --no-install-recommends sudo >/dev/null
fi
svc_env="${WRAPRUN_SVC_DIR:-/tmp/wraprun-services}/services.env"
# shellcheck disable=SC1090
[ -f "$svc_env" ] && . "$svc_env"

# mypy reads the type stubs openjd-model ships beside its compiled module
# (the package has no py.typed marker, so they are linked where mypy looks).
stubs=build/stubs/openjd
mkdir -p "$stubs" && : >"$stubs/__init__.pyi"
ln -sf "$(python -c 'import os, openjd._openjd_rs as m; print(os.path.join(os.path.dirname(m.__file__), "_openjd_rs.pyi"))')" "$stubs/_openjd_rs.pyi"

ruff check src tests benchmarks
mypy
python -m pytest -q "$@"
