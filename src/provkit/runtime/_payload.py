"""JSON text for orchestration and activity payloads: the contract stores strings, the API values.

Compact separators and literal Unicode keep payloads small and byte-stable, so the same value
always encodes to the same text (replay compares encoded inputs).
"""

from __future__ import annotations

import json
from typing import Any


def encode(value: Any) -> str:
    """``value`` as compact JSON text; a value JSON cannot represent raises ``TypeError``."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot encode {type(value).__name__} payload as JSON: {exc}") from exc


def decode(text: str) -> Any:
    """The value ``text`` encodes; malformed text raises ``ValueError``."""
    return json.loads(text)


DEFAULT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
"""The largest payload (encoded JSON, in UTF-8 bytes) a runtime or client accepts by default."""


class PayloadTooLargeError(ValueError):
    """A payload's encoded JSON is longer than the configured ``max_payload_bytes``.

    Raised before anything is stored; ``size`` and ``limit`` are in bytes.
    """

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(
            f"{what} is {size:,} bytes of JSON, over the limit of {limit:,} (max_payload_bytes)"
        )
        self.size = size
        self.limit = limit


def oversize(text: str, limit: int) -> int | None:
    """The UTF-8 size of ``text`` when it is over ``limit`` bytes, else ``None``."""
    if len(text) * 4 <= limit:  # no character takes more than 4 bytes: skip the encoding
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    return size if size > limit else None


def check_size(text: str, limit: int, what: str) -> str:
    """``text``, or ``PayloadTooLargeError`` naming ``what`` when it is over ``limit`` bytes."""
    size = oversize(text, limit)
    if size is not None:
        raise PayloadTooLargeError(what, size, limit)
    return text
