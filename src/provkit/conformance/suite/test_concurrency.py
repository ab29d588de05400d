"""Concurrency: tasks hammer one provider at once, then the recorded history is checked.

N tasks call both queues at random for T seconds (``--provkit-concurrency-tasks``,
``--provkit-concurrency-seconds``) or until they made 20,000 calls (3,000 without an injected
clock, whose locks last a second), recording when each call started and ended; the queues are
then drained. The checker classifies every message as lost, unexpected or duplicated (Jepsen's
total-queue checker) and looks for overlapping holders, deliveries after an ack, batches out of
order or incomplete, fetches that miss visible work, dead tokens and wrong attempt counts.
"""

from __future__ import annotations

import pytest

from provkit.conformance._hammer import Plan, hammer
from provkit.conformance._history_check import check_history
from provkit.conformance._history_report import render
from provkit.conformance._timing import SuiteClock
from provkit.contract import Provider

pytestmark = [pytest.mark.concurrency, pytest.mark.asyncio]


# Rejects: check-then-set claims (two holders of one instance or item), messages lost or
# delivered twice under contention, a loser returning None while work waits, acks of expired
# locks, attempt counts that drift under redelivery
async def test_concurrent_random_calls_leave_a_history_the_contract_allows(
    provider: Provider, clock: SuiteClock, concurrency_plan: Plan
) -> None:
    """Concurrent random calls on both queues leave a valid, fully drained history."""
    history = await hammer(provider, clock.manual, concurrency_plan)
    verdict = check_history(history)
    if verdict.valid is not True:
        pytest.fail(render(history, verdict, provider.name), pytrace=False)
    deliveries = [c for c in history.calls if c.kind == "fetch" and c.token is not None]
    assert deliveries, "no fetch delivered anything: the workload did not run"
