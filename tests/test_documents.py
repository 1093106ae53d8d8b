"""documents.read_document: what a file may hold before it reaches openjd-model.

The compiled engine crashes (recursive structures), exhausts memory (aliases that
expand) or fails with a bug's exit code (non-JSON values) on what YAML can express,
and reading a FIFO or a device never ends: each is one line naming the file, exit 2,
and nothing left behind. Hang-prone cases run in a subprocess with a timeout.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wraprun.documents import MAX_BYTES, MAX_DEPTH, MAX_NODES, TemplateError, read_document
from wraprun.templates import load

from .helpers import wraprun, write

HANG = 30
"""Seconds a subprocess gets before a hang counts as a failure."""

ECHO = {"command": "echo", "args": ["N={{Param.N}}"]}
JOB = {
    "specificationVersion": "jobtemplate-2023-09",
    "name": "J",
    "parameterDefinitions": [{"name": "N", "type": "STRING", "default": "x"}],
    "steps": [{"name": "S", "script": {"actions": {"onRun": ECHO}}}],
}


def private_tmpdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """wraprun's TMPDIR for this test (inherited by the CLI): where a session directory would
    go. Private, so that sessions other tests run at the same time cannot be mistaken for ours."""
    root = tmp_path / "tmpdir"
    root.mkdir()
    monkeypatch.setenv("TMPDIR", str(root))
    return root


@pytest.fixture
def sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return private_tmpdir(tmp_path, monkeypatch)


def session_dirs(root: Path) -> set[Path]:
    return set(root.glob("wraprun-session-*"))


def rejected(result: subprocess.CompletedProcess[str], name: str | Path, root: Path) -> str:
    """The one stderr line of an exit-2 refusal that names ``name``; no session was made."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(name) in lines[0], lines[0]
    assert "Process exited" not in result.stdout
    assert session_dirs(root) == set()
    return lines[0]


def run_job(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``wraprun run`` of a small valid job (in ``root``'s parent) with ``args``, checking no
    session directory appears whatever it says."""
    job = write(root.parent / "job.yaml", JOB)
    before = session_dirs(root)
    result = wraprun("run", str(job), *args, cwd=cwd, timeout=HANG)
    if result.returncode == 2:
        assert session_dirs(root) == before
    return result


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


# 17: recursive structures -------------------------------------------------------------


RECURSIVE = {
    "list": "N: &a [*a]\n",
    "mapping": "a: &a {b: *a}\n",
    "deeper": "a: &a [x, {b: [c, *a]}]\n",
    "merge": "a: &a {<<: *a}\n",
    "top": "&a {b: [*a]}\n",
}


@pytest.mark.parametrize("text", RECURSIVE.values(), ids=RECURSIVE.keys())
def test_recursive_yaml_is_refused(tmp_path: Path, sessions: Path, text: str) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(text)
    assert "recursive" in rejected(wraprun("check", str(bad), timeout=HANG), f"{bad}:1:", sessions)


@pytest.mark.parametrize("flag", ["-p", "--tasks", "--path-mapping-rules", "--env"])
def test_recursive_yaml_is_refused_in_every_input(tmp_path: Path, sessions: Path, flag: str) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(RECURSIVE["list"])  # was SIGSEGV as -p file://
    value = str(bad) if flag == "--env" else f"file://{bad}"
    assert "recursive" in rejected(run_job(sessions, flag, value), f"{bad}:1:", sessions)


# 18: bounded expansion, depth and size ------------------------------------------------


def limited(*args: str, gib: int = 4) -> subprocess.CompletedProcess[str]:
    """wraprun with ``gib`` GiB of address space: a regression fails fast instead of eating the machine."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (gib << 30, gib << 30))

    command = [sys.executable, "-m", "wraprun", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=HANG, preexec_fn=cap)


def test_billion_laughs_is_refused_without_expanding(tmp_path: Path, sessions: Path) -> None:
    bomb = tmp_path / "lol.yaml"
    bomb.write_text(billion_laughs())
    assert bomb.stat().st_size < 600
    line = rejected(limited("check", str(bomb)), f"{bomb}:", sessions)
    assert f"more than {MAX_NODES} values" in line
    p = tmp_path / "p.yaml"
    p.write_text(billion_laughs() + "N: *a9\n")
    rejected(limited("run", str(write(tmp_path / "job.yaml", JOB)), "-p", f"file://{p}"), p, sessions)


def test_aliases_that_stay_small_are_fine(tmp_path: Path, sessions: Path) -> None:
    p = tmp_path / "p.yaml"
    p.write_text("N: &s hello\n")
    result = run_job(sessions, "-p", f"file://{p}")
    assert result.returncode == 0 and "N=hello" in result.stdout, result.stderr
    template = tmp_path / "env.yaml"
    template.write_text(
        "specificationVersion: environment-2023-09\n"
        "environment:\n  name: E\n  script:\n    actions:\n"
        "      onEnter: &a {command: echo, args: [hi]}\n      onExit: *a\n"
    )
    assert wraprun("check", str(template)).returncode == 0


def test_expansion_cap_is_exact() -> None:
    # One alias used many times, just under and just over MAX_NODES: counted, not guessed.
    def document(uses: int) -> str:
        return "a: &a [" + ", ".join(["x"] * 999) + "]\nb: [" + ", ".join(["*a"] * uses) + "]\n"

    # nodes: mapping + 2 keys + list a (1 + 999) + list b (1 + uses * 1000)
    fits = (MAX_NODES - 1 - 2 - 1000 - 1) // 1000
    assert isinstance(read_bytes(document(fits)), dict)
    with pytest.raises(TemplateError, match="more than"):
        read_bytes(document(fits + 1))


def read_bytes(text: str | bytes, suffix: str = ".yaml") -> Any:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"doc{suffix}"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return read_document(path)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_nesting_is_capped(tmp_path: Path, sessions: Path, suffix: str) -> None:
    # 990 and up overflowed the engine's recursion (exit 4); libyaml itself stops at 1000.
    for depth in (MAX_DEPTH, 990, 999, 1000, 5000, 100_000):
        deep = tmp_path / f"deep{suffix}"
        deep.write_text('{"a": ' + "[" * depth + "]" * depth + "}")
        line = rejected(wraprun("check", str(deep), timeout=HANG), deep, sessions)
        assert "internal error" not in line
    with pytest.raises(TemplateError, match=f"more than {MAX_DEPTH} levels"):
        read_bytes('{"a": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}", suffix)
    ok = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert read_bytes('{"a": ' + ok + "}", suffix) is not None


def test_nesting_through_aliases_counts(tmp_path: Path, sessions: Path) -> None:
    # Each level is shallow; the expansion is 1800 deep (the old engine's RecursionError).
    deep = tmp_path / "deep.yaml"
    deep.write_text(
        f"a: &a {'[' * 600}x{']' * 600}\nb: &b {'[' * 600}*a {']' * 600}\nc: {'[' * 600}*b {']' * 600}\n"
    )
    assert "levels deep" in rejected(wraprun("check", str(deep), timeout=HANG), f"{deep}:", sessions)


def test_size_is_capped(tmp_path: Path, sessions: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as file:
        file.truncate(MAX_BYTES + 1)  # sparse: no disk used
    assert "MiB" in rejected(wraprun("check", str(big), timeout=HANG), big, sessions)
    exact = tmp_path / "exact.yaml"
    exact.write_bytes(b"#" * (MAX_BYTES - 1) + b"\n")
    assert read_document(exact) is None  # a comment: as big as allowed, and read


def test_many_values_in_a_plain_document(tmp_path: Path, sessions: Path) -> None:
    wide = tmp_path / "wide.json"
    wide.write_text("[" + "0," * MAX_NODES + "0]")
    assert "more than" in rejected(wraprun("check", str(wide), timeout=HANG), wide, sessions)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_full_size_file_of_values_stays_cheap(tmp_path: Path, sessions: Path, suffix: str) -> None:
    # Eight million values in 16 MiB, no alias: building their nodes took 50 s and 3 GiB.
    wide = tmp_path / f"wide{suffix}"
    wide.write_text("[" + "0," * (MAX_BYTES // 2 - 2) + "0]")
    assert wide.stat().st_size <= MAX_BYTES
    assert "more than" in rejected(limited("check", str(wide), gib=1), wide, sessions)


# 19: FIFOs, devices, directories, sockets ---------------------------------------------


def special_files(tmp_path: Path) -> list[Path]:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    sock = tmp_path / "sock.yaml"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock))  # left bound until the test ends (the path stays a socket)
    link = tmp_path / "link.yaml"
    link.symlink_to(fifo)
    directory = tmp_path / "dir.yaml"
    directory.mkdir()
    return [fifo, sock, link, directory, Path("/dev/zero"), Path("/dev/null")]


def test_non_regular_files_are_refused(tmp_path: Path, sessions: Path) -> None:
    for special in special_files(tmp_path):
        line = rejected(wraprun("check", str(special), timeout=HANG), special, sessions)
        assert "not a regular file" in line
    rejected(run_job(sessions, "-p", "file:///dev/zero"), "/dev/zero", sessions)


@pytest.mark.parametrize("flag", ["JOB", "--env", "-p", "--tasks", "--path-mapping-rules"])
def test_a_fifo_is_refused_in_every_input(tmp_path: Path, sessions: Path, flag: str) -> None:
    fifo = tmp_path / "in.yaml"
    os.mkfifo(fifo)
    if flag == "JOB":
        result = wraprun("run", str(fifo), timeout=HANG)
    else:
        result = run_job(sessions, flag, str(fifo) if flag == "--env" else f"file://{fifo}")
    assert "a FIFO" in rejected(result, fifo, sessions)


def test_a_fifo_swapped_in_after_the_stat_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    # os.stat lies (the path was a regular file a moment ago): the open must not wait for
    # a writer, and the fstat of what was opened must still refuse it.
    script = tmp_path / "swap.py"
    script.write_text(
        "import os, stat, sys\n"
        "from pathlib import Path\n"
        "from wraprun import documents\n"
        "real = os.stat\n"
        "class Regular:\n"
        "    st_mode = stat.S_IFREG | 0o644\n"
        "def lying(path, *args, **kwargs):\n"
        "    return Regular() if str(path) == sys.argv[1] else real(path, *args, **kwargs)\n"
        "documents.os.stat = lying\n"
        "try:\n"
        "    documents.read_document(Path(sys.argv[1]))\n"
        "except documents.TemplateError as exc:\n"
        "    print(exc)\n"
    )
    command = [sys.executable, str(script), str(fifo)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=HANG)
    assert result.stdout.strip() == f"{fifo}: cannot read: a FIFO, not a regular file", result.stderr


# 20: encodings and non-JSON values ----------------------------------------------------


BAD_FILES = {
    "invalid-utf8.yaml": b"a: 1\nb: \xff\xfe\n",
    "utf16-le.yaml": "a: 1\n".encode("utf-16"),
    "utf16-be.yaml": b"\xfe\xff" + "a: 1\n".encode("utf-16-be"),
    "invalid-utf8.json": b'{"a": "\xc3"}',
    "binary.yaml": b"a: !!binary aGVsbG8=\n",
    "set.yaml": b"a: !!set {x, y}\n",
    "timestamp.yaml": b"a: !!timestamp 2024-01-01\n",
    "omap.yaml": b"a: !!omap [{x: 1}]\n",
    "pairs.yaml": b"a: !!pairs [{x: 1}]\n",
    "python.yaml": b"a: !!python/object/apply:os.system [true]\n",
    "python-tuple.yaml": b"a: !!python/tuple [1, 2]\n",
    "local-tag.yaml": b"a: !mine x\n",
    "bad-int.yaml": b"a: !!int twelve\n",
    "bad-bool.yaml": b"a: !!bool perhaps\n",
    "bad-float.yaml": b"a: !!float x\n",
    "empty-float.yaml": b"a: !!float\n",  # IndexError inside PyYAML
    "empty-bool.yaml": b"a: !!bool\n",
    "huge-int.yaml": b"a: " + b"9" * 5000 + b"\n",
    "huge-int.json": b'{"a": ' + b"9" * 5000 + b"}",
    "int-key.yaml": b"1: x\n",
    "null-key.yaml": b"null: x\n",
    "bool-key.yaml": b"yes: x\n",
    "list-key.yaml": b"[a]: b\n",
    "map-key.yaml": b"? {a: 1}\n: b\n",
    "nul.yaml": b"a: x\x00y\n",
    "control.yaml": b'a: "\x01"\n',
    "bad-escape.yaml": b'a: "\\ud800"\n',
    "two-documents.yaml": b"a: 1\n---\nb: 2\n",
    "json-deep.json": b"[" * 1000 + b"]" * 1000,
    "json-deeper.json": b"[" * 100_000,
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_non_json_content_is_one_line_naming_the_file(tmp_path: Path, sessions: Path, name: str) -> None:
    bad = tmp_path / name
    bad.write_bytes(BAD_FILES[name])
    line = rejected(wraprun("check", str(bad), timeout=HANG), bad, sessions)
    assert "internal error" not in line


IN_A_PARAMETER_FILE = ["utf16-le.yaml", "binary.yaml", "timestamp.yaml", "int-key.yaml", "huge-int.json"]


@pytest.mark.parametrize("name", IN_A_PARAMETER_FILE)
def test_non_json_content_in_a_parameter_file(tmp_path: Path, sessions: Path, name: str) -> None:
    bad = tmp_path / name
    bad.write_bytes(BAD_FILES[name])
    rejected(run_job(sessions, "-p", f"file://{bad}"), bad, sessions)


@pytest.mark.parametrize("tag", ["binary", "set", "timestamp", "omap", "python/tuple"])
def test_explicit_tags_name_line_and_column(tmp_path: Path, tag: str) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text(f"name: J\nvalue:\n  - ok\n  - !!{tag} x\n")
    with pytest.raises(TemplateError) as caught:
        read_document(bad)
    assert caught.value.problems == [f"{bad}:4:5: unsupported tag !!{tag}: values must be JSON's"]


def test_plain_dates_stay_strings(tmp_path: Path, sessions: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(JOB, sort_keys=False).replace("default: x", "default: 2024-01-01"))
    result = wraprun("run", str(job), timeout=HANG)
    assert result.returncode == 0, result.stderr
    assert "N=2024-01-01" in result.stdout
    p = tmp_path / "p.yaml"
    p.write_text("N: 2001-12-14t21:59:43.10-05:00\n")
    result = wraprun("run", str(job), "-p", f"file://{p}", timeout=HANG)
    assert result.returncode == 0 and "N=2001-12-14t21:59:43.10-05:00" in result.stdout
    assert read_bytes("a: 2024-01-01\nb: =\nc: '1'\nd: 1.5\ne: true\nf: null\n") == {
        "a": "2024-01-01",
        "b": "=",
        "c": "1",
        "d": 1.5,
        "e": True,
        "f": None,
    }


def test_shipped_templates_still_check(sessions: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    shipped = sorted((root / "templates").glob("*.yaml")) + sorted((root / "examples").glob("*.yaml"))
    for path in shipped:
        load(path)


# Properties -----------------------------------------------------------------------------

PIECES = list("ab01 :-,[]{}&*!|>'\"#%@?\n\t.=~") + ["\x00", "\x85", "\ufeff", "é", "!!", "<<", "&a", "*a"]
YAMLISH = st.lists(st.sampled_from(PIECES + ["2024-01-01", "1e400", ".nan"]), max_size=40).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(st.binary(max_size=80), YAMLISH.map(str.encode)),
    suffix=st.sampled_from([".yaml", ".json"]),
)
def test_any_bytes_load_or_give_template_errors(data: bytes, suffix: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"t{suffix}"
        path.write_bytes(data)
        try:
            load(path)
        except TemplateError as exc:  # anything else is exit 4
            assert exc.problems and all(p.startswith(str(path)) and "\n" not in p for p in exc.problems)


@settings(max_examples=15, deadline=None)
@given(data=st.one_of(st.binary(max_size=60), YAMLISH.map(str.encode)))
def test_any_bytes_through_the_cli_exit_0_or_2(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.yaml"
        path.write_bytes(data)
        result = wraprun("check", str(path), timeout=HANG)
        assert result.returncode in (0, 2), result.stderr
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr


# A document of anchored levels: level i is `depth` nested lists around items, each a
# scalar or an alias to an earlier level (or to itself: recursive).
LEVEL = st.tuples(
    st.integers(0, 60),
    st.lists(st.one_of(st.just("x"), st.integers(-1, 11)), max_size=14),
)


@settings(max_examples=300, deadline=None)
@given(levels=st.lists(LEVEL, min_size=1, max_size=12))
def test_alias_shapes_are_measured_exactly(levels: list[tuple[int, list[Any]]]) -> None:
    lines, sizes, heights, recursive = [], [], [], False
    for i, (depth, items) in enumerate(levels):
        rendered, size, height = [], depth + 1, 0
        for item in items:
            if item == "x":
                rendered.append("x")
                size, height = size + 1, max(height, 1)
            elif item == -1 or item == i:
                rendered.append(f"*l{i}")  # the level's own anchor, inside itself
                recursive = True
            elif item < i:
                rendered.append(f"*l{item}")
                size, height = size + sizes[item], max(height, heights[item])
        sizes.append(size)
        heights.append(depth + 1 + height)
        body = "[" * (depth + 1) + ", ".join(rendered) + " " + "]" * (depth + 1)
        lines.append(f"l{i}: &l{i} {body}")
    total = 1 + sum(1 + size for size in sizes)
    big = total > MAX_NODES or 1 + max(heights) > MAX_DEPTH
    text = "\n".join(lines) + "\n"
    if recursive or big:
        # Whichever the walk meets first, when both apply (sizes above leave the cycle out).
        expected = "|".join(["recursive"] * recursive + ["more than"] * big)
        with pytest.raises(TemplateError, match=expected) as caught:
            read_bytes(text)
        assert len(caught.value.problems) == 1
    else:
        document = read_bytes(text)
        assert isinstance(document, dict) and len(document) == len(levels)
        if total < 50_000:
            assert json.loads(json.dumps(document)) == document  # JSON-shaped


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(document=JSON_VALUES)
def test_json_shaped_documents_read_back_unchanged(document: Any) -> None:
    # The checks refuse what JSON cannot hold, and nothing that it can.
    assert read_bytes(yaml.safe_dump(document)) == document
    assert read_bytes(yaml.safe_dump(document, default_flow_style=True)) == document
    assert read_bytes(json.dumps(document), ".json") == document


def test_ordinary_yaml_still_loads() -> None:
    text = """\
base: &base {command: echo, args: [a, "b", 'c']}
merged: {<<: *base, timeout: 5}
several:
  <<: [*base, {extra: true}]
block: |
  line one
  line two
folded: >-
  folded
  text
"quoted key": ~
numbers: [1, -2, 0x10, 1.5, 1.0e+3, .inf]
flags: [true, false, yes, no, on, off]
text: [2024-01-01, 2001-12-14 21:59:43.10 -5, "=", =, "<<"]
"""
    assert read_bytes(text) == {
        "base": {"command": "echo", "args": ["a", "b", "c"]},
        "merged": {"command": "echo", "args": ["a", "b", "c"], "timeout": 5},
        "several": {"command": "echo", "args": ["a", "b", "c"], "extra": True},
        "block": "line one\nline two\n",
        "folded": "folded text",
        "quoted key": None,
        "numbers": [1, -2, 16, 1.5, 1000.0, float("inf")],
        "flags": [True, False, True, False, True, False],
        "text": ["2024-01-01", "2001-12-14 21:59:43.10 -5", "=", "=", "<<"],
    }
