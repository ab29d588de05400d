"""Task queues through the runtime: activities scheduled on a queue run only where it is served."""

from __future__ import annotations

import pytest
from _runtime_support import FAST, Store

from provkit.contract import Capability
from provkit.contract.events import ActivityScheduled
from provkit.reference_providers import MemoryProvider
from provkit.runtime import Client, OrchestrationContext, Runtime

pytestmark = pytest.mark.asyncio


async def render_and_mail(ctx: OrchestrationContext, frame: int) -> list[str]:
    return list(
        await ctx.when_all(
            [
                ctx.schedule_activity("render", frame, queue="gpu"),
                ctx.schedule_activity("mail", frame),
            ]
        )
    )


def where(runtime_name: str) -> dict[str, object]:
    """Activities that report which runtime ran them."""

    async def render(frame: int) -> str:
        return f"frame {frame} rendered on {runtime_name}"

    async def mail(frame: int) -> str:
        return f"frame {frame} mailed from {runtime_name}"

    return {"render": render, "mail": mail}


async def test_each_runtime_runs_only_the_queues_it_serves(store: Store) -> None:
    """A gpu runtime runs the gpu activity, a default one the other; history records queues."""
    provider = store.provider
    client = Client(provider)
    orchestrations = {"render_and_mail": render_and_mail}
    async with (
        Runtime(
            provider,
            orchestrations=orchestrations,
            options=FAST,
            queues=["default"],
            activities=where("cpu"),
        ),
        Runtime(provider, options=FAST, queues={"gpu"}, activities=where("gpu")),
    ):
        await client.start_orchestration("job-1", "render_and_mail", 7)
        state = await client.wait_for_orchestration("job-1", timeout=10)

    assert state.output == ["frame 7 rendered on gpu", "frame 7 mailed from cpu"]
    scheduled = [e for e in await provider.read("job-1") if isinstance(e, ActivityScheduled)]
    assert sorted((e.name, e.queue) for e in scheduled) == [("mail", "default"), ("render", "gpu")]


async def test_an_unserved_queue_waits_for_its_runtime(store: Store) -> None:
    """With no runtime serving gpu, the gpu item stays queued and the instance keeps running."""
    provider = store.provider
    client = Client(provider)
    async with Runtime(
        provider,
        orchestrations={"render_and_mail": render_and_mail},
        activities=where("cpu"),
        options=FAST,
        queues=["default"],
    ):
        await client.start_orchestration("job-2", "render_and_mail", 1)
        with pytest.raises(TimeoutError):
            await client.wait_for_orchestration("job-2", timeout=0.5)

    lease = await provider.fetch_work_item_from(["gpu"], 30.0)
    assert lease is not None
    assert (lease.item.name, lease.item.queue, lease.item.instance) == ("render", "gpu", "job-2")


async def test_choosing_queues_needs_the_capability() -> None:
    """A Runtime serving chosen queues of a provider without TASK_QUEUES is refused at once."""
    provider = MemoryProvider()
    assert Capability.TASK_QUEUES not in provider.capabilities
    with pytest.raises(ValueError, match=r"Capability\.TASK_QUEUES"):
        Runtime(provider, queues=["gpu"])
    with pytest.raises(TypeError, match="collection of queue names"):
        Runtime(provider, queues="gpu")
    await provider.close()
