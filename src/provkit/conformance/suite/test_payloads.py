"""Payloads: ids, names and payloads of any size and any text are stored byte-exact.

Empty, 1 MiB and 10 MiB payloads; emoji, right-to-left text, combining marks, NUL,
newlines, quotes and SQL metacharacters in instance ids, orchestration names, versions,
queue names and every payload field, through both queues and history.
"""

from __future__ import annotations

import pytest

from provkit.conformance._builders import (
    ack,
    activity_done,
    commit_turn,
    fetch,
    lock_instance,
    must_fetch,
    must_fetch_work,
    scheduled,
)
from provkit.conformance._timing import Timing
from provkit.contract import ExecutionMetadata, Provider
from provkit.contract import events as ev
from provkit.contract import messages as msg

pytestmark = [pytest.mark.payloads, pytest.mark.asyncio]

MIB = 1024 * 1024

TEXTS = {
    "emoji": "🙂👍🏽👨‍👩‍👧 🏳️‍🌈",
    "rtl": "שלום עולם، مرحبا بالعالم",
    "combining": "e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937",
    "nul": "before\x00after\x00",
    "newlines": "line 1\nline 2\r\nline 3\r",
    "quotes": "'single' \"double\" `back` \\ backslash",
    "sql": "x'); DROP TABLE history; -- % _ * ? [a-z] $1 :name",
    "json": '{"type": "StartOrchestration", "instance": "x"}',
}
"""Texts each used as an id, a name and a payload."""


def sized(size: int) -> str:
    """A string of exactly ``size`` UTF-8 bytes mixing ASCII, NUL, emoji and accents."""
    unit = "abc\x00é🙂\n'\""
    text = unit * (size // len(unit.encode()))
    return text + "x" * (size - len(text.encode()))


SIZES = {"0B": 0, "1MiB": MIB}
"""Sizes every payload test runs; 10 MiB has tests of its own (it is slow everywhere)."""

PAYLOADS = [pytest.param(text, id=name) for name, text in TEXTS.items()] + [
    pytest.param(sized(size), id=name) for name, size in SIZES.items()
]
IDS = [pytest.param(f"inst-{text}", id=name) for name, text in TEXTS.items()] + [
    pytest.param("", id="empty"),
    pytest.param("x" * 1000, id="1000-chars"),
]


def start(instance: str, input: str = "in") -> msg.StartOrchestration:
    """A start of ``instance`` with ``input``."""
    return msg.StartOrchestration(
        instance=instance, orchestration="Orchestration", input=input, version="1"
    )


# Rejects: ids truncated, re-encoded, or used unescaped in queries
@pytest.mark.parametrize("instance", IDS)
async def test_instance_ids_round_trip_through_both_queues_and_history(
    provider: Provider, timing: Timing, instance: str
) -> None:
    """An odd instance id comes back exactly from fetch, read, worker items and completions."""
    events = [ev.OrchestrationStarted(event_id=1, name="O", version="1", input="in")]
    item = await lock_instance(provider, start(instance), timing.long_lock)
    work = msg.ActivityExecute(instance=instance, execution_id=1, id=2, name="A", input="i")
    await ack(provider, item, events, worker_items=[work])

    lease = await must_fetch_work(provider, timing.long_lock)
    await provider.ack_work_item(lease.lock_token, activity_done(instance, 2))
    completion = await must_fetch(provider, timing.long_lock)

    assert item.instance == instance
    assert await provider.read(instance) == events
    assert await provider.list_executions(instance) == [1]
    assert lease.item == work
    assert (completion.instance, completion.messages) == (instance, [activity_done(instance, 2)])


# Rejects: names and versions mangled between the ack that stores them and the next fetch
@pytest.mark.parametrize("text", PAYLOADS)
async def test_orchestration_name_and_version_round_trip(
    provider: Provider, timing: Timing, text: str
) -> None:
    """A name and version of odd text, stored by an ack, come back exactly on the next fetch."""
    metadata = ExecutionMetadata(orchestration_name=text, orchestration_version=text[::-1])
    await commit_turn(provider, start("inst-a"), timing.long_lock, metadata=metadata)
    await provider.enqueue_for_orchestrator(
        msg.ExternalRaised(instance="inst-a", name=text, data=text)
    )

    item = await must_fetch(provider, timing.long_lock)

    assert (item.orchestration_name, item.version) == (text, text[::-1])
    assert item.messages == [msg.ExternalRaised(instance="inst-a", name=text, data=text)]


# Rejects: history payloads truncated (e.g. at 64 KiB) or altered on the way through storage
@pytest.mark.parametrize("payload", PAYLOADS)
async def test_history_payloads_round_trip(
    provider: Provider, timing: Timing, payload: str
) -> None:
    """Events carrying the payload, stored by ack and by append, read back exactly."""
    acked = [
        ev.OrchestrationStarted(event_id=1, name="O", version="1", input=payload),
        ev.ActivityScheduled(event_id=2, name=payload[:100], input=payload),
    ]
    appended = [ev.ActivityCompleted(event_id=3, source_event_id=2, result=payload)]
    await commit_turn(provider, start("inst-a"), timing.long_lock, acked)
    await provider.append_history("inst-a", 1, appended)

    assert await provider.read("inst-a") == acked + appended
    assert await provider.read_execution("inst-a", 1) == acked + appended


# Rejects: orchestrator messages whose payload fields are truncated or altered
@pytest.mark.parametrize("payload", PAYLOADS)
async def test_orchestrator_message_payloads_round_trip(
    provider: Provider, timing: Timing, payload: str
) -> None:
    """A start input and an external event's name and data come back exactly, in order."""
    messages = [
        start("inst-a", input=payload),
        msg.ExternalRaised(instance="inst-a", name=payload[:100], data=payload),
    ]
    for message in messages:
        await provider.enqueue_for_orchestrator(message)

    item = await must_fetch(provider, timing.long_lock)

    assert item.messages == messages


# Rejects: worker item fields (name, input, queue) truncated or altered
@pytest.mark.parametrize("payload", PAYLOADS)
async def test_worker_item_payloads_round_trip(
    provider: Provider, timing: Timing, payload: str
) -> None:
    """An activity's name, input and queue carrying the payload come back exactly."""
    item = msg.ActivityExecute(
        instance="inst-a",
        execution_id=1,
        id=1,
        name=payload[:100],
        input=payload,
        queue=payload[:50],
    )
    await provider.enqueue_for_worker(item)

    lease = await must_fetch_work(provider, timing.long_lock)

    assert lease.item == item


# Rejects: completions whose results are truncated between worker ack and orchestrator fetch
@pytest.mark.parametrize("payload", PAYLOADS)
async def test_activity_results_round_trip_through_the_worker_ack(
    provider: Provider, timing: Timing, payload: str
) -> None:
    """The completion a worker ack enqueues carries its result exactly to the next fetch."""
    await provider.enqueue_for_worker(
        msg.ActivityExecute(instance="inst-a", execution_id=1, id=1, name="A", input="i")
    )
    lease = await must_fetch_work(provider, timing.long_lock)

    await provider.ack_work_item(lease.lock_token, activity_done("inst-a", 1, payload))

    item = await must_fetch(provider, timing.long_lock)
    assert item.messages == [activity_done("inst-a", 1, payload)]


# Rejects: large batches whose messages are mixed up, dropped or reordered
async def test_a_batch_of_large_messages_arrives_whole_and_in_order(
    provider: Provider, timing: Timing
) -> None:
    """Five 1 MiB signals sent by one ack form one batch, exactly and in order."""
    signals = [
        msg.ExternalRaised(instance="inst-b", name=f"s{n}", data=sized(MIB) + str(n))
        for n in range(5)
    ]
    await commit_turn(
        provider, start("inst-a"), timing.long_lock, [scheduled(1)], orchestrator_items=signals
    )

    item = await must_fetch(provider, timing.long_lock)

    assert (item.instance, item.messages) == ("inst-b", signals)
    assert await fetch(provider, timing.long_lock) is None


# Rejects: a size limit (column type, packet size) below 10 MiB on history
async def test_ten_mib_history_event_round_trips(provider: Provider, timing: Timing) -> None:
    """An event with a 10 MiB input, stored by an ack, reads back exactly."""
    events = [ev.OrchestrationStarted(event_id=1, name="O", version="1", input=sized(10 * MIB))]

    await commit_turn(provider, start("inst-a"), timing.long_lock, events)

    assert await provider.read("inst-a") == events


# Rejects: a size limit below 10 MiB on either queue
async def test_ten_mib_messages_round_trip_through_both_queues(
    provider: Provider, timing: Timing
) -> None:
    """A 10 MiB worker item input and a 10 MiB activity result come back exactly."""
    payload = sized(10 * MIB)
    item = msg.ActivityExecute(instance="inst-a", execution_id=1, id=1, name="A", input=payload)
    await provider.enqueue_for_worker(item)
    lease = await must_fetch_work(provider, timing.long_lock)

    await provider.ack_work_item(lease.lock_token, activity_done("inst-a", 1, payload[::-1]))

    completion = await must_fetch(provider, timing.long_lock)
    assert lease.item == item
    assert completion.messages == [activity_done("inst-a", 1, payload[::-1])]
