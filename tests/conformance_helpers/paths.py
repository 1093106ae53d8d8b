"""Where the suites are, relative to this checkout (CI clones with shared/ beside it)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OWN_SUITE = REPO / "conformance"
PUBLIC_SUITE = REPO.parent / "shared" / "openjd-conformance"
PUBLIC_2023 = PUBLIC_SUITE / "2023-09"
OWN_WRAP = OWN_SUITE / "2023-09" / "WRAP_ACTIONS"
