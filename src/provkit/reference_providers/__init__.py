"""Reference providers: what provkit runs its own suite and stress comparisons against.

``sqlite-memory`` and ``sqlite-file`` (``SqliteProvider`` and its two factories).
"""

from provkit.reference_providers.sqlite import (
    FileSqliteFactory,
    InMemorySqliteFactory,
    SqliteProvider,
)

__all__ = ["FileSqliteFactory", "InMemorySqliteFactory", "SqliteProvider"]
