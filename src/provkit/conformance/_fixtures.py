"""Fixtures every suite test uses: a fresh guarded provider, its clock and the timings.

Registered as a plugin only when ``--provider`` is given, so without it these names never
shadow or clash with a project's own fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import pytest_asyncio

from provkit.conformance._call_log import CALL_LOG_KEY, CallLog
from provkit.conformance._capability_gate import require
from provkit.conformance._guard import GuardedProvider, close_provider, open_provider
from provkit.conformance._hammer import Plan
from provkit.conformance._settings import (
    CONCURRENCY_KEY,
    MODEL_KEY,
    SETTINGS_KEY,
    TARGET_PARAM,
    TARGETS_KEY,
    ModelBudget,
    SuiteSettings,
)
from provkit.conformance._timing import SuiteClock, Timing
from provkit.contract import (
    Capability,
    ClockControl,
    Deletion,
    FaultInjection,
    Management,
    ManualClock,
    Provider,
    Prune,
    TaskQueues,
)


@pytest.fixture(autouse=True)
def _provkit_target(request: pytest.FixtureRequest) -> SuiteSettings:
    """The provider this test runs against: the only one, or its parameter with several."""
    spec: str | None = getattr(request, "param", None)
    if spec is None:
        return request.config.stash[SETTINGS_KEY]
    return request.config.stash[TARGETS_KEY][spec]


def _settings(request: pytest.FixtureRequest) -> SuiteSettings:
    settings: SuiteSettings = request.getfixturevalue(TARGET_PARAM)
    return settings


@pytest_asyncio.fixture(loop_scope="function")
async def _provider_under_test(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """The raw provider of this test, disposed of afterwards even when the test failed."""
    settings = _settings(request)
    raw = await open_provider(settings.factory, settings.op_timeout)
    try:
        yield raw
    finally:
        await close_provider(settings.factory, raw, settings.op_timeout)


@pytest.fixture
def clock(_provider_under_test: Any) -> SuiteClock:
    """Moves provider time: an injected manual clock when the provider declares ``CLOCK``."""
    if Capability.CLOCK in _provider_under_test.capabilities:
        manual = ManualClock()
        cast(ClockControl, _provider_under_test).set_clock(manual)
        return SuiteClock(manual)
    return SuiteClock(None)


@pytest.fixture
def timing(request: pytest.FixtureRequest, clock: SuiteClock) -> Timing:
    """Lock timeouts and waits for this test, scaled by ``--provkit-timescale``."""
    return Timing.for_run(_settings(request).timescale, clock.is_manual)


@pytest.fixture
def provider(
    request: pytest.FixtureRequest, _provider_under_test: Any, clock: SuiteClock
) -> Provider:
    """A fresh provider for this test whose calls fail the test if they hang.

    Its calls are logged with their results; a failure report shows them.
    """
    log = request.node.stash.setdefault(CALL_LOG_KEY, CallLog())
    guarded = GuardedProvider(_provider_under_test, _settings(request).op_timeout, log)
    return cast(Provider, guarded)


# The capability views below are the same guarded provider, typed as the capability's
# protocol; each skips its test (naming the capability) when the provider lacks it.


@pytest.fixture
def management(provider: Provider) -> Management:
    """The provider as ``Management``; needs ``Capability.MANAGEMENT``."""
    require(provider, Capability.MANAGEMENT)
    return cast(Management, provider)


@pytest.fixture
def deletion(provider: Provider) -> Deletion:
    """The provider as ``Deletion``; needs ``Capability.DELETION``."""
    require(provider, Capability.DELETION)
    return cast(Deletion, provider)


@pytest.fixture
def pruning(provider: Provider) -> Prune:
    """The provider as ``Prune``; needs ``Capability.PRUNE``."""
    require(provider, Capability.PRUNE)
    return cast(Prune, provider)


@pytest.fixture
def task_queues(provider: Provider) -> TaskQueues:
    """The provider as ``TaskQueues``; needs ``Capability.TASK_QUEUES``."""
    require(provider, Capability.TASK_QUEUES)
    return cast(TaskQueues, provider)


@pytest.fixture
def faults(provider: Provider) -> FaultInjection:
    """The provider's fault-injection hooks; needs ``Capability.FAULT_INJECTION``."""
    require(provider, Capability.FAULT_INJECTION)
    return cast(FaultInjection, provider)


@pytest_asyncio.fixture(loop_scope="function")
async def end_to_end(
    request: pytest.FixtureRequest, _provider_under_test: Any
) -> AsyncIterator[Any]:
    """The ``end_to_end`` category's world: runtimes, a client and a jumping clock.

    Imports the runtime only when an end-to-end test asks for it.
    """
    from provkit.conformance._end_to_end import EndToEnd

    settings = _settings(request)
    world = EndToEnd(
        _provider_under_test, timescale=settings.timescale, op_timeout=settings.op_timeout
    )
    try:
        yield world
    finally:
        await world.close()


@pytest.fixture
def suite_settings(request: pytest.FixtureRequest) -> SuiteSettings:
    """The run's settings: the factory (for tests that need a provider per example) and more."""
    return _settings(request)


@pytest.fixture
def model_budget(request: pytest.FixtureRequest) -> ModelBudget:
    """How hard the ``model`` category searches (``--provkit-model-*``)."""
    return request.config.stash[MODEL_KEY]


@pytest.fixture
def concurrency_plan(request: pytest.FixtureRequest, clock: SuiteClock) -> Plan:
    """The ``concurrency`` category's workload: tasks, seconds and durations for this provider."""
    budget = request.config.stash[CONCURRENCY_KEY]
    return Plan.for_run(budget.tasks, budget.seconds, clock.is_manual, _settings(request).timescale)
