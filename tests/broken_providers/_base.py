"""What every broken provider shares: a factory per class, and SQL edits scoped to one operation.

A broken provider is the SQLite reference provider with one bug: either one overridden method
or a few text edits to the SQL that one provider operation runs (``SqlEditProvider``).
"""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar, cast

from provkit.contract import Provider, ProviderFactory
from provkit.reference_providers import SqliteProvider
from provkit.reference_providers import _sqlite_ops as ops

_T = TypeVar("_T")


class BrokenProvider(SqliteProvider):
    """The reference provider on a private in-memory database; subclasses add one bug."""

    @classmethod
    def factory(cls) -> ProviderFactory:
        """This provider's factory: ``--provider=broken_providers.<module>:<Class>.factory``."""
        return _Factory(cls)


class _Factory:
    """``ProviderFactory`` handing out a fresh in-memory instance of one broken provider class."""

    def __init__(self, provider_class: type[BrokenProvider]) -> None:
        self._provider_class = provider_class

    async def create_provider(self) -> Provider:
        return await self._provider_class.open_memory()

    async def dispose_provider(self, provider: Provider) -> None:
        await provider.close()


SqlEdits = Mapping[str, Mapping[str, str]]
"""Provider operation -> {SQL text as written in ``_sqlite_ops`` -> its broken replacement}."""


class SqlEditProvider(BrokenProvider):
    """Runs the SQL of the operations named in ``sql_edits`` with those text replacements.

    Every replaced text must occur in ``_sqlite_ops``, so a bug cannot silently vanish when
    the reference provider's SQL is reworded: asking for the factory then raises ``LookupError``
    (which the plugin reports as a bad ``--provider``).
    """

    sql_edits: ClassVar[SqlEdits] = {}

    @classmethod
    def factory(cls) -> ProviderFactory:
        source = inspect.getsource(ops)
        missing = [old for edits in cls.sql_edits.values() for old in edits if old not in source]
        if missing:
            raise LookupError(f"{cls.__name__}: SQL text no longer in _sqlite_ops: {missing}")
        return super().factory()

    async def _run(self, operation: str, work: Callable[[sqlite3.Connection], _T]) -> _T:
        edits = self.sql_edits.get(operation)
        if edits is None:
            return await super()._run(operation, work)
        return await super()._run(
            operation, lambda conn: work(cast(sqlite3.Connection, _EditingConnection(conn, edits)))
        )


class _EditingConnection:
    """The parts of ``sqlite3.Connection`` that ``_sqlite_ops`` uses, with statements edited."""

    def __init__(self, conn: sqlite3.Connection, edits: Mapping[str, str]) -> None:
        self._conn = conn
        self._edits = edits

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        return self._conn.execute(self._edit(sql), parameters)

    def executemany(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        return self._conn.executemany(self._edit(sql), rows)

    def _edit(self, sql: str) -> str:
        for old, new in self._edits.items():
            sql = sql.replace(old, new)
        return sql
