"""A transparent provider proxy that fails the test when a provider call hangs.

Every coroutine method of the wrapped provider is bounded by the run's operation timeout;
a call that does not return in time fails its test with a message naming the call, so a
hung provider never hangs the run.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest


class GuardedProvider:
    """Forwards everything to ``inner``; coroutine methods get a deadline."""

    def __init__(self, inner: Any, op_timeout: float) -> None:
        self._inner = inner
        self._op_timeout = op_timeout

    @property
    def inner(self) -> Any:
        """The provider under test, unwrapped."""
        return self._inner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not asyncio.iscoroutinefunction(value):
            return value
        return self._bounded(name, value)

    def _bounded(
        self, name: str, method: Callable[..., Coroutine[Any, Any, Any]]
    ) -> Callable[..., Coroutine[Any, Any, Any]]:
        timeout = self._op_timeout

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await asyncio.wait_for(method(*args, **kwargs), timeout)
            except TimeoutError:
                pytest.fail(
                    f"provider call {name}() did not return within {timeout:g} s "
                    "(raise --provkit-timescale for slow databases)",
                    pytrace=False,
                )

        return call
