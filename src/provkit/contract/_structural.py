"""The structural provider check: does an object have every member the contract names?

``isinstance(x, Provider)`` is not that check: from Python 3.12 it looks attributes up
statically, so it rejects a correct wrapper that forwards through ``__getattr__``. This
check asks the object itself (``getattr``), as every caller of a provider does.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol

from provkit.contract._capabilities import missing_capability_methods
from provkit.contract._provider import Provider


def _members(protocol: type) -> tuple[tuple[str, bool], ...]:
    """A protocol's public members, each with whether it must be callable (a method or not)."""
    found: dict[str, bool] = {}
    for cls in reversed(protocol.__mro__):
        if cls in (Protocol, Generic, object):
            continue
        found.update(dict.fromkeys(getattr(cls, "__annotations__", {}), False))
        found.update(
            (name, callable(value))
            for name, value in vars(cls).items()
            if not name.startswith("_") and (callable(value) or isinstance(value, property))
        )
    return tuple(sorted(found.items()))


_PROVIDER_MEMBERS = _members(Provider)


def missing_members(provider: Any) -> list[str]:
    """The contract members ``provider`` lacks, by name; ``[]`` when it has them all.

    Every member of ``Provider`` (a method that is present but not callable counts as
    missing), then the methods of each optional capability the provider declares in
    ``capabilities``, reported as ``"set_clock (declares clock)"``.
    """
    missing = _missing_core(provider)
    if "capabilities" not in missing:
        missing += [
            f"{name} (declares {capability.value})"
            for capability, names in missing_capability_methods(provider).items()
            for name in names
        ]
    return missing


def check_provider(provider: Any) -> Provider:
    """Return ``provider`` typed as a ``Provider``, or raise ``TypeError`` naming what it lacks.

    Checks every member of ``Provider`` (not the optional capabilities: ``missing_members``
    reports those), however the object provides them: its own methods, a
    ``ProviderWrapper``, or ``__getattr__`` forwarding, on every supported Python.
    """
    missing = _missing_core(provider)
    if missing:
        raise TypeError(
            f"provider must implement provkit.contract.Provider: {provider!r} "
            f"lacks {', '.join(missing)}"
        )
    checked: Provider = provider
    return checked


def _missing_core(provider: Any) -> list[str]:
    return [name for name, method in _PROVIDER_MEMBERS if not _has(provider, name, method)]


def _has(provider: Any, name: str, method: bool) -> bool:
    try:
        value = getattr(provider, name)
    except AttributeError:
        return False
    return callable(value) or not method
