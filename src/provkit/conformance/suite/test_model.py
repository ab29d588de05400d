"""Model: random sequences of contract calls, every outcome checked against a model of the contract.

A Hypothesis state machine drives a fresh provider per example through enqueues (with and
without delays, timers), fetches, acks, abandons and renewals on both queues, history appends
and, for ``CLOCK`` providers, clock moves to deadlines and one millisecond before them. A small
executable model of the contract accepts exactly the outcomes the contract allows. A failure
shows the shrunk sequence as numbered calls and a script replaying it.
"""

from __future__ import annotations

import pytest

from provkit.conformance._model_machine import ModelFailure, ProviderHung, run_model
from provkit.conformance._settings import ModelBudget, SuiteSettings

pytestmark = [pytest.mark.model]


# Rejects: any bug a short sequence of calls shows: lost, duplicated or misordered messages,
# deadlines off by a millisecond, dead tokens accepted, attempt counts, non-atomic acks
def test_random_call_sequences_agree_with_the_contract_model(
    suite_settings: SuiteSettings, model_budget: ModelBudget
) -> None:
    """Random call sequences on both queues give only outcomes the contract allows."""
    try:
        run_model(suite_settings, model_budget)
    except (ModelFailure, ProviderHung) as failure:
        pytest.fail(str(failure), pytrace=False)
