"""The conformance suite and its pytest plugin (``pytest --provider=SPEC``)."""

from provkit.conformance._settings import SuiteSettings
from provkit.conformance._timing import SuiteClock, Timing

SUITE_VERSION = "1.0.0"
"""Version of the conformance suite; reported in every run's summary."""

__all__ = ["SUITE_VERSION", "SuiteClock", "SuiteSettings", "Timing"]
