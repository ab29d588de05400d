"""Reference providers: what provkit runs its own suite and stress comparisons against.

``sqlite-memory`` and ``sqlite-file`` (``SqliteProvider`` and its two factories),
``memory`` (``MemoryProvider``: the contract in plain Python, the example to read first), and
``postgres`` (``PostgresProvider``, ``PostgresFactory``; imported on first use, so that
SQLite users never load asyncpg).
"""

from typing import TYPE_CHECKING, Any

from provkit.reference_providers.memory import MemoryFactory, MemoryProvider
from provkit.reference_providers.sqlite import (
    FileSqliteFactory,
    InMemorySqliteFactory,
    SqliteProvider,
)

if TYPE_CHECKING:
    from provkit.reference_providers.postgres import PostgresFactory, PostgresProvider

__all__ = [
    "FileSqliteFactory",
    "InMemorySqliteFactory",
    "MemoryFactory",
    "MemoryProvider",
    "PostgresFactory",
    "PostgresProvider",
    "SqliteProvider",
]

_LAZY = {"PostgresFactory", "PostgresProvider"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from provkit.reference_providers import postgres

        return getattr(postgres, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
