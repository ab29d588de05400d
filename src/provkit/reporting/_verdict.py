"""Conformance verdicts as records and as the JSON file ``--provkit-report=PATH`` writes.

One file holds one conformance run: the suite and contract versions and, per provider, its
capabilities, verdict, counts per category and every failure with its test id and first
line. Plain data in and out; reading a file that is not a verdict raises ``VerdictFileError``
with one line naming the file and the cause.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FORMAT = "provkit-conformance-verdict"
FORMAT_VERSION = 1

PASS, PARTIAL, FAIL, INCOMPLETE, NO_RESULT = "pass", "partial", "fail", "incomplete", "no-result"
OUTCOMES = (PASS, PARTIAL, FAIL, INCOMPLETE, NO_RESULT)
"""A provider's overall outcome: ``pass`` only for the whole suite run and passed."""


class VerdictFileError(Exception):
    """A verdict file that cannot be read; the message is one line naming it."""


@dataclass(frozen=True, slots=True)
class CategoryCounts:
    """One category's tests: ``skipped`` counts every skip, ``by_capability`` those of them
    skipped for what the provider declares; ``known`` are listed known failures that failed;
    ``selected`` is how many tests of the category the run selected."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    by_capability: int = 0
    known: int = 0
    selected: int = 0

    @property
    def ran(self) -> int:
        """Tests that ran to an outcome other than a skip."""
        return self.passed + self.failed + self.known


@dataclass(frozen=True, slots=True)
class FailedTest:
    """One failure: the test's id (``test_module.py::test_name[params]``), its category,
    the first line of the failure, what the test checks, and for a foundation test the
    operation whose simplest behaviour it checks."""

    test: str
    category: str
    message: str
    checks: str = ""
    foundation: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderVerdict:
    """One provider's result: ``provider`` is the spec as given, ``name`` its own name."""

    provider: str
    name: str
    capabilities: tuple[str, ...]
    outcome: str
    verdict: str
    """The summary's verdict line, e.g. ``PASS: memory conforms to ...``."""
    categories: dict[str, CategoryCounts]
    failures: tuple[FailedTest, ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome in (PASS, PARTIAL)

    @property
    def fix_first(self) -> tuple[FailedTest, ...]:
        """The failed foundation tests: later failures may follow from them."""
        return tuple(f for f in self.failures if f.foundation is not None)

    @property
    def totals(self) -> CategoryCounts:
        """The counts summed over every category."""
        rows = self.categories.values()
        return CategoryCounts(
            *(sum(getattr(c, name) for c in rows) for name in CategoryCounts.__slots__)
        )


@dataclass(frozen=True, slots=True)
class ConformanceVerdict:
    """A conformance run: what it checked with, when, and each provider's result."""

    suite_version: str
    contract_version: str
    provkit_version: str
    created: str
    """UTC time the run ended, ISO 8601."""
    python: str
    providers: tuple[ProviderVerdict, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON document (see ``write``)."""
        document: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION}
        document.update(asdict(self))
        for provider in document["providers"]:
            provider["capabilities"] = list(provider["capabilities"])
            provider["failures"] = list(provider["failures"])
        return document

    def write(self, path: Path) -> None:
        """Write the JSON document to ``path`` (replacing it)."""
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> ConformanceVerdict:
        """Read a file ``write`` wrote; ``VerdictFileError`` names the file and the cause."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise VerdictFileError(f"cannot read {str(path)!r}: {exc.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VerdictFileError(f"{str(path)!r} is not JSON: {exc}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise VerdictFileError(
                f"{str(path)!r} is not a provkit conformance verdict (written by "
                "pytest --provkit-report=PATH)"
            )
        if document.get("format_version") != FORMAT_VERSION:
            raise VerdictFileError(
                f"{str(path)!r} is a verdict of format version "
                f"{document.get('format_version')!r}; this provkit reads version {FORMAT_VERSION}"
            )
        try:
            return cls._from_json(document)
        except (KeyError, TypeError, ValueError) as exc:
            raise VerdictFileError(f"{str(path)!r} is a damaged verdict: {exc!r}") from None

    @classmethod
    def _from_json(cls, document: dict[str, Any]) -> ConformanceVerdict:
        providers = []
        for entry in document["providers"]:
            if entry["outcome"] not in OUTCOMES:
                raise ValueError(f"unknown outcome {entry['outcome']!r}")
            providers.append(
                ProviderVerdict(
                    provider=str(entry["provider"]),
                    name=str(entry["name"]),
                    capabilities=tuple(map(str, entry["capabilities"])),
                    outcome=entry["outcome"],
                    verdict=str(entry["verdict"]),
                    categories={
                        str(name): CategoryCounts(**counts)
                        for name, counts in entry["categories"].items()
                    },
                    failures=tuple(FailedTest(**failure) for failure in entry["failures"]),
                )
            )
        return cls(
            suite_version=str(document["suite_version"]),
            contract_version=str(document["contract_version"]),
            provkit_version=str(document["provkit_version"]),
            created=str(document["created"]),
            python=str(document["python"]),
            providers=tuple(providers),
        )
