"""Deliberately broken variants of the SQLite reference provider, one bug each.

Each category module holds the providers that category of the conformance suite must reject;
``BROKEN`` lists them all, with the ``--provider`` spec that runs the suite against each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType

from broken_providers import (
    atomicity,
    error_handling,
    instance_locking,
    lock_expiration,
    multi_execution,
    queue_semantics,
)

__all__ = ["BROKEN", "Broken"]


@dataclass(frozen=True, slots=True)
class Broken:
    """One broken provider: its bug (kebab-case class name), rejecting category and spec."""

    bug: str
    category: str
    spec: str


def _listed(module: ModuleType) -> list[Broken]:
    category = module.__name__.rpartition(".")[2]
    return [
        Broken(
            bug=re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower(),
            category=category,
            spec=f"{module.__name__}:{name}.factory",
        )
        for name in module.__all__
    ]


BROKEN: list[Broken] = [
    broken
    for module in (
        instance_locking,
        atomicity,
        error_handling,
        lock_expiration,
        queue_semantics,
        multi_execution,
    )
    for broken in _listed(module)
]
"""Every broken provider, grouped by the category that must reject it."""
