"""The mutant table and score as text, markdown and JSON: plain data in, strings out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from provkit.mutants._coverage import Clause
from provkit.mutants._runner import KILLED, Verdict


@dataclass(frozen=True, slots=True)
class Score:
    killed: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 0.0

    def line(self) -> str:
        return f"score: {self.killed}/{self.total} mutants killed ({self.percent:.1f} %)"


def score(verdicts: Sequence[Verdict]) -> Score:
    return Score(sum(v.outcome == KILLED for v in verdicts), len(verdicts))


def _killed_by(verdict: Verdict, limit: int | None) -> str:
    if verdict.detail and verdict.outcome != KILLED:
        return verdict.detail
    tests = list(verdict.killed_by)
    if limit is not None and len(tests) > limit:
        return ", ".join(tests[:limit]) + f" (+{len(tests) - limit} more)"
    return ", ".join(tests)


def _sentence(verdict: Verdict) -> str:
    breaks = verdict.mutant.breaks
    return f"{breaks.where}: {breaks.sentence}"


def text_table(verdicts: Sequence[Verdict]) -> str:
    """The table for a terminal: one row per mutant, the first killing test only."""
    rows = [
        [v.mutant.name, v.mutant.base, _sentence(v), v.outcome, _killed_by(v, 1)]
        for v in verdicts
    ]
    table = tabulate(
        rows,
        headers=["mutant", "base", "breaks", "verdict", "killed by"],
        tablefmt="simple",
        maxcolwidths=[None, None, 60, None, None],
    )
    return f"{table}\n\n{score(verdicts).line()}"


def markdown_table(verdicts: Sequence[Verdict]) -> str:
    """The table as a markdown document: every killing test, the stage that killed it."""
    rows = [
        [
            f"`{v.mutant.name}`",
            v.mutant.base,
            _sentence(v).replace("|", "\\|"),
            v.outcome,
            v.stage,
            _killed_by(v, None).replace("|", "\\|"),
        ]
        for v in verdicts
    ]
    headers = ["mutant", "base", "breaks", "verdict", "stage", "killed by"]
    table = tabulate(rows, headers=headers, tablefmt="github")
    return f"# Mutant catalogue\n\n{score(verdicts).line()}\n\n{table}\n"


def json_document(verdicts: Sequence[Verdict]) -> str:
    """Every verdict with its mutant's spec, base, sentence and bug, plus the score."""
    total = score(verdicts)
    document: dict[str, Any] = {
        "score": {"killed": total.killed, "total": total.total, "percent": total.percent},
        "mutants": [
            {
                "name": v.mutant.name,
                "spec": v.mutant.spec,
                "base": v.mutant.base,
                "bug": v.mutant.bug,
                "breaks": {"where": v.mutant.breaks.where, "sentence": v.mutant.breaks.sentence},
                "verdict": v.outcome,
                "stage": v.stage,
                "killed_by": list(v.killed_by),
                "seconds": round(v.seconds, 2),
                "detail": v.detail,
            }
            for v in verdicts
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def clause_summary(clauses: Sequence[Clause]) -> str:
    """One line on how many contract clauses the catalogue breaks, then any it does not."""
    exempt = sum(c.exempt is not None for c in clauses)
    uncovered = [c for c in clauses if not c.covered]
    broken = len(clauses) - exempt - len(uncovered)
    line = (
        f"contract clauses: {len(clauses)}; broken by a mutant: {broken}; exempt: {exempt}; "
        f"broken by none: {len(uncovered)}"
    )
    return "\n".join([line, *(f"  not broken: {c.where}: {c.text}" for c in uncovered)])


def markdown_clauses(clauses: Sequence[Clause]) -> str:
    """The contract's clauses, each with the mutants breaking it (or why none can)."""
    rows = [
        [
            c.where,
            c.text.replace("|", "\\|"),
            ", ".join(f"`{name}`" for name in c.mutants) or f"exempt: {c.exempt or 'NONE'}",
        ]
        for c in clauses
    ]
    table = tabulate(rows, headers=["where", "clause", "broken by"], tablefmt="github")
    return f"## Contract clauses\n\n{clause_summary(clauses)}\n\n{table}\n"
