"""Shared stores: one database that several runtime processes open at once.

``stress-run --processes N`` needs a factory that can make a fresh store, hand its location
to other processes, open providers on it there, and remove it afterwards. Reference
factories implement it (file SQLite: a WAL file in a temporary directory; PostgreSQL: a
scratch schema); a provider author's factory opts in with the three methods of
``SharedStoreFactory``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from provkit.contract import Provider, ProviderFactory
from provkit.stress._config import ConfigError


@runtime_checkable
class SharedStoreFactory(Protocol):
    """A ``ProviderFactory`` whose stores several processes can share.

    ``location`` is opaque text the factory understands (a file path, a schema name): the
    runner passes it to runtime processes, which load the same factory from the same spec.
    """

    async def create_shared_store(self) -> str:
        """Make a new, empty store that other processes can open; return its location."""
        ...

    async def open_shared_provider(self, location: str) -> Provider:
        """A provider on the store at ``location``; callable in any process, many times."""
        ...

    async def remove_shared_store(self, location: str) -> None:
        """Delete the store at ``location`` (every provider on it is closed by then)."""
        ...


_METHODS = ("create_shared_store", "open_shared_provider", "remove_shared_store")


def shared_store_factory(factory: ProviderFactory, spec: str) -> SharedStoreFactory:
    """``factory`` as a ``SharedStoreFactory``, or a one-line ``ConfigError`` saying why not."""
    missing = [name for name in _METHODS if not callable(getattr(factory, name, None))]
    if missing:
        raise ConfigError(
            f"--processes needs a store several processes can share, and the factory of "
            f"{spec} cannot make one (it has no {', '.join(missing)}); use sqlite-file, "
            "postgres, or a factory with those methods"
        )
    shared: SharedStoreFactory = factory  # type: ignore[assignment]
    return shared
