"""The conformance suite and its pytest plugin (``pytest --provider=SPEC``).

Public: the suite's version and the types of the ``clock`` and ``timing`` fixtures, for
authors who add tests of their own beside the suite.
"""

import pytest

# Before anything imports them, so a failing assert in a suite helper explains itself.
pytest.register_assert_rewrite(
    "provkit.conformance.suite",
    "provkit.conformance._builders",
    "provkit.conformance._queues",
    "provkit.conformance._end_to_end",
)

from provkit.conformance._timing import SuiteClock, Timing  # noqa: E402

SUITE_VERSION = "1.0.0"
"""Version of the conformance suite; reported in every run's summary."""

__all__ = [
    "SUITE_VERSION",
    "SuiteClock",
    "Timing",
]
