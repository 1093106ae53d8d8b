"""The console script that starts the Deadline Cloud worker agent with wraprun as its runtime."""

from __future__ import annotations

import subprocess
import sys

from .helpers import require_module

require_module("deadline_worker_agent", "deadline")  # CI installs it: there, missing fails


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_without_the_extra_one_line_and_exit_2() -> None:
    hidden = "import sys; sys.modules['deadline_worker_agent'] = None; "
    proc = _run(hidden + "from wraprun.integrations import deadline_worker_agent; deadline_worker_agent()")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "wraprun-deadline-worker-agent needs the Deadline Cloud worker agent: pip install 'wraprun[deadline]'"
    ]


def test_the_agent_starts_with_wraprun_as_its_python_runtime() -> None:
    code = (
        "import sys; from deadline_worker_agent.sessions import session; "
        "from deadline_worker_agent.sessions.runtime import _factory\n"
        "import deadline_worker_agent\n"
        "def entrypoint():\n"
        "    from deadline_worker_agent.sessions.runtime import SessionRuntimeKind\n"
        "    from wraprun.integrations.deadline import WraprunSessionRuntime\n"
        "    for make in (session.create_session_runtime, _factory.create_session_runtime):\n"
        "        try:\n"
        "            make(SessionRuntimeKind.PYTHON, None)\n"
        "        except AttributeError as exc:  # WraprunSessionRuntime reads config.action_callback\n"
        "            print('wraprun' if 'action_callback' in str(exc) else exc)\n"
        "deadline_worker_agent.entrypoint = entrypoint\n"
        "from wraprun.integrations import deadline_worker_agent as script; script()\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["wraprun", "wraprun"]
