"""The up-front check of each ``--provider``: make one provider, check its shape, dispose.

Runs before any test; every problem (a factory that raises or hangs, a provider missing
contract members or a declared capability's methods, something that is no provider at all)
becomes a one-line ``ProviderSpecError``.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass
from typing import Any

import pytest

from provkit._provider_spec import ProviderSpecError, describe
from provkit.conformance._guard import bounded
from provkit.conformance._shape import shape_problem
from provkit.contract import Capability, ProviderFactory
from provkit.contract._provider import disposal


@dataclass(frozen=True, slots=True)
class Probe:
    """What the up-front check learnt of a provider the factory made."""

    name: str
    capabilities: frozenset[Capability]


async def probe(factory: ProviderFactory, spec: str, limit: float) -> Probe:
    """Create, shape-check and dispose of one provider: its name and declared capabilities.

    ``ProviderSpecError`` (one line) if the factory fails, hangs or makes something that is
    not a complete provider: missing contract members, or declared capabilities' methods.
    """
    step = "create_provider()"
    try:
        call = factory.create_provider()
        if not inspect.isawaitable(call):
            raise ProviderSpecError(
                f"create_provider() of --provider={spec} returned {type(call).__name__} "
                "instead of an awaitable: define it with async def"
            )
        made = await bounded("factory call create_provider()", call, limit)
        problem = shape_problem(spec, made)
        if problem is not None:
            await _dispose_quietly(factory, made, limit)
            raise ProviderSpecError(problem)
        name = str(getattr(made, "name", type(made).__name__))
        declared = frozenset(
            c for c in getattr(made, "capabilities", ()) if isinstance(c, Capability)
        )
        step, disposing = disposal(factory, made)
        await bounded(step, disposing, limit)
    except ProviderSpecError:
        raise
    except pytest.fail.Exception:
        raise ProviderSpecError(
            f"{step} of --provider={spec} did not return within {limit:g} s "
            "(raise --provkit-timescale for slow databases)"
        ) from None
    except Exception as exc:
        raise ProviderSpecError(f"{step} of --provider={spec} raised {describe(exc)}") from None
    return Probe(name, declared)


async def _dispose_quietly(factory: ProviderFactory, made: Any, limit: float) -> None:
    """Dispose of a malformed provider if that is possible at all; its shape is the news.

    The factory's own ``dispose_provider`` is called when it has one; otherwise ``close()``
    only if the object has a callable one. Whatever that raises or however long it hangs
    is left unreported.
    """
    if getattr(factory, "dispose_provider", None) is None and not callable(
        getattr(made, "close", None)
    ):
        return
    with contextlib.suppress(Exception, pytest.fail.Exception):
        label, disposing = disposal(factory, made)
        await bounded(label, disposing, limit)
