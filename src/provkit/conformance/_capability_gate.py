"""Which suite tests a provider's declared capabilities allow, and the skip reasons that say so.

A test marked ``capability(Capability.X, ...)`` runs only if the provider declares every
one of them; one marked ``without_capability(Capability.X)`` only if it does not. Skip
reasons name the capability, and the end-of-run summary recognises them by their wording.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import pytest

from provkit.conformance._markers import CAPABILITY, WITHOUT_CAPABILITY
from provkit.contract import Capability

_CAPABILITY_SKIP = re.compile(r"provider (does not declare|declares) Capability\.[A-Z_]+")


def undeclared(capability: Capability) -> str:
    """The skip reason of a test needing ``capability`` that the provider lacks."""
    return f"provider does not declare Capability.{capability.name}"


def declared(capability: Capability) -> str:
    """The skip reason of a test for providers without ``capability`` that declares it."""
    return f"provider declares Capability.{capability.name}; the test is for providers without it"


def is_capability_skip(reason: str) -> bool:
    """Whether a skip ``reason`` is one of the two above (also when pytest decorated it)."""
    return _CAPABILITY_SKIP.search(reason) is not None


def skip_reason(item: pytest.Item, capabilities: Collection[Capability]) -> str | None:
    """Why ``item`` must be skipped for a provider declaring ``capabilities``, if it must."""
    for marker in item.iter_markers(CAPABILITY):
        for needed in marker.args:
            if needed not in capabilities:
                return undeclared(needed)
    for marker in item.iter_markers(WITHOUT_CAPABILITY):
        for excluded in marker.args:
            if excluded in capabilities:
                return declared(excluded)
    return None


def require(provider: object, capability: Capability) -> None:
    """Skip the running test unless ``provider`` declares ``capability``."""
    if capability not in getattr(provider, "capabilities", ()):
        pytest.skip(undeclared(capability))
