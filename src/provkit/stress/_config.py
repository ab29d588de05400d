"""Stress configurations: one run's settings, presets, and TOML files that set any of them.

Parsing never runs anything; every bad value becomes a one-line ``ConfigError`` naming the
file and the field.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from provkit.stress._scenarios import SCENARIOS


class ConfigError(ValueError):
    """A configuration file or value is unusable; the message is one line naming the cause."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PayloadShape:
    """Sizes and counts of the large-payload scenario (the Rust anchor's shape, scaled down).

    Sequentially ``small_count``/``medium_count``/``large_count`` activities returning
    payloads of the given sizes, then ``sub_orchestrations`` parallel children with
    ``sub_input_kb`` inputs (each runs one small and one medium activity and returns
    ``sub_input_kb``), then ``tail_count`` small activities; the result is ``result_kb``.
    """

    small_kb: int = 1
    medium_kb: int = 5
    large_kb: int = 10
    small_count: int = 3
    medium_count: int = 3
    large_count: int = 4
    sub_orchestrations: int = 3
    sub_input_kb: int = 50
    result_kb: int = 100
    tail_count: int = 2

    @property
    def activities_per_instance(self) -> int:
        """Activities one instance of the scenario executes."""
        return (
            self.small_count
            + self.medium_count
            + self.large_count
            + 2 * self.sub_orchestrations
            + self.tail_count
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StressConfig:
    """Settings of one stress run: one provider, one scenario, one concurrency setting.

    A pump keeps up to ``max_concurrent`` instances in flight for ``duration_secs``, then
    waits up to ``drain_timeout_secs`` for those still running. Each instance counts as a
    timeout when it has not finished ``wait_timeout_secs`` after its start. Activities
    sleep ``activity_delay_ms``; ``orch_concurrency``/``worker_concurrency`` are the
    runtime's dispatcher slots (per runtime process). ``lock_timeout_secs`` is the
    instance lock and activity lease the runtime takes: work a killed runtime process held
    is redelivered after it. ``processes`` 0 runs the runtime inside the runner's process;
    N >= 1 runs N runtime processes on one shared database, the runner being only the
    launching client.
    """

    max_concurrent: int = 20
    duration_secs: float = 10.0
    tasks_per_instance: int = 5
    activity_delay_ms: float = 10.0
    orch_concurrency: int = 1
    worker_concurrency: int = 1
    wait_timeout_secs: float = 60.0
    drain_timeout_secs: float = 120.0
    lock_timeout_secs: float = 30.0
    processes: int = 0
    scenario: str = "fanout"
    payload: PayloadShape = field(default_factory=PayloadShape)

    @property
    def label(self) -> str:
        """The setting as shown in tables: ``orchestration/worker``, then ``×Np`` for N
        runtime processes."""
        slots = f"{self.orch_concurrency}/{self.worker_concurrency}"
        return f"{slots} ×{self.processes}p" if self.processes else slots

    @property
    def worker_slots(self) -> int:
        """Worker slots of every runtime process together."""
        return self.worker_concurrency * max(1, self.processes)

    @property
    def ceiling_activities_per_sec(self) -> float | None:
        """Most activities/s the worker slots can run: slots x 1000 / d; ``None`` when d is 0."""
        if self.activity_delay_ms <= 0:
            return None
        return self.worker_slots * 1000.0 / self.activity_delay_ms

    def as_dict(self) -> dict[str, Any]:
        """Plain values of every field, for JSON reports."""
        return dataclasses.asdict(self)


DEFAULT_PROVIDERS = ("sqlite-memory", "sqlite-file")
"""Provider specs a plan runs when neither the file nor the command line names any."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StressPlan:
    """What one ``stress-run`` invocation measures: every provider x scenario x concurrency."""

    name: str
    base: StressConfig
    scenarios: tuple[str, ...] = ("fanout",)
    concurrency: tuple[tuple[int, int], ...] = ((1, 1),)
    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    processes: tuple[int, ...] = (0,)

    def runs(self) -> list[StressConfig]:
        """One configuration per scenario, concurrency setting and process count (providers
        excluded)."""
        return [
            replace(
                self.base,
                scenario=scenario,
                orch_concurrency=o,
                worker_concurrency=w,
                processes=processes,
            )
            for scenario in self.scenarios
            for o, w in self.concurrency
            for processes in self.processes
        ]

    def as_dict(self) -> dict[str, Any]:
        """Plain values of the plan, for JSON reports."""
        return {
            "name": self.name,
            "base": self.base.as_dict(),
            "scenarios": list(self.scenarios),
            "concurrency": [list(pair) for pair in self.concurrency],
            "providers": list(self.providers),
            "processes": list(self.processes),
        }


_BASELINE = StressConfig(
    max_concurrent=20, duration_secs=10.0, tasks_per_instance=5, activity_delay_ms=10.0
)

PRESETS: dict[str, StressPlan] = {
    "quick": StressPlan(
        name="quick",
        base=StressConfig(
            max_concurrent=10, duration_secs=5.0, tasks_per_instance=3, activity_delay_ms=50.0
        ),
    ),
    "baseline": StressPlan(name="baseline", base=_BASELINE),
    "concurrency": StressPlan(name="concurrency", base=_BASELINE, concurrency=((2, 2),)),
    "compare": StressPlan(name="compare", base=_BASELINE, concurrency=((1, 1), (2, 2))),
    "throughput": StressPlan(
        name="throughput",
        base=replace(_BASELINE, max_concurrent=50, activity_delay_ms=0.0),
        concurrency=((2, 2),),
    ),
}
"""Named plans: ``quick`` (a short CI run), ``baseline`` (1/1), ``concurrency`` (2/2),
``compare`` (1/1 and 2/2; what ``track-results.sh`` records), ``throughput`` (2/2, 50 in
flight, zero activity delay: providers' differences instead of the activity-sleep ceiling)."""

_POSITIVE_INT = ("max_concurrent", "tasks_per_instance", "orch_concurrency", "worker_concurrency")
_POSITIVE_FLOAT = ("duration_secs", "wait_timeout_secs", "drain_timeout_secs", "lock_timeout_secs")
_PLAN_KEYS = ("preset", "scenarios", "concurrency", "providers", "processes", "payload")
MAX_PROCESSES = 64


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_config(config: StressConfig) -> None:
    for name in _POSITIVE_INT:
        value = getattr(config, name)
        if not _is_int(value) or value < 1:
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    for name in _POSITIVE_FLOAT:
        value = getattr(config, name)
        if not (_is_int(value) or isinstance(value, float)) or not value > 0:
            raise ConfigError(f"{name} must be a number > 0, got {value!r}")
    delay = config.activity_delay_ms
    if not (_is_int(delay) or isinstance(delay, float)) or not delay >= 0:
        raise ConfigError(f"activity_delay_ms must be a number >= 0, got {delay!r}")
    processes = config.processes
    if not _is_int(processes) or not 0 <= processes <= MAX_PROCESSES:
        raise ConfigError(f"processes must be an integer 0..{MAX_PROCESSES}, got {processes!r}")
    if config.scenario not in SCENARIOS:
        raise ConfigError(f"unknown scenario {config.scenario!r} (known: {', '.join(SCENARIOS)})")
    for f in fields(PayloadShape):
        value = getattr(config.payload, f.name)
        if not _is_int(value) or value < 0:
            raise ConfigError(f"payload.{f.name} must be an integer >= 0, got {value!r}")


def _known(keys: Mapping[str, Any], allowed: list[str], where: str) -> None:
    for key in keys:
        if key not in allowed:
            raise ConfigError(f"unknown key {where}{key!r} (known: {', '.join(allowed)})")


def _concurrency(value: Any) -> tuple[tuple[int, int], ...]:
    pairs = value if isinstance(value, list) else None
    if not pairs or not all(
        isinstance(p, list) and len(p) == 2 and all(_is_int(n) and n >= 1 for n in p) for p in pairs
    ):
        raise ConfigError(
            f"concurrency must be a non-empty list of [orch, worker] pairs >= 1, got {value!r}"
        )
    return tuple((p[0], p[1]) for p in pairs)


def parse_processes(value: Any) -> tuple[int, ...]:
    """Runtime process counts from TOML (an integer or a list) or the command line
    (``"1,2,4"``); 0 means the runtime runs inside the runner's process."""
    if isinstance(value, str):
        try:
            value = [int(part) for part in value.split(",")]
        except ValueError:
            raise ConfigError(
                f"processes must be a count or a comma-separated list such as 1,2,4, got {value!r}"
            ) from None
    counts = [value] if _is_int(value) else value
    if (
        not isinstance(counts, list)
        or not counts
        or not all(_is_int(n) and 0 <= n <= MAX_PROCESSES for n in counts)
    ):
        raise ConfigError(
            f"processes must be a count 0..{MAX_PROCESSES} or a non-empty list of them, "
            f"got {value!r}"
        )
    return tuple(dict.fromkeys(counts))


def _names(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a non-empty list of strings, got {value!r}")
    return tuple(value)


def plan_from_mapping(data: Mapping[str, Any], name: str) -> StressPlan:
    """A plan from parsed TOML: optional ``preset`` to start from, then any field overridden."""
    config_keys = [
        f.name for f in fields(StressConfig) if f.name not in ("scenario", "payload", "processes")
    ]
    _known(data, config_keys + list(_PLAN_KEYS), "")
    preset = data.get("preset", "baseline")
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    plan = replace(PRESETS[preset], name=name)
    payload_data = data.get("payload", {})
    if not isinstance(payload_data, dict):
        raise ConfigError(f"[payload] must be a table, got {payload_data!r}")
    _known(payload_data, [f.name for f in fields(PayloadShape)], "payload.")
    base = replace(
        plan.base,
        payload=replace(plan.base.payload, **payload_data),
        **{key: data[key] for key in config_keys if key in data},
    )
    concurrency = plan.concurrency
    if "concurrency" in data:
        concurrency = _concurrency(data["concurrency"])
    elif "orch_concurrency" in data or "worker_concurrency" in data:
        concurrency = ((base.orch_concurrency, base.worker_concurrency),)
    plan = replace(
        plan,
        base=base,
        concurrency=concurrency,
        scenarios=_names("scenarios", data["scenarios"]) if "scenarios" in data else plan.scenarios,
        providers=_names("providers", data["providers"]) if "providers" in data else plan.providers,
        processes=parse_processes(data["processes"]) if "processes" in data else plan.processes,
    )
    check_plan(plan)
    return plan


def check_plan(plan: StressPlan) -> None:
    """Raise ``ConfigError`` for the first unusable value of ``plan``."""
    for config in plan.runs():
        _check_config(config)


def load_plan(name_or_path: str) -> StressPlan:
    """A preset by name, or a plan from a TOML file; ``ConfigError`` with the file's name."""
    if name_or_path in PRESETS:
        return PRESETS[name_or_path]
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        raise ConfigError(
            f"unknown config {name_or_path!r}: use a preset ({', '.join(PRESETS)}) or a .toml file"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    try:
        return plan_from_mapping(data, path.stem)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
