"""How the reference providers store plain values: raw strings as bytes, durations as ms.

Pure functions shared by the SQLite and PostgreSQL providers; nothing here touches storage.
"""

from __future__ import annotations

import math


def to_blob(text: str) -> bytes:
    """How raw strings (ids, names, outputs) are stored: UTF-8 that keeps lone surrogates too."""
    return text.encode("utf-8", "surrogatepass")


def from_blob(raw: bytes) -> str:
    """The inverse of ``to_blob``."""
    return raw.decode("utf-8", "surrogatepass")


def ms(seconds: float) -> int:
    """A duration in whole milliseconds, rounded up like ``ManualClock.advance``.

    Rounded to a nanosecond first, so a whole number of ms is never pushed up by binary
    floating point (2.007 s is 2007 ms, not 2008).
    """
    return math.ceil(round(seconds * 1000, 6))
