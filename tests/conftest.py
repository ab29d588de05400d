"""How hard provkit's own tests work by default, and what CI adds.

Tests marked ``exhaustive`` (a module marks itself with ``pytestmark``) are too slow for the
default run: ``pytest -q`` (the README's test command) deselects them and ``.ci/run`` runs
them with ``pytest -m exhaustive``.
Property tests without explicit settings run the ``quick`` Hypothesis profile (25 examples);
CI runs them again with ``--hypothesis-profile=thorough`` (200). Neither has a deadline: on a
shared, loaded machine a slow example is not a failure.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("quick", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=200, deadline=None)
settings.load_profile("quick")
