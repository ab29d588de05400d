"""The shape check run before any test: is what the factory made a provider at all?

A provider lacking contract methods, one declaring a capability without its methods, and a
factory handing back something that is no provider end the run in one message naming what
is wrong, instead of burying it under a failure per test. Never calls the object it checks.
"""

from __future__ import annotations

import inspect
from typing import Any

from provkit.contract import Provider, missing_capability_methods, missing_members

CONTRACT_MEMBERS: tuple[str, ...] = tuple(missing_members(object()))
"""Every member of ``Provider``: exactly what a bare ``object()`` lacks."""


def shape_problem(spec: str, made: Any) -> str | None:
    """One line saying what is wrong with the shape of ``made``, or ``None`` if nothing is.

    ``made`` is what ``create_provider()`` of ``--provider=spec`` returned.
    """
    returned = f"create_provider() of --provider={spec} returned"
    if made is None:
        return f"{returned} None, not a provider"
    if inspect.isawaitable(made):
        return f"{returned} {_kind(made)}, not a provider (a missing await?)"
    missing = [m for m in missing_members(made) if " (declares " not in m]
    if len(missing) == len(CONTRACT_MEMBERS):
        return (
            f"{returned} {_kind(made)}, which is not a provider: it has none of the "
            "members of provkit.contract.Provider"
        )
    parts = []
    if missing:
        noun = "member" if len(missing) == 1 else "members"
        parts.append(
            f"lacks {len(missing)} contract {noun}: {', '.join(map(_spelled, missing))} "
            "(every member of provkit.contract.Provider is required)"
        )
    gaps = missing_capability_methods(made) if "capabilities" not in missing else {}
    if gaps:
        parts.append(
            "declares "
            + "; ".join(
                f"Capability.{capability.name} but has no {', '.join(m + '()' for m in methods)}"
                for capability, methods in gaps.items()
            )
            + " (implement them or stop declaring the capability)"
        )
    if not parts:
        return None
    name = getattr(made, "name", None)
    named = f" ({name})" if isinstance(name, str) and name else ""
    return f"--provider={spec}{named} " + "; and ".join(parts)


def _spelled(member: str) -> str:
    """``ack_work_item()`` for a method, ``name`` for an attribute."""
    return f"{member}()" if callable(getattr(Provider, member, None)) else member


def _kind(obj: Any) -> str:
    if inspect.iscoroutine(obj):
        return "a coroutine"
    name = type(obj).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return f"{article} {name}"
