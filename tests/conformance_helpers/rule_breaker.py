"""A stand-in implementation that is wraprun with one rule of RFC 0008 broken on purpose.

Usage, as a conformance ``--impl``: ``python rule_breaker.py RULE check|run ...``.
It rewrites the files the runner hands over (or wraprun's output) so the run
behaves like a runtime that ignores RULE, then lets wraprun do the rest. A
suite test that still passes under it does not pin RULE.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

HOOKS = ("onWrapEnvEnter", "onWrapTaskRun", "onWrapEnvExit")
Document = dict[str, Any]


def environments(document: Document) -> Iterator[Document]:
    """Every <Environment> of a job or environment template."""
    if "environment" in document:
        yield document["environment"]
    yield from document.get("jobEnvironments", [])
    for step in document.get("steps", []):
        yield from step.get("stepEnvironments", [])


def actions(environment: Document) -> Document:
    actions: Document = environment.get("script", {}).get("actions", {})
    return actions


def replace_text(node: Any, old: str, new: str) -> Any:
    if isinstance(node, str):
        return node.replace(old, new)
    if isinstance(node, list):
        return [replace_text(item, old, new) for item in node]
    if isinstance(node, dict):
        return {key: replace_text(value, old, new) for key, value in node.items()}
    return node


def exit_hook_for_every_env(documents: list[Document]) -> list[Document]:
    """Runs onWrapEnvExit for inner environments that define no onExit (nothing-to-replace ignored)."""
    for document in documents:
        for environment in environments(document):
            found = actions(environment)
            if found and "onExit" not in found and not any(hook in found for hook in HOOKS):
                found["onExit"] = {"command": "python", "args": ["-c", "pass"]}
    return documents


def ignore_forwarded_timeout(documents: list[Document]) -> list[Document]:
    """Accepts ``timeout: "{{WrappedAction.Timeout}}"`` on a hook but never enforces it."""
    for document in documents:
        for environment in environments(document):
            for hook in HOOKS:
                actions(environment).get(hook, {}).pop("timeout", None)
    return documents


def ignore_unset_env(documents: list[Document]) -> list[Document]:
    """Does not recognize ``openjd_unset_env`` on a wrap script's stdout."""
    return [replace_text(d, "openjd_unset_env:", "ignored_unset_env:") for d in documents]


def redacted_as_plain(documents: list[Document]) -> list[Document]:
    """Treats ``openjd_redacted_env`` like ``openjd_env``: the value is never redacted."""
    return [replace_text(d, "openjd_redacted_env:", "openjd_env:") for d in documents]


def naive_quoting(documents: list[Document]) -> list[Document]:
    """A repr_sh that joins with spaces instead of quoting each element."""
    quoted = "repr_sh([WrappedAction.Command] + WrappedAction.Args)"
    joined = "([WrappedAction.Command] + WrappedAction.Args).join(' ')"
    return [replace_text(d, quoted, joined) for d in documents]


REWRITES: dict[str, Callable[[list[Document]], list[Document]]] = {
    "exit-hook-for-every-env": exit_hook_for_every_env,
    "ignore-forwarded-timeout": ignore_forwarded_timeout,
    "ignore-unset-env": ignore_unset_env,
    "redacted-as-plain": redacted_as_plain,
    "naive-quoting": naive_quoting,
}
# Rules broken by changing the command line or the output instead of the templates.
OTHERS = ("wrapper-outermost", "truncate-lines", "always-succeed")


def template_files(args: list[str]) -> list[Path]:
    files = [Path(args[1])]
    files += [Path(args[i + 1]) for i, arg in enumerate(args) if arg == "--env"]
    return files


def wrapper_outermost(args: list[str]) -> list[str]:
    """Enters the wrapping --env environment first, whatever its place in the stack."""
    envs = [args[i + 1] for i, arg in enumerate(args) if arg == "--env"]
    wrapping = [e for e in envs if any(hook in Path(e).read_text() for hook in HOOKS)]
    ordered = wrapping + [e for e in envs if e not in wrapping]
    rest = [a for i, a in enumerate(args) if a != "--env" and (i == 0 or args[i - 1] != "--env")]
    return rest + [word for env in ordered for word in ("--env", env)]


def main(argv: list[str]) -> int:
    rule, args = argv[0], argv[1:]
    if rule not in REWRITES and rule not in OTHERS:
        raise SystemExit(f"unknown rule {rule}")
    if args[0] == "run" and rule in REWRITES:
        files = template_files(args)
        documents = REWRITES[rule]([yaml.safe_load(f.read_text(encoding="utf-8")) for f in files])
        for file, document in zip(files, documents, strict=True):
            file.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    if args[0] == "run" and rule == "wrapper-outermost":
        args = wrapper_outermost(args)
    done = subprocess.run([sys.executable, "-m", "wraprun", *args], capture_output=True, text=True)
    output = done.stdout + done.stderr
    if rule == "truncate-lines":  # reads the wrap script's stdout with a 64 KiB line buffer
        output = "\n".join(line[:65536] for line in output.split("\n"))
    sys.stdout.write(output)
    return 0 if rule == "always-succeed" else done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
