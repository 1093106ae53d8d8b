"""wraprun beside the official OpenJD CLI on the own suite, rendered in a real browser."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

from .conformance_helpers.cli import conformance
from .conformance_helpers.official import chromium, chromium_flags, official_openjd

# A subset, for time: the nothing-to-replace and stack-shape tests of section 4.3
# (the official CLI fails one of them: it enters an environment before rejecting
# a second wrap layer).
SUBSET = "*/4.3--*"


def test_compare_with_the_official_cli_renders_in_chromium(tmp_path: Path) -> None:
    openjd = official_openjd()
    browser = chromium()
    html = tmp_path / "compare.html"
    done = conformance(
        "-k", SUBSET, "--impl", f"openjd={openjd}", "--compare", "--impl", "wraprun", "--html", str(html)
    )
    lines = done.stdout.splitlines()
    assert lines[-3].startswith("openjd: ") and lines[-2] == "wraprun: 7 passed, 0 failed, 0 skipped", (
        done.stdout
    )
    assert done.returncode == (0 if lines[-1] == "7 passed, 0 failed, 0 skipped" else 1)  # judges openjd

    shot = tmp_path / "compare.png"
    flags = chromium_flags(tmp_path / "profile")
    run = [browser, *flags, f"--screenshot={shot}", "--window-size=1200,900", html.as_uri()]
    subprocess.run(run, capture_output=True, timeout=180, check=False)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (1200, 900)
    assert len(png) > 20_000  # a rendered table, not a blank page

    dom = subprocess.run(
        [browser, *flags, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=180
    ).stdout
    assert '<table id="matrix">' in dom
    assert "<th>openjd</th><th>wraprun</th>" in dom
    assert "4.3--nothing-to-replace-inner-env-without-onexit.test.yaml" in dom
