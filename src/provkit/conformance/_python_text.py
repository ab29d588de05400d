"""Python source text for the values provider calls take, so a recorded call can be pasted back.

Dataclasses are written as constructor calls naming only fields that differ from their
defaults; ``Expr`` stands for text that is already source (a variable holding a lock token).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Expr:
    """Source text standing for ``value``, e.g. ``r3.lock_token`` for a lock token."""

    text: str
    value: object = None


def python_text(value: object) -> str:
    """Source text that evaluates to ``value`` (given the contract's classes imported)."""
    if isinstance(value, Expr):
        return value.text
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        parts = []
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if field.default is not dataclasses.MISSING and item == field.default:
                continue
            parts.append(f"{field.name}={python_text(item)}")
        return f"{type(value).__name__}({', '.join(parts)})"
    if isinstance(value, list):
        return f"[{', '.join(python_text(item) for item in value)}]"
    if isinstance(value, tuple):
        inner = ", ".join(python_text(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


def call_text(method: str, args: tuple[object, ...], kwargs: dict[str, object]) -> str:
    """``method(arg, ..., name=value)`` as source text."""
    shown = [python_text(arg) for arg in args]
    shown += [f"{name}={python_text(value)}" for name, value in kwargs.items()]
    return f"{method}({', '.join(shown)})"
