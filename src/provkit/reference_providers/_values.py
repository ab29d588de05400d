"""How the reference providers store plain values: raw strings as bytes, durations as ms.

Pure functions shared by the SQLite and PostgreSQL providers; nothing here touches storage.
"""

from __future__ import annotations


def to_blob(text: str) -> bytes:
    """How raw strings (ids, names, outputs) are stored: UTF-8 that keeps lone surrogates too."""
    return text.encode("utf-8", "surrogatepass")


def from_blob(raw: bytes) -> str:
    """The inverse of ``to_blob``."""
    return raw.decode("utf-8", "surrogatepass")


def ms(seconds: float) -> int:
    """A duration in whole milliseconds, rounded up like ``ManualClock.advance``."""
    return int(-(-seconds * 1000 // 1))
