"""``--provkit-known-failures=FILE``: suite tests a provider is known to fail, expected strictly.

The file lists one test id per line (``#`` starts a comment; blank lines are ignored). An
id is the test's module file inside the suite and its name, as in
``test_management.py::test_listing_pages_through_every_instance[2]``; without the
``[...]`` part it covers every parametrization; a full pytest node id works too. Listed
tests that fail are reported as known failures; a listed test that passes fails the run,
so the list can only shrink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from provkit.conformance._layout import SUITE_DIR

UNEXPECTED_PASS_PREFIX = "[XPASS(strict)] "
"""How pytest starts the report of a strict expected failure that passed."""


class KnownFailuresError(Exception):
    """The known-failures file cannot be read; the message is one line."""


@dataclass(slots=True)
class KnownFailures:
    """The entries of one known-failures file and which of them matched a collected test."""

    path: Path
    entries: list[str]
    matched: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, path: Path) -> KnownFailures:
        """Parse ``path``; ``KnownFailuresError`` names the file when it cannot be read."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise KnownFailuresError(
                f"cannot read --provkit-known-failures file {str(path)!r}: {reason}"
            ) from None
        entries = []
        for line in text.splitlines():
            entry = line.split("#", 1)[0].strip()
            if entry:
                entries.append(entry)
        return cls(path=path, entries=entries)

    def mark(self, items: list[pytest.Item]) -> None:
        """Mark every listed test as a strict expected failure."""
        listed = set(self.entries)
        for item in items:
            hits = listed.intersection(_ids(item))
            if hits:
                self.matched |= hits
                item.add_marker(
                    pytest.mark.xfail(
                        strict=True, reason=f"known failure, listed in {self.path.name}"
                    )
                )

    @property
    def unmatched(self) -> list[str]:
        """Entries that named no collected test (misspelt, renamed, or not selected)."""
        return [entry for entry in self.entries if entry not in self.matched]


def _ids(item: pytest.Item) -> set[str]:
    """Every spelling of ``item`` a known-failures entry may use."""
    head, _, rest = item.nodeid.partition("::")
    try:
        module = item.path.resolve().relative_to(SUITE_DIR).as_posix()
    except ValueError:
        module = head
    short = f"{module}::{rest}"
    return {item.nodeid, short, short.split("[", 1)[0], item.nodeid.split("[", 1)[0]}
