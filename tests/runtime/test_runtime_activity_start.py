"""How the worker starts one activity execution: eager async tasks, the pool, start failures."""

from __future__ import annotations

import asyncio
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from provkit.runtime._dispatch_worker import start_activity

EAGER = sys.version_info >= (3, 12)


@pytest.mark.asyncio
async def test_an_activity_that_does_not_wait_is_done_at_once_on_eager_pythons() -> None:
    """An async activity returning without awaiting is finished when start returns (3.12+)."""
    # Rejects: a start that always schedules a task, paying a loop round trip per activity.

    async def double(value: int) -> int:
        return value * 2

    with ThreadPoolExecutor(1) as pool:
        execution = start_activity(double, 21, pool)
        assert execution.done() is EAGER
        assert await execution == 42


@pytest.mark.asyncio
async def test_a_waiting_activity_runs_as_its_own_task() -> None:
    """An activity that waits is the current task while it runs, not the worker slot."""
    # Rejects: stepping the activity inside the slot's task, where asyncio.timeout() in the
    # activity would cancel the slot.
    seen: list[Any] = []

    async def waits(_: Any) -> str:
        seen.append(asyncio.current_task())
        await asyncio.sleep(0)
        seen.append(asyncio.current_task())
        return "done"

    with ThreadPoolExecutor(1) as pool:
        execution = start_activity(waits, None, pool)
        assert await execution == "done"
    assert seen == [execution, execution]
    assert execution is not asyncio.current_task()


@pytest.mark.asyncio
async def test_a_plain_function_runs_in_the_pool() -> None:
    """A plain (blocking) activity runs on a pool thread, never on the event loop's."""
    # Rejects: calling blocking activities inline on the loop.
    with ThreadPoolExecutor(1, thread_name_prefix="activity-pool") as pool:
        execution = start_activity(lambda _: threading.current_thread().name, None, pool)
        assert (await execution).startswith("activity-pool")


@pytest.mark.asyncio
async def test_an_activity_that_cannot_start_fails_its_execution() -> None:
    """A call that raises (wrong signature) is the execution's failure, not the slot's."""
    # Rejects: letting a start error escape to the slot, which would abandon and redeliver.

    async def two_arguments(first: Any, second: Any) -> None:
        return None

    with ThreadPoolExecutor(1) as pool:
        execution = start_activity(two_arguments, None, pool)
    assert execution.done()
    assert isinstance(execution.exception(), TypeError)
