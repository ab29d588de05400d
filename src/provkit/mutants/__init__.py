"""The mutant catalogue: reference providers with one deliberate bug each.

Every mutant breaks one sentence of the contract docstrings and is reachable as a provider
spec (``Mutant.spec``), so ``pytest --provider=SPEC`` or ``stress-run --provider SPEC`` can
be pointed at it. ``provkit mutants`` runs the conformance suite against all of them: a
mutant the suite does not reject is a missing test.
"""

from provkit.mutants._bases import Breaks
from provkit.mutants._catalogue import CATALOGUE, Mutant, find

__all__ = ["CATALOGUE", "Breaks", "Mutant", "find"]
