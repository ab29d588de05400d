"""Which of provkit's own tests are ``exhaustive``: too slow for the default run, run by CI.

``pytest -q`` (the README's test command) deselects them; ``.ci/run`` runs them with
``pytest -m exhaustive``.
"""

from __future__ import annotations

import pytest

EXHAUSTIVE_MODULES = {"test_broken_providers.py"}
"""Modules whose every test is exhaustive: one whole-category suite run per broken provider."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in EXHAUSTIVE_MODULES:
            item.add_marker(pytest.mark.exhaustive)
