"""Wrapping providers: the structural check, ``ProviderWrapper`` and the dispose rule.

Runs on every supported Python: from 3.12 ``isinstance`` against a runtime-checkable
protocol no longer sees ``__getattr__``-forwarded methods, so the runtime must not rely on it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from provkit.contract import (
    Capability,
    ManualClock,
    Provider,
    ProviderWrapper,
    TransientError,
    check_provider,
    dispose_provider,
    missing_members,
)
from provkit.contract import events as ev
from provkit.contract import messages as msg
from provkit.reference_providers import SqliteProvider
from provkit.runtime import Client, OrchestrationContext, Runtime, RuntimeOptions

FAST = RuntimeOptions(poll_interval=0.05, shutdown_grace=2.0)
STARTED = ev.OrchestrationStarted(event_id=1, name="o", version="1", input="1")


class Forwarding:
    """A wrapper as provider authors write it by hand: everything through ``__getattr__``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Recording(ProviderWrapper):
    """Logs every forwarded call with its arguments."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def forward(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((operation, args))
        return await super().forward(operation, *args, **kwargs)


@pytest_asyncio.fixture
async def sqlite() -> AsyncIterator[SqliteProvider]:
    provider = await SqliteProvider.open_memory()
    async with provider:
        yield provider


async def double(ctx: OrchestrationContext, x: int) -> int:
    result: int = await ctx.schedule_activity("double", x)
    return result


async def double_activity(x: int) -> int:
    return 2 * x


async def run_double(provider: Any, observer: Provider, instance: str) -> Any:
    async with Runtime(
        provider,
        orchestrations={"double": double},
        activities={"double": double_activity},
        options=FAST,
    ):
        client = Client(observer)
        await client.start_orchestration(instance, "double", 21)
        return await client.wait_for_orchestration(instance, timeout=10)


@pytest.mark.asyncio
async def test_runtime_runs_a_provider_forwarded_through_getattr(sqlite: SqliteProvider) -> None:
    """A hand-written ``__getattr__`` wrapper passes the runtime's check and runs to the end."""
    state = await run_double(Forwarding(sqlite), sqlite, "fwd-1")
    assert (state.status.value, state.output) == ("Completed", 42)


@pytest.mark.asyncio
async def test_runtime_runs_a_provider_wrapper_and_every_call_is_forwarded(
    sqlite: SqliteProvider,
) -> None:
    """A ``ProviderWrapper`` subclass runs an orchestration; its ``forward`` sees the calls."""
    wrapped = Recording(sqlite)
    state = await run_double(wrapped, sqlite, "wrap-1")
    assert (state.status.value, state.output) == ("Completed", 42)
    operations = {name for name, _ in wrapped.calls}
    assert {"fetch_orchestration_item", "ack_orchestration_item", "ack_work_item"} <= operations


def test_provider_wrapper_defines_every_contract_member_itself() -> None:
    """No contract member of the wrapper depends on ``__getattr__`` (or the Python version)."""
    members = {name for name in vars(Provider) if not name.startswith("_")}
    assert members - set(vars(ProviderWrapper)) == set()

    class Named:
        name = "named"
        capabilities = frozenset()

    assert isinstance(ProviderWrapper(Named()), Provider)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_wrapper_forwards_contract_calls_with_arguments_in_contract_order(
    sqlite: SqliteProvider,
) -> None:
    """Defaults are filled in and keywords become positional before ``forward`` sees them."""
    wrapped = Recording(sqlite)
    start = msg.StartOrchestration(instance="i", orchestration="o", input="1")
    await wrapped.enqueue_for_orchestrator(start)
    item = await wrapped.fetch_orchestration_item(lock_timeout=5.0)
    assert item is not None
    assert [m.instance for m in item.messages] == ["i"]
    await wrapped.abandon_orchestration_item(item.lock_token, ignore_attempt=True)
    assert wrapped.calls == [
        ("enqueue_for_orchestrator", (start, None)),
        ("fetch_orchestration_item", (5.0, 0.0)),
        ("abandon_orchestration_item", (item.lock_token, None, True)),
    ]


@pytest.mark.asyncio
async def test_wrapper_forwards_name_capabilities_and_capability_methods(
    sqlite: SqliteProvider,
) -> None:
    """Capabilities are the inner provider's; async capability methods go through ``forward``."""
    wrapped = Recording(sqlite)
    assert (wrapped.name, wrapped.capabilities) == (sqlite.name, sqlite.capabilities)
    assert Capability.CLOCK in wrapped.capabilities
    clock = ManualClock(1_000)
    wrapped.set_clock(clock)  # synchronous: passed through as it is
    await sqlite.append_history("i", 1, [STARTED])
    await wrapped.corrupt_history("i", 1)
    assert wrapped.calls == [("corrupt_history", ("i", 1))]
    assert wrapped.inner is sqlite
    with pytest.raises(AttributeError):
        _ = wrapped.no_such_member


@pytest.mark.asyncio
async def test_a_subclass_overrides_one_operation_and_keeps_the_rest(
    sqlite: SqliteProvider,
) -> None:
    """Overriding one method changes that operation only; the others still reach ``inner``."""

    class NoHistory(ProviderWrapper):
        async def read(self, instance: str) -> list[Any]:
            return []

        capabilities = frozenset()

    wrapped = NoHistory(sqlite)
    await sqlite.append_history("i", 1, [STARTED])
    assert await wrapped.list_executions("i") == [1]
    assert await wrapped.read("i") == []
    assert wrapped.capabilities == frozenset()


def test_check_provider_names_every_missing_member() -> None:
    """An incomplete provider is refused with one error naming each member it lacks."""

    class Half:
        name = "half"
        capabilities = frozenset({Capability.CLOCK})

        async def read(self, instance: str) -> list[Any]:
            return []

        close = "not a method"

    assert missing_members(Half()) == [
        "abandon_orchestration_item",
        "abandon_work_item",
        "ack_orchestration_item",
        "ack_work_item",
        "append_history",
        "close",
        "enqueue_for_orchestrator",
        "enqueue_for_worker",
        "fetch_orchestration_item",
        "fetch_work_item",
        "list_executions",
        "read_execution",
        "renew_orchestration_item_lock",
        "renew_work_item_lock",
        "set_clock (declares clock)",
    ]
    with pytest.raises(TypeError, match=r"lacks abandon_orchestration_item, .*_lock$"):
        check_provider(Half())


def test_runtime_refuses_an_incomplete_provider_naming_what_is_missing() -> None:
    """``Runtime`` raises a ``TypeError`` naming the provider and the members it lacks."""
    with pytest.raises(TypeError, match=r"<object object .*> lacks abandon_orchestration_item, "):
        Runtime(object())  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_dispose_provider_prefers_the_factory_and_falls_back_to_close() -> None:
    """``dispose_provider`` calls ``factory.dispose_provider`` if defined, else ``close()``."""
    log: list[str] = []

    class Closable:
        async def close(self) -> None:
            log.append("close")

    class Disposing:
        async def dispose_provider(self, provider: Any) -> None:
            log.append("dispose")

    await dispose_provider(Disposing(), Closable())  # type: ignore[arg-type]
    await dispose_provider(object(), Closable())  # type: ignore[arg-type]
    assert log == ["dispose", "close"]


def readme_wrapper_example() -> dict[str, Any]:
    """The names the README's "Wrapping a provider" code block defines."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Wrapping a provider\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "README's wrapper section has no ```python block"
    namespace: dict[str, Any] = {}
    exec(match.group(1), namespace)
    return namespace


@pytest.mark.asyncio
async def test_readme_wrapper_example_fails_every_tenth_ack(sqlite: SqliteProvider) -> None:
    """The README's "Wrapping a provider" example works as its name says."""
    namespace = readme_wrapper_example()
    wrapped = namespace["FailEveryTenthAck"](sqlite)
    outcomes = []
    for n in range(10):
        await sqlite.enqueue_for_worker(
            msg.ActivityExecute(instance="i", execution_id=1, id=n, name="a", input="")
        )
        lease = await wrapped.fetch_work_item(5.0)
        assert lease is not None
        try:
            await wrapped.ack_work_item(lease.lock_token, None)
            outcomes.append("acked")
        except TransientError:
            outcomes.append("failed")
    assert outcomes == ["acked"] * 9 + ["failed"]
