"""Every import in src/wraprun points down the layers, and no import cycle exists.

The one table of the allowed direction: a module may import modules of its own
layer or of a lower one, never of a higher one. Same-layer imports must not
form a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "wraprun"

LAYERS: dict[str, int] = {
    # faces: what users and other programs call
    "__main__": 6,
    "cli": 6,
    "conformance": 6,
    "wrappers": 6,
    "integrations": 6,  # other systems' drivers (the Deadline Cloud worker agent)
    "__init__": 6,
    "submit": 6,  # submit/status: a job's steps as cluster job arrays (over backends)
    "interrupts": 5,  # signals and a vanished output, for the faces that run work
    "check": 5,  # shared by the faces: what `check` says, the exit codes
    "summary": 5,  # `summary`: a planned job's steps, counts and environments
    "schema": 5,  # `schema`: openjd-model's JSON Schema of a template version
    "jobhelp": 5,  # what `run JOB --help` says about a job (read by cli on demand)
    "results": 5,  # what a run leaves behind: recorders, the result document, the report's file
    "report": 5,  # the HTML session report's page (a jinja2 template; below results)
    "lint": 5,  # `lint` and `check --strict`: unsafe patterns in valid templates (over templates)
    # running a planned job
    "runner": 4,
    "nonblocking": 4,  # the worker's session: the core on a thread of its own
    "backends": 5,  # where slices of a job run: local sessions, Slurm (over runner and job)
    "parallel": 5,  # --sessions N: a job over concurrent local sessions (over backends)
    # inputs: templates and the user's values, planned into a job
    "job": 3,
    "chunking": 3,  # TASK_CHUNKING: chunks sized while a step runs
    "adapt": 3,  # the official runtime's inputs as openjd-model's compiled objects
    "inputs": 3,
    "templates": 3,
    "shipped": 3,  # the ready environment templates installed with wraprun (below templates)
    "documents": 3,
    # the session runtime
    "session": 2,
    "wrap": 2,
    "actions": 2,
    "relay": 2,
    "environ": 2,
    "symbols": 2,
    # plain data and pure units
    "events": 1,
    "record": 1,  # a session's events kept as data (for the document and the report)
    "macros": 1,
    "redact": 1,
    "paths": 1,
    "statusline": 1,
    "errors": 1,
    "model": 1,  # the one door to openjd-model's compiled layer
    # processes: knows nothing of OpenJD
    "process": 0,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every wraprun module ``path`` imports, at any depth (lazy imports included)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names]
            found.update(
                n
                if (SRC.parent / n.replace(".", "/")).with_suffix(".py").exists()
                or (SRC.parent / n.replace(".", "/")).is_dir()
                else target
                for n in names
            )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "wraprun" or name.startswith("wraprun.")}


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    assert top in LAYERS, f"{module}: add it to the LAYERS table"
    return LAYERS[top]


GRAPH = {module_name(p): imports_of(p) for p in sorted(SRC.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module: str) -> None:
    up = [
        m
        for m in GRAPH[module]
        if m.split(".")[:2] != module.split(".")[:2] and layer_of(m) > layer_of(module)
    ]
    assert up == [], f"{module} imports a higher layer"


def test_no_import_cycle() -> None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = path[path.index(module) :] + [module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in GRAPH.get(module, ()):
            if target != "wraprun" and target in GRAPH:
                visit(target, [*path, module])
        done.add(module)

    for module in GRAPH:
        visit(module, [])


def test_only_the_model_module_names_the_private_engine() -> None:
    """openjd-model's compiled layer is private: one module opens it for everyone."""
    names = {module_name(p) for p in SRC.rglob("*.py") if "_openjd_rs" in p.read_text(encoding="utf-8")}
    assert names == {"wraprun.model"}
