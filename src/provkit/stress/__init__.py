"""The stress runner: drive providers through the real runtime and measure them.

``run_stress_test(factory, config)`` runs one configuration; presets and TOML files describe
plans; ``stress-run`` (``provkit.stress.cli``) is the command line.
"""

from provkit.stress._config import (
    PRESETS,
    ConfigError,
    PayloadShape,
    StressConfig,
    StressPlan,
    load_plan,
)
from provkit.stress._instrument import InstrumentedProvider
from provkit.stress._launcher import Progress
from provkit.stress._preflight import (
    ProviderCheckError,
    ProviderCreationError,
    ProviderUnderTest,
    prepare,
)
from provkit.stress._runner import run_plan, run_stress_test, run_stress_test_sync
from provkit.stress._scenarios import SCENARIOS, Scenario
from provkit.stress._shared import SharedStoreFactory

__all__ = [
    "PRESETS",
    "SCENARIOS",
    "ConfigError",
    "InstrumentedProvider",
    "PayloadShape",
    "Progress",
    "ProviderCheckError",
    "ProviderCreationError",
    "ProviderUnderTest",
    "Scenario",
    "SharedStoreFactory",
    "StressConfig",
    "StressPlan",
    "load_plan",
    "prepare",
    "run_plan",
    "run_stress_test",
    "run_stress_test_sync",
]
