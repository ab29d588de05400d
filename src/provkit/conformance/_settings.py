"""Settings of one conformance run, parsed by the plugin and read by the fixtures."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from provkit.contract import Capability, ProviderFactory

BASE_OP_TIMEOUT = 10.0
"""Seconds a single provider call may take at ``--provkit-timescale=1``."""


@dataclass(frozen=True, slots=True)
class SuiteSettings:
    """What ``--provider`` and the other options resolved to.

    ``timescale`` multiplies every lock timeout and wait of the suite; ``op_timeout`` is the
    longest a single provider call may take before its test fails (already scaled).
    ``provider_name`` and ``capabilities`` are those of a provider the factory made when the
    run started.
    """

    factory: ProviderFactory
    provider_spec: str
    timescale: float = 1.0
    op_timeout: float = BASE_OP_TIMEOUT
    provider_name: str = ""
    capabilities: frozenset[Capability] = frozenset()


SETTINGS_KEY = pytest.StashKey[SuiteSettings]()
"""The settings of the run's first (usually only) provider."""

TARGETS_KEY = pytest.StashKey[dict[str, SuiteSettings]]()
"""Every provider of the run, by the spec given for it (``--provider`` given several times)."""

TARGET_PARAM = "_provkit_target"
"""The fixture (and test parameter, with several providers) naming a test's provider."""


@dataclass(frozen=True, slots=True)
class ModelBudget:
    """How hard the ``model`` category searches: examples, steps per example, and the seed."""

    examples: int = 100
    steps: int = 40
    seed: int = 0


@dataclass(frozen=True, slots=True)
class ConcurrencyBudget:
    """How hard the ``concurrency`` category hammers: concurrent tasks and seconds of calls."""

    tasks: int = 8
    seconds: float = 5.0


MODEL_KEY = pytest.StashKey[ModelBudget]()
CONCURRENCY_KEY = pytest.StashKey[ConcurrencyBudget]()
