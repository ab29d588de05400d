"""Validation of ``RuntimeOptions`` and of what a ``Runtime`` is given at construction."""

from __future__ import annotations

from typing import Any

import pytest

from provkit.reference_providers import SqliteProvider
from provkit.runtime import Runtime, RuntimeOptions


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("orchestration_concurrency", 0, "orchestration_concurrency must be a positive integer"),
        ("worker_concurrency", 2.5, "worker_concurrency must be a positive integer"),
        ("max_attempts", True, "max_attempts must be a positive integer"),
        ("poll_interval", 0, "poll_interval must be a positive number of seconds"),
        ("worker_lock_timeout", -1.0, "worker_lock_timeout must be a positive number"),
        ("shutdown_grace", float("inf"), "shutdown_grace must be a positive number"),
        ("retry_backoff_max", "1", "retry_backoff_max must be a positive number"),
        ("replay_cache_instances", -1, "replay_cache_instances must be an integer >= 0"),
        ("replay_cache_bytes", 1.5, "replay_cache_bytes must be an integer >= 0"),
    ],
)
def test_invalid_options_are_rejected_naming_the_field(
    field: str, value: Any, message: str
) -> None:
    """Each bad setting raises a ValueError that names the field and the bad value."""
    with pytest.raises(ValueError, match=f"RuntimeOptions.{message}.*got {value!r}"):
        RuntimeOptions(**{field: value})


def test_defaults_are_valid_and_frozen() -> None:
    """The default options construct, and options cannot be changed afterwards."""
    options = RuntimeOptions()
    assert (options.orchestration_concurrency, options.max_attempts) == (2, 10)
    with pytest.raises(AttributeError):
        options.max_attempts = 3  # type: ignore[misc]


async def _orchestration(ctx: Any, input: Any) -> Any:
    return input


def _plain_orchestration(ctx: Any, input: Any) -> Any:
    return input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"orchestrations": {"plain": _plain_orchestration}},
            "orchestration 'plain' must be an 'async def'",
        ),
        ({"orchestrations": {1: _orchestration}}, "orchestration names must be strings, got 1"),
        ({"activities": {"x": 42}}, "activity 'x' must be a function, got 42"),
        ({"options": {"worker_concurrency": 1}}, "options must be a RuntimeOptions"),
    ],
)
@pytest.mark.asyncio
async def test_runtime_rejects_bad_registrations(
    provider: SqliteProvider, kwargs: dict[str, Any], message: str
) -> None:
    """Registrations are checked at construction, with an error naming the entry."""
    with pytest.raises(TypeError, match=message):
        Runtime(provider, **kwargs)


def test_runtime_rejects_an_object_that_is_not_a_provider() -> None:
    """Passing something that is not a Provider fails at once with a TypeError."""
    with pytest.raises(TypeError, match=r"provider must implement provkit\.contract\.Provider"):
        Runtime(object())  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_runtime_starts_once_and_shutdown_is_idempotent(provider: SqliteProvider) -> None:
    """Starting twice is an error; a second shutdown returns at once."""
    runtime = Runtime(provider, options=RuntimeOptions(poll_interval=0.05))
    await runtime.start()
    with pytest.raises(RuntimeError, match="already started"):
        await runtime.start()
    await runtime.shutdown()
    await runtime.shutdown()
