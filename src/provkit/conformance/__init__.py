"""The conformance suite and its pytest plugin (``pytest --provider=SPEC``)."""

import pytest

# Before anything imports them, so a failing assert in a suite helper explains itself.
pytest.register_assert_rewrite("provkit.conformance.suite", "provkit.conformance._builders")

from provkit._provider_spec import ProviderSpecError, load_factory  # noqa: E402
from provkit.conformance._settings import SuiteSettings  # noqa: E402
from provkit.conformance._timing import SuiteClock, Timing  # noqa: E402

SUITE_VERSION = "1.0.0"
"""Version of the conformance suite; reported in every run's summary."""

__all__ = [
    "SUITE_VERSION",
    "ProviderSpecError",
    "SuiteClock",
    "SuiteSettings",
    "Timing",
    "load_factory",
]
