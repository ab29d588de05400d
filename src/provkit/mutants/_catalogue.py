"""The catalogue: every mutant with its name, spec, base and the contract sentence it breaks."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from provkit.mutants import (
    capabilities,
    end_to_end,
    history,
    orchestrator_queue,
    tokens,
    turns,
    worker_queue,
    wrappers,
)
from provkit.mutants._bases import Breaks, MemoryMutant, WrapperMutant, kebab

MODULES: tuple[ModuleType, ...] = (
    orchestrator_queue,
    turns,
    worker_queue,
    tokens,
    history,
    wrappers,
    capabilities,
    end_to_end,
)
"""The modules holding mutants; each lists its mutant classes in ``__all__``."""


@dataclass(frozen=True, slots=True)
class Mutant:
    """One mutant: ``spec`` is what ``--provider`` takes to run the suite against it."""

    name: str
    spec: str
    base: str
    breaks: Breaks
    bug: str


def _base(cls: type[Any]) -> str:
    if issubclass(cls, WrapperMutant):
        return f"{cls.wraps} (wrapped)"
    return "memory" if issubclass(cls, MemoryMutant) else "sqlite"


def _describe(cls: type[Any], module: ModuleType) -> Mutant:
    doc = inspect.getdoc(cls) or ""
    bug = " ".join(doc.split("\n\n", 1)[0].split()).removeprefix("Bug: ")
    return Mutant(
        name=kebab(cls.__name__),
        spec=f"{module.__name__}:{cls.__name__}.factory",
        base=_base(cls),
        breaks=cls.breaks,
        bug=bug,
    )


CATALOGUE: tuple[Mutant, ...] = tuple(
    _describe(getattr(module, name), module) for module in MODULES for name in module.__all__
)
"""Every mutant, in catalogue order."""


def find(name: str) -> Mutant:
    """The mutant called ``name`` (``LookupError`` naming the known ones otherwise)."""
    for mutant in CATALOGUE:
        if mutant.name == name:
            return mutant
    raise LookupError(f"no mutant named {name!r}; known: {', '.join(m.name for m in CATALOGUE)}")
