"""What every mutant is built on: a reference provider with one bug, and the sentence it breaks.

A mutant subclasses ``MemoryMutant`` (the in-memory reference provider), ``SqliteMutant``
(the SQLite reference provider, in memory), ``SqlEditMutant`` (SQLite with a few text edits
to the SQL one operation runs) or ``WrapperMutant`` (a ``ProviderWrapper`` around either
base, for bugs any provider could have), overrides as little as its bug needs, and names the
contract sentence it breaks in ``breaks``. ``Class.factory`` is its provider spec's target.
"""

from __future__ import annotations

import inspect
import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast

from provkit.contract import Provider, ProviderFactory, ProviderWrapper
from provkit.reference_providers import MemoryProvider, SqliteProvider
from provkit.reference_providers import _sqlite_conn as sqlite_conn
from provkit.reference_providers import _sqlite_ops as ops

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Breaks:
    """A sentence of the contract docstrings: ``where`` names the documented object.

    ``where`` is a name in ``provkit.contract`` (``"Provider"``, ``"LockLostError"``), or one
    of its members (``"Provider.fetch_work_item"``); ``sentence`` is quoted from that
    docstring (whitespace may differ), so a reworded contract cannot leave a mutant pointing
    at text that no longer exists.
    """

    where: str
    sentence: str


def kebab(name: str) -> str:
    """``WorkerClaimCheckThenSet`` -> ``worker-claim-check-then-set``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


class _Factory:
    """``ProviderFactory`` handing out fresh providers of one mutant class."""

    def __init__(self, make: Callable[[], Awaitable[Provider]]) -> None:
        self._make = make

    async def create_provider(self) -> Provider:
        return await self._make()

    async def dispose_provider(self, provider: Provider) -> None:
        await provider.close()


class MemoryMutant(MemoryProvider):
    """The in-memory reference provider; a subclass adds one bug and names it in ``breaks``."""

    breaks: ClassVar[Breaks]

    @classmethod
    def factory(cls) -> ProviderFactory:
        """This mutant's factory: ``--provider=provkit.mutants.<module>:<Class>.factory``."""

        async def make() -> Provider:
            provider = cls()
            provider.name = f"mutant {kebab(cls.__name__)}"
            return provider

        return _Factory(make)


class SqliteMutant(SqliteProvider):
    """The SQLite reference provider on a private in-memory database, plus one bug."""

    breaks: ClassVar[Breaks]

    @classmethod
    def factory(cls) -> ProviderFactory:
        """This mutant's factory: ``--provider=provkit.mutants.<module>:<Class>.factory``."""

        async def make() -> Provider:
            provider = await cls.open_memory()
            provider.name = f"mutant {kebab(cls.__name__)}"
            return provider

        return _Factory(make)


SqlEdits = Mapping[str, Mapping[str, str]]
"""Provider operation -> {SQL text as written in the provider -> its broken replacement}.

Replacements apply in order, each to the statement as the previous ones left it."""


class SqlEditMutant(SqliteMutant):
    """Runs the SQL of the operations named in ``sql_edits`` with those text replacements.

    Every replaced text must occur in ``_sqlite_ops`` (or, for the statements framing a unit
    of work, in ``_sqlite_conn``), so a bug cannot silently vanish when the reference
    provider's SQL is reworded: asking for the factory then raises ``LookupError`` (which the
    plugin reports as a bad ``--provider``).
    """

    sql_edits: ClassVar[SqlEdits] = {}

    @classmethod
    def factory(cls) -> ProviderFactory:
        source = inspect.getsource(ops) + inspect.getsource(sqlite_conn)
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


class WrapperMutant(ProviderWrapper):
    """A wrapper around a reference provider (``wraps``: ``"memory"`` or ``"sqlite"``).

    For bugs that sit between any provider and its caller (halved durations, swallowed
    errors); a subclass overrides the operations its bug changes.
    """

    breaks: ClassVar[Breaks]
    wraps: ClassVar[str] = "memory"

    @property
    def name(self) -> str:
        return f"mutant {kebab(type(self).__name__)}"

    @classmethod
    def factory(cls) -> ProviderFactory:
        """This mutant's factory: ``--provider=provkit.mutants.<module>:<Class>.factory``."""

        async def make() -> Provider:
            inner: Provider = (
                MemoryProvider() if cls.wraps == "memory" else await SqliteProvider.open_memory()
            )
            return cls(inner)

        return _Factory(make)
