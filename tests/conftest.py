"""How hard provkit's own tests work by default, and what CI adds.

Tests marked ``exhaustive`` are too slow for the default run: ``pytest -q`` (the README's
test command) deselects them and ``pytest -m exhaustive`` runs them.
Property tests without explicit settings run the ``quick`` Hypothesis profile (25 examples);
CI runs them again with ``--hypothesis-profile=thorough`` (200). Neither has a deadline: on a
shared, loaded machine a slow example is not a failure.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

settings.register_profile("quick", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=200, deadline=None)
settings.load_profile("quick")

EXHAUSTIVE_MODULES: set[str] = set()
"""Modules whose every test is exhaustive (none today: the mutant catalogue, which was the
slowest, runs as its own CI step, ``provkit mutants``)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in EXHAUSTIVE_MODULES:
            item.add_marker(pytest.mark.exhaustive)
