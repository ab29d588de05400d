"""The ``model`` category: its contract model judges outcomes exactly, and a run finds a bug.

The model is checked directly on hand-made outcomes (deadlines to the millisecond, "oldest",
whole batches, what an unknown moment allows). One in-process run at the default budget finds
a seeded one-bug provider, prints the numbered calls and a replay script, and that script
fails against the bug at the step named and passes against the correct provider.
"""

from __future__ import annotations

import re

import pytest

from provkit._provider_spec import load_factory
from provkit.conformance._contract_model import (
    NO_MESSAGE_LOST,
    OLDEST_FIRST,
    TOKENS,
    ContractModel,
    Raised,
    Returned,
    Violation,
    Window,
)
from provkit.conformance._layout import SUITE_DIR
from provkit.conformance._model_machine import START_MS, ModelFailure, machine_for
from provkit.conformance._settings import ModelBudget, SuiteSettings
from provkit.contract import LockLostError, OrchestrationItem, WorkLease
from provkit.contract.messages import ActivityExecute, ExternalRaised, OrchestratorMessage

T0 = START_MS
MODEL_TESTS = str(SUITE_DIR / "test_model.py")
"""In-process runs collect only the category's module: collecting the whole suite costs more.

Importing the machine here (and with it Hypothesis) keeps those runs from importing, and
assertion-rewriting, Hypothesis again each time: pytester drops what a run imported.
"""


def at(offset_ms: int) -> Window:
    return Window(T0 + offset_ms, T0 + offset_ms)


def message(instance: str, label: str) -> ExternalRaised:
    return ExternalRaised(instance=instance, name="model", data=label)


def item(instance: str, messages: list[OrchestratorMessage], token: str) -> OrchestrationItem:
    return OrchestrationItem(
        instance=instance,
        orchestration_name=None,
        version=None,
        execution_id=1,
        history=[],
        messages=messages,
        lock_token=token,
        attempt_count=1,
    )


def leased(model: ContractModel, lock_ms: int) -> str:
    """Enqueue one worker item at T+0 and lease it for ``lock_ms``; the lease's token."""
    work = ActivityExecute(instance="a", execution_id=1, id=1, name="A", input="w1")
    model.observe_enqueue_work(1, at(0), work, "w1", Returned(None))
    lease = WorkLease(item=work, lock_token="t1", attempt_count=1)
    model.observe_fetch_work(2, at(0), lock_ms, Returned(lease))
    return "t1"


@pytest.mark.parametrize(
    ("offset", "outcome", "verdict"),
    [
        pytest.param(29, Returned(None), None, id="held-1ms-before-expiry-ack-succeeds"),
        pytest.param(29, Raised(LockLostError("ack", "gone")), TOKENS, id="held-refused"),
        pytest.param(30, Raised(LockLostError("ack", "gone")), None, id="expired-refused"),
        pytest.param(30, Returned(None), TOKENS, id="expired-accepted"),
    ],
)
def test_a_lease_is_live_until_the_millisecond_of_its_expiry(
    offset: int, outcome: Returned | Raised, verdict: str | None
) -> None:
    """A 30 ms lease taken at T+0 must ack at T+29 and must refuse at T+30."""
    model = ContractModel(T0)
    token = leased(model, 30)
    if verdict is None:
        model.observe_ack_work(3, at(offset), token, None, outcome)
        return
    with pytest.raises(Violation) as raised:
        model.observe_ack_work(3, at(offset), token, None, outcome)
    assert raised.value.prop == verdict


def test_an_unknown_moment_allows_either_outcome() -> None:
    """Without a clock, an ack whose window spans the expiry may succeed or raise."""
    for outcome in (Returned(None), Raised(LockLostError("ack_work_item", "expired"))):
        model = ContractModel(T0)
        token = leased(model, 30)
        model.observe_ack_work(3, Window(T0 + 25, T0 + 35), token, None, outcome)


def test_the_oldest_visible_message_decides_and_ties_go_by_enqueue_order() -> None:
    """Same-millisecond messages for b then a: the fetch must lock b; locking a is a violation."""
    model = ContractModel(T0)
    model.observe_enqueue(1, at(0), message("b", "m1"), "m1", None, Returned(None))
    model.observe_enqueue(2, at(0), message("a", "m2"), "m2", None, Returned(None))
    wrong = Returned(item("a", [message("a", "m2")], "t1"))
    with pytest.raises(Violation) as raised:
        model.observe_fetch(3, at(0), 30, wrong)
    assert raised.value.prop == OLDEST_FIRST
    assert "'b' holds an older visible message: m1" in raised.value.message
    assert raised.value.expect == "{r} is not None and {r}.instance in ['b']"


def test_a_batch_must_hold_every_visible_message_of_its_instance() -> None:
    """A batch that leaves out a visible message of the locked instance loses it."""
    model = ContractModel(T0)
    model.observe_enqueue(1, at(0), message("a", "m1"), "m1", None, Returned(None))
    model.observe_enqueue(2, at(1), message("a", "m2"), "m2", None, Returned(None))
    partial = Returned(item("a", [message("a", "m1")], "t1"))
    with pytest.raises(Violation) as raised:
        model.observe_fetch(3, at(1), 30, partial)
    assert (raised.value.prop, "leaves out m2" in raised.value.message) == (NO_MESSAGE_LOST, True)


def replay(text: str, spec: str | None = None) -> None:
    """Run the replay script a report ends with, against ``spec`` instead if given."""
    script_lines = []
    for line in text.split("run `python replay.py`", 1)[1].splitlines()[2:]:
        if line and not line.startswith("    "):
            break  # the end of the report's indented script
        script_lines.append(line[4:])
    script = "\n".join(script_lines)
    if spec is not None:
        script, count = re.subn(r"^SPEC = .*$", f"SPEC = {spec!r}", script, flags=re.MULTILINE)
        assert count == 1
    exec(compile(script, "replay.py", "exec"), {"__name__": "__main__"})


def test_a_counterexample_lists_the_calls_and_replays_to_the_failing_step(
    pytester: pytest.Pytester,
) -> None:
    """Lease, jump to its expiry, ack: the report numbers the calls; its script fails at step 4."""
    pytester.copy_example("one_bug_providers.py")
    pytester.syspathinsert()
    spec = "one_bug_providers:LeaseLiveAtExpiry"
    suite = SuiteSettings(factory=load_factory(spec, pytester.path), provider_spec=spec)
    machine = machine_for(suite, ModelBudget())()
    machine.enqueue_for_worker(key=("a", 1, 1))
    machine.fetch_work_item(lock=0)
    machine.move_the_clock(move="deadline", choice=0)
    with pytest.raises(ModelFailure) as failed:
        machine.ack_work_item(token=0, completion=None)
    machine.teardown()

    text = str(failed.value)
    assert text.splitlines()[:10] == [
        "the provider broke the contract at step 4 of this sequence (lock tokens):",
        "",
        "    1. enqueue_for_worker(ActivityExecute(instance='a', execution_id=1, id=1, "
        "name='ModelActivity', input='w1'))",
        "       -> None",
        "    2. r2 = fetch_work_item(0.03)",
        "       -> leased w1 ('a', execution 1, activity 1), attempt 1",
        "    3. clock.set_ms(START_MS + 30)",
        "       -> now T+30",
        "    4. ack_work_item(r2.lock_token, None)",
        "       -> None",
    ]
    assert "✗ ack_work_item succeeded, but the token expired at T+30 (now T+30)" in text
    with pytest.raises(AssertionError) as replayed:
        replay(text)
    assert replayed.value.args[0][0].startswith("step 4: lock tokens: ack_work_item succeeded")
    replay(text, "provkit.reference_providers.memory:MemoryFactory")


@pytest.mark.exhaustive
def test_the_model_finds_a_seeded_bug_within_its_default_budget(
    pytester: pytest.Pytester,
) -> None:
    """Default budget against a lease live at its expiry: found, shown, and replayable."""
    pytester.copy_example("one_bug_providers.py")
    pytester.syspathinsert()
    reprec = pytester.inline_run(
        "--provider=one_bug_providers:LeaseLiveAtExpiry", MODEL_TESTS, "-p", "no:cacheprovider"
    )
    failed = [r for r in reprec.getreports("pytest_runtest_logreport") if r.failed]
    assert [r.nodeid.split("::")[-1] for r in failed] == [
        "test_random_call_sequences_agree_with_the_contract_model"
    ]
    text = failed[0].longreprtext
    header = re.search(r"broke the contract at step (\d+) of this sequence \(lock tokens\)", text)
    assert header is not None, text
    step = int(header.group(1))
    calls = text[header.end() : text.index("found with --provkit-model-seed=0")]
    numbered = re.findall(r"^ +(\d+)\. ", calls, flags=re.MULTILINE)
    assert [int(n) for n in numbered] == list(range(1, step + 1)), text
    # The bug only shows at the expiry millisecond: the report must name that moment.
    boundary = re.search(r"succeeded, but the token expired at T\+(\d+) \(now T\+(\d+)\)", text)
    assert boundary is not None, text
    assert boundary.group(1) == boundary.group(2), text

    with pytest.raises(AssertionError) as replayed:
        replay(text)
    reason = replayed.value.args[0][0]
    assert reason.startswith(f"step {step}: lock tokens:"), reason
    replay(text, "provkit.reference_providers.memory:MemoryFactory")


def test_the_model_passes_the_in_memory_reference_provider(pytester: pytest.Pytester) -> None:
    """A short in-process run against ``memory`` passes (CI runs the whole suite, this
    category included, against every reference provider)."""
    reprec = pytester.inline_run(
        "--provider=memory", MODEL_TESTS, "--provkit-model-examples=10", "-p", "no:cacheprovider"
    )
    reprec.assertoutcome(passed=1)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--provkit-model-examples=0", "--provkit-model-examples must be at least 1, got 0"),
        ("--provkit-model-steps=-2", "--provkit-model-steps must be at least 1, got -2"),
        ("--provkit-concurrency-seconds=0", "--provkit-concurrency-seconds must be a positive"),
    ],
)
def test_a_bad_budget_is_a_one_line_usage_error(
    pytester: pytest.Pytester, option: str, message: str
) -> None:
    """A budget option out of range stops the run before it starts, naming the option."""
    result = pytester.runpytest_inprocess("--provider=memory", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any(message in line for line in result.stderr.lines), result.stderr.lines
