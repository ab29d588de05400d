"""Which clauses of the ``Provider`` contract the catalogue breaks, and which none does.

The ``Provider`` docstrings are split into clauses (at each ``.`` or ``;`` that ends one,
outside parentheses): every clause is a promise a provider can break, so every clause needs
a mutant breaking it, unless it is listed in ``EXEMPT`` with the reason no mutant can.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass

import provkit.contract
from provkit.contract import Provider
from provkit.mutants._catalogue import Mutant

DOCUMENTED: tuple[str, ...] = (
    "Provider",
    *(
        f"Provider.{name}"
        for name, member in vars(Provider).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    ),
)
"""The documented objects whose clauses the catalogue must cover, in source order."""

EXEMPT: dict[str, str] = {
    "Storage for durable orchestrations: history per execution plus two queues.": (
        "the summary line; the clauses after it say what it means"
    ),
    "Human-readable provider name for reports (a plain attribute will do).": (
        "no behaviour: any name conforms"
    ),
    "Release connections and threads;": "nothing a test can observe from outside the provider",
    "further calls may fail.": "'may': a provider that keeps working after close() conforms",
}
"""Clauses no mutant can break, with the reason."""


def plain(text: str) -> str:
    """Docstring text without markup, headings (``**Visibility.**``) and line breaks."""
    return " ".join(re.sub(r"\*\*[^*]+\*\*", "", text).replace("`", "").split())


def docstring(where: str) -> str:
    """The plain docstring of ``where`` (a name in ``provkit.contract``, dotted for members)."""
    target: object = provkit.contract
    for part in where.split("."):
        target = getattr(target, part)
    return plain(inspect.getdoc(target) or "")


def clauses(text: str) -> list[str]:
    """``text`` cut after each ``.`` or ``;`` that ends a clause, outside parentheses."""
    found, depth, start = [], 0, 0
    for match in re.finditer(r"[()]|[.;](?=\s|$)", text):
        mark = match.group()
        if mark == "(":
            depth += 1
        elif mark == ")":
            depth = max(depth - 1, 0)
        elif depth == 0:
            found.append(text[start : match.end()].strip())
            start = match.end()
    tail = text[start:].strip()
    return [*found, tail] if tail else found


@dataclass(frozen=True, slots=True)
class Clause:
    """One clause of a contract docstring and the mutants that break it."""

    where: str
    text: str
    mutants: tuple[str, ...]
    exempt: str | None

    @property
    def covered(self) -> bool:
        return bool(self.mutants) or self.exempt is not None


def coverage(catalogue: Sequence[Mutant]) -> list[Clause]:
    """Every clause of the ``DOCUMENTED`` docstrings with the mutants breaking it."""
    found = []
    for where in DOCUMENTED:
        for text in clauses(docstring(where)):
            breaking = tuple(
                mutant.name
                for mutant in catalogue
                if mutant.breaks.where == where and _overlaps(plain(mutant.breaks.sentence), text)
            )
            found.append(Clause(where, text, breaking, EXEMPT.get(text)))
    return found


def _overlaps(quoted: str, clause: str) -> bool:
    return quoted in clause or clause.rstrip(".;:") in quoted
