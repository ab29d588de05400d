"""Where the conformance suite lives, so the plugin can collect it from any directory."""

from __future__ import annotations

from pathlib import Path

SUITE_DIR = Path(__file__).resolve().parent / "suite"
SUITE_PACKAGE = "provkit.conformance.suite"


def in_suite(path: Path) -> bool:
    """True for the suite directory and anything inside it."""
    resolved = path.resolve()
    return resolved == SUITE_DIR or SUITE_DIR in resolved.parents
