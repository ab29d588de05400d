"""Basics before consequences: foundation tests, and the order a conformance run takes.

A suite test marked ``foundation("ack_orchestration_item")`` checks the simplest behaviour
of that operation. Foundation tests run first, in the order a provider author implements the
operations (``IMPLEMENTATION_ORDER``); the other tests follow, the categories of single
operations before those combining many. When a foundation test fails, later failures often
follow from it: the summary names it first, and ``-x`` stops at it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from provkit.conformance._markers import EXTENDED, FOUNDATION

IMPLEMENTATION_ORDER: tuple[str, ...] = (
    "enqueue_for_orchestrator",
    "fetch_orchestration_item",
    "ack_orchestration_item",
    "read",
    "abandon_orchestration_item",
    "renew_orchestration_item_lock",
    "enqueue_for_worker",
    "fetch_work_item",
    "ack_work_item",
    "abandon_work_item",
    "renew_work_item_lock",
    "append_history",
    "read_execution",
    "list_executions",
    "close",
)
"""The provider's operations in the order to implement them: each needs only earlier ones."""

CATEGORY_ORDER: tuple[str, ...] = (
    "queue_semantics",
    "instance_locking",
    "lock_expiration",
    "error_handling",
    "atomicity",
    "multi_execution",
    *EXTENDED,
)
"""Categories in run order; any other (searching, end-to-end, a user's own tests) runs last."""


def foundation_of(item: pytest.Item) -> str | None:
    """The operation ``item`` is a foundation test of, or ``None`` (also for a bad marker)."""
    marker = item.get_closest_marker(FOUNDATION)
    if marker is None or marker_problem(item) is not None:
        return None
    operation: str = marker.args[0]
    return operation


def marker_problem(item: pytest.Item) -> str | None:
    """Why ``item``'s ``foundation`` marker is wrong, if it is: it must name one operation."""
    marker = item.get_closest_marker(FOUNDATION)
    if marker is None or (len(marker.args) == 1 and marker.args[0] in IMPLEMENTATION_ORDER):
        return None
    return (
        f"foundation() must name one operation of {', '.join(IMPLEMENTATION_ORDER)}; "
        f"got {', '.join(map(repr, marker.args)) or 'none'}"
    )


def put_in_run_order(items: list[pytest.Item], category: Callable[[pytest.Item], str]) -> None:
    """Sort ``items`` in place: foundation tests by operation (then category), then the rest
    by category.

    The sort is stable, so tests keep their collected order (module order, parameters
    together) within one operation or category.
    """
    last = len(CATEGORY_ORDER)

    def key(item: pytest.Item) -> tuple[int, int, int]:
        operation = foundation_of(item)
        c = category(item)
        rank = CATEGORY_ORDER.index(c) if c in CATEGORY_ORDER else last
        if operation is not None:
            return 0, IMPLEMENTATION_ORDER.index(operation), rank
        return 1, rank, 0

    items.sort(key=key)
