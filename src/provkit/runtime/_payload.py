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
