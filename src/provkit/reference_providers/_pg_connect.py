"""Where the PostgreSQL provider connects, and how failures become one-line, typed errors.

``Target`` is a parsed DSN that can name itself in a message without its password.
``connect_error`` explains a failed connection (host, port, cause, what to do);
``operation_error`` types a failed operation: transient (serialization failure, deadlock,
lost connection, server shutting down) or permanent (constraint violation, anything else).
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import asyncpg

from provkit.contract import (
    DuplicateEventError,
    InstanceRunningError,
    LockLostError,
    NotFoundError,
    NotRootError,
    ProviderError,
    TransientError,
)
from provkit.reference_providers._pg_schema import (
    HISTORY_KEY,
    INSTANCE_RUNNING,
    LOCK_LOST,
    NOT_FOUND,
    NOT_ROOT,
)

DSN_ENV = "PROVKIT_POSTGRES_DSN"
"""Environment variable naming the server the ``postgres`` shortcut uses."""

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
"""The server used when ``PROVKIT_POSTGRES_DSN`` is unset: the local one."""

CONNECT_TIMEOUT = 5.0
"""Seconds a connection attempt may take before it counts as "server unreachable"."""

_TRANSIENT_CLASSES = ("08", "53", "57", "58")
"""SQLSTATE classes worth retrying: connection trouble, resources, shutdown, system I/O."""

_TRANSIENT_STATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "55006",  # object_in_use
    }
)


_RAISED: dict[str, type[ProviderError]] = {
    LOCK_LOST: LockLostError,
    NOT_FOUND: NotFoundError,
    NOT_ROOT: NotRootError,
    INSTANCE_RUNNING: InstanceRunningError,
}
"""The errors the provider's functions raise on purpose, by SQLSTATE."""


class DsnError(ValueError):
    """A DSN that cannot be parsed; the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Target:
    """A PostgreSQL DSN and what it names, for messages that never show its password."""

    dsn: str
    host: str
    port: int
    database: str
    user: str
    source: str

    @classmethod
    def resolve(cls, dsn: str | None) -> Target:
        """Parse ``dsn``, else ``$PROVKIT_POSTGRES_DSN``, else the local default server.

        Raises ``DsnError`` naming the DSN (password hidden) and where it came from.
        """
        if dsn is not None:
            source = "given DSN"
        elif os.environ.get(DSN_ENV):
            dsn, source = os.environ[DSN_ENV], DSN_ENV
        else:
            dsn, source = DEFAULT_DSN, "default DSN"
        try:
            return cls._parse(dsn, source)
        except ValueError as exc:
            raise DsnError(
                f"bad PostgreSQL DSN {_hide_password(dsn)!r} ({source}): {exc}; "
                "expected postgresql://user@host:port/database"
            ) from None

    @classmethod
    def _parse(cls, dsn: str, source: str) -> Target:
        parts = urlsplit(dsn)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("it does not start with postgresql://")
        host = parts.hostname or os.environ.get("PGHOST") or "localhost"
        if "," in (parts.netloc or ""):
            raise ValueError("several hosts are not supported")
        port = parts.port or int(os.environ.get("PGPORT", "5432"))
        user = unquote(parts.username or "") or os.environ.get("PGUSER") or _login()
        database = unquote(parts.path.lstrip("/")) or os.environ.get("PGDATABASE") or user
        return cls(dsn, host, port, database, user, source)

    def describe(self) -> str:
        """``PostgreSQL at host:port (database 'd', user 'u', from SOURCE)``."""
        return (
            f"PostgreSQL at {self.host}:{self.port} (database {self.database!r}, "
            f"user {self.user!r}, {self.source})"
        )


def _login() -> str:
    try:
        return os.getlogin()
    except OSError:
        return "postgres"


def _hide_password(dsn: str) -> str:
    try:
        parts = urlsplit(dsn)
        password = parts.password
    except ValueError:
        return dsn
    if not password:
        return dsn
    return dsn.replace(f":{password}@", ":***@", 1)


def connect_error(target: Target, exc: BaseException) -> ProviderError:
    """One line naming the server and why connecting to it (or preparing it) failed.

    Unreachable servers are ``TransientError`` (they may come back); a missing database,
    refused credentials or permissions and bad settings are permanent.
    """
    where = target.describe()
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return ProviderError(
            "connect", f"{where}: database {target.database!r} does not exist (createdb it?)"
        )
    if isinstance(
        exc, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError
    ):
        return ProviderError("connect", f"{where}: authentication failed: {_first_line(exc)}")
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        return ProviderError("connect", f"{where}: permission denied: {_first_line(exc)}")
    if isinstance(exc, asyncpg.PostgresError):
        error = operation_error("connect", exc)
        return type(error)("connect", f"{where}: {error.message}")
    if isinstance(exc, TimeoutError):
        return TransientError("connect", f"{where}: no answer within {CONNECT_TIMEOUT:g} s")
    if isinstance(exc, socket.gaierror):
        return ProviderError("connect", f"{where}: unknown host {target.host!r}")
    if isinstance(exc, ConnectionRefusedError):
        return TransientError("connect", f"{where}: connection refused (is the server running?)")
    if isinstance(exc, ssl.SSLError):
        return ProviderError("connect", f"{where}: TLS failed: {_first_line(exc)}")
    if isinstance(exc, OSError | asyncpg.exceptions.InterfaceError):
        return TransientError("connect", f"{where}: {_first_line(exc)}")
    return ProviderError("connect", f"{where}: {type(exc).__name__}: {_first_line(exc)}")


def operation_error(operation: str, exc: BaseException) -> ProviderError:
    """The typed ``ProviderError`` a failure of ``operation`` maps to."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        state: str = exc.sqlstate or ""
        text = _first_line(exc)
        raised = _RAISED.get(state)
        if raised is not None:
            return raised(operation, text)
        if isinstance(exc, asyncpg.UniqueViolationError) and (exc.constraint_name == HISTORY_KEY):
            return DuplicateEventError(
                operation, "an event id is already stored for that execution or repeated"
            )
        if state in _TRANSIENT_STATES or state[:2] in _TRANSIENT_CLASSES:
            return TransientError(operation, f"postgres {state}: {text}")
        if state in ("3F000", "42P01", "42883"):
            return ProviderError(
                operation, f"postgres {state}: {text} (was the provider's schema dropped?)"
            )
        return ProviderError(operation, f"postgres {state}: {text}")
    if isinstance(exc, TimeoutError | OSError):
        return TransientError(operation, f"{type(exc).__name__}: {_first_line(exc)}")
    if isinstance(exc, asyncpg.exceptions.InterfaceError) and "connection" in str(exc):
        # asyncpg's word for a connection the server or the network dropped under a call.
        return TransientError(operation, f"connection lost: {_first_line(exc)}")
    return ProviderError(operation, f"{type(exc).__name__}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
