"""The ``stress-run --json`` document schema and a small validator for it.

The schema is a subset of JSON Schema (``type``, ``properties``, ``required``, ``items``,
``additionalProperties``) written as a dict; ``docs/stress-json-schema.md`` documents it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SCHEMA_VERSION = 1
"""Bumped whenever a field is removed or changes meaning; adding fields keeps it."""

_NUMBER = {"type": "number"}
_INT = {"type": "integer"}
_STR = {"type": "string"}
_OPT_NUMBER = {"type": ["number", "null"]}


def _object(properties: Mapping[str, Any], *, closed: bool = True) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties),
        "additionalProperties": not closed,
    }


_SETTINGS = {"type": "object", "additionalProperties": True}

_ROW = _object(
    {
        "provider": _STR,
        "scenario": _STR,
        "config": _STR,
        "settings": _SETTINGS,
        "launched": _INT,
        "completed": _INT,
        "failed": _INT,
        "failures": _object(
            {
                "infrastructure": _INT,
                "configuration": _INT,
                "application": _INT,
                "start_errors": _INT,
                "timeouts": _INT,
            }
        ),
        "success_pct": _NUMBER,
        "elapsed_secs": _NUMBER,
        "activities": _INT,
        "orch_per_sec": _NUMBER,
        "activity_per_sec": _NUMBER,
        "ceiling_activities_per_sec": _OPT_NUMBER,
        "ceiling_ratio": _OPT_NUMBER,
        "latency_ms": _object(
            {
                "count": _INT,
                "avg": _OPT_NUMBER,
                "p50": _OPT_NUMBER,
                "p95": _OPT_NUMBER,
                "p99": _OPT_NUMBER,
                "max": _OPT_NUMBER,
            }
        ),
        "operations": {
            "type": "array",
            "items": _object(
                {
                    "operation": _STR,
                    "count": _INT,
                    "errors": _INT,
                    "p50_ms": _OPT_NUMBER,
                    "p99_ms": _OPT_NUMBER,
                    "total_ms": _NUMBER,
                }
            ),
        },
        "errors": {"type": "array", "items": _STR},
        "provider_spec": _STR,
        "history_check": {
            **_object(
                {
                    "clean": {"type": "boolean"},
                    "checked": _INT,
                    "unknown": _INT,
                    "lost": _INT,
                    "duplicated": _INT,
                    "unexpected": _INT,
                    "scheduled_activities": _INT,
                    "executed_activities": {"type": ["integer", "null"]},
                    "findings": {"type": "array", "items": _STR},
                }
            ),
            "type": ["object", "null"],
        },
        "causes": {
            "type": "array",
            "items": _object({"source": _STR, "kind": _STR, "count": _INT, "example": _STR}),
        },
        "overhead_ms_per_activity": _OPT_NUMBER,
        "worker_slots": _INT,
        "activity_delay_ms": _NUMBER,
        "passed": {"type": "boolean"},
        "processes": {
            "type": "array",
            "items": _object(
                {
                    "index": _INT,
                    "pid": _INT,
                    "exit": _STR,
                    "turns": _INT,
                    "activities": _INT,
                    "terminal_acks": _INT,
                }
            ),
        },
    }
)

STRESS_JSON_SCHEMA: dict[str, Any] = _object(
    {
        "schema_version": _INT,
        "created_at": _STR,
        "preset": _STR,
        "provkit_version": _STR,
        "python": _object({"version": _STR, "implementation": _STR}),
        "machine": _object(
            {"platform": _STR, "machine": _STR, "processor": _STR, "cpu_count": _INT}
        ),
        "git_commit": {"type": ["string", "null"]},
        "git_dirty": {"type": ["boolean", "null"]},
        "config": _SETTINGS,
        "partial": {"type": "boolean"},
        "interrupted_by": {"type": ["string", "null"]},
        "results": {"type": "array", "items": _ROW},
    }
)
"""Schema of the whole document written by ``stress-run --json``."""

_TYPE_CHECKS: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}


def _has_type(value: Any, name: str) -> bool:
    # bool is an int subclass in Python but never a number in JSON.
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _TYPE_CHECKS[name])


def validate(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Every way ``value`` departs from ``schema``, as ``path: problem`` lines; ``[]`` if none."""
    expected = schema.get("type")
    if expected is not None:
        names = [expected] if isinstance(expected, str) else list(expected)
        if not any(_has_type(value, name) for name in names):
            return [f"{path}: expected {' or '.join(names)}, got {type(value).__name__}"]
    problems: list[str] = []
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        problems += [
            f"{path}: missing required key {key!r}"
            for key in schema.get("required", [])
            if key not in value
        ]
        if schema.get("additionalProperties", True) is False:
            problems += [
                f"{path}: unexpected key {key!r}" for key in value if key not in properties
            ]
        for key, sub in properties.items():
            if key in value:
                problems += validate(value[key], sub, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += validate(item, schema["items"], f"{path}[{index}]")
    return problems
