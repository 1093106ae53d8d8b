"""Run ``wraprun conformance`` the way a user does, and build small suites to run it on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

RULE_BREAKER = Path(__file__).with_name("rule_breaker.py")


def conformance(
    *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wraprun", "conformance", "-j", "2", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def breaking(rule: str) -> str:
    """An --impl value: wraprun with ``rule`` broken on purpose."""
    return f"{sys.executable} {RULE_BREAKER} {rule}"


def write(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def job(*lines: str, name: str = "J") -> dict[str, Any]:
    """A one-step job template whose task prints ``lines``."""
    program = "; ".join(f"print({line!r})" for line in lines) or "pass"
    return {
        "specificationVersion": "jobtemplate-2023-09",
        "name": name,
        "steps": [
            {"name": "S", "script": {"actions": {"onRun": {"command": "python", "args": ["-c", program]}}}}
        ],
    }


def small_suite(root: Path) -> Path:
    """Five tests in the public layout: two templates to check, three bundles to run."""
    component = root / "2023-09" / "DEMO"
    write(component / "job_templates" / "1.1--hello.yaml", job("HELLO"))
    write(component / "job_templates" / "1.2--broken.invalid.yaml", {"specificationVersion": "nope"})
    write(
        component / "jobs" / "1.1--prints.test.yaml",
        {"template": job("OUT_A"), "expected": {"output": ["OUT_A"]}},
    )
    write(
        component / "jobs" / "wrap-forbidden.test.yaml",
        {"template": job("OUT_B"), "expected": {"output": ["OUT_B"], "forbidden": ["NEVER"]}},
    )
    write(component / "jobs" / "2--bad-job.invalid.test.yaml", {"template": {"specificationVersion": "x"}})
    (component / "jobs" / "README.md").write_text("not a test\n")
    return root
