"""Before any row runs: check that every named provider can be made and answers at all.

A factory that raises or does not make a provider, and a provider whose calls only raise
(or hang), are one-line ``ProviderCheckError``s at once, before minutes of runs. This is
also where each provider gets its row label. Makes no change a run could see: each probe
uses its own provider, disposed of afterwards.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from provkit._provider_spec import describe
from provkit.contract import ProviderFactory, dispose_provider, missing_members

_T = TypeVar("_T")

PROBE_TIMEOUT = 10.0
"""Seconds each probe call may take before the provider counts as hanging."""
_PROBE_INSTANCE = "provkit-stress-probe"
_SHOWN_MISSING = 6


class ProviderCreationError(Exception):
    """The factory's ``create_provider`` raised; the original exception is the cause."""


class ProviderCheckError(Exception):
    """A provider cannot be stress-tested at all; the message is one line naming why."""


@dataclass(frozen=True, slots=True)
class ProviderUnderTest:
    """A provider to run: the spec the user typed, its factory, and the label of its rows."""

    spec: str
    factory: ProviderFactory
    label: str


async def _timed(call: str, spec: str, awaitable: Awaitable[_T]) -> _T:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            return await awaitable
    except TimeoutError:
        raise ProviderCheckError(
            f"{spec}: {call} did not return within {PROBE_TIMEOUT:g} s"
        ) from None
    except Exception as exc:
        raise ProviderCheckError(f"{spec}: {call} raised {describe(exc)}") from None


async def probe(factory: ProviderFactory, spec: str) -> str:
    """Make one provider, check its shape and that it answers; its name.

    Reads an unknown instance and fetches from both (empty) queues without waiting: a
    provider that cannot do that cannot run a stress row.
    """
    try:
        provider: Any = await factory.create_provider()
    except Exception as exc:
        raise ProviderCheckError(f"{spec}: create_provider() raised {describe(exc)}") from None
    checked = False
    try:
        # Core members only: a gap in a declared capability cannot stop a stress run (the
        # conformance suite reports those).
        missing = [name for name in missing_members(provider) if " (declares " not in name]
        if missing:
            shown = ", ".join(missing[:_SHOWN_MISSING])
            more = len(missing) - _SHOWN_MISSING
            shown += f" and {more} more" if more > 0 else ""
            raise ProviderCheckError(
                f"{spec}: create_provider() returned a {type(provider).__name__}, which is not "
                f"a provider (missing {shown})"
            )
        await _timed(f"read({_PROBE_INSTANCE!r})", spec, provider.read(_PROBE_INSTANCE))
        item = await _timed(
            "fetch_orchestration_item", spec, provider.fetch_orchestration_item(5.0, 0.0)
        )
        if item is not None:
            abandon = provider.abandon_orchestration_item(item.lock_token, None, True)
            await _timed("abandon_orchestration_item", spec, abandon)
        lease = await _timed("fetch_work_item", spec, provider.fetch_work_item(5.0, 0.0))
        if lease is not None:
            release = provider.abandon_work_item(lease.lock_token, None, True)
            await _timed("abandon_work_item", spec, release)
        checked = True
        return str(provider.name)
    finally:
        try:
            await dispose_provider(factory, provider)
        except Exception as exc:
            # A provider that cannot be closed is as unusable, unless an earlier problem
            # is already being reported.
            if checked:
                raise ProviderCheckError(
                    f"{spec}: disposing of a provider raised {describe(exc)}"
                ) from None


async def prepare(entries: Sequence[tuple[str, ProviderFactory]]) -> list[ProviderUnderTest]:
    """Probe every provider; label each row set by the provider's name, or by the spec
    the user typed when two specs name providers of the same name."""
    names = [await probe(factory, spec) for spec, factory in entries]
    shared = Counter(names)
    return [
        ProviderUnderTest(spec=spec, factory=factory, label=spec if shared[name] > 1 else name)
        for (spec, factory), name in zip(entries, names, strict=True)
    ]
