"""One runtime process of a multi-process stress run (``-m provkit.stress._runtime_process``).

It loads the factory from the spec the user typed, opens a provider on the shared store,
runs provkit's runtime on it with the scenario's registries, and reports to the runner on
stdout, one JSON object per line: ``ready``, then ``done`` for each instance whose terminal
ack it committed, ``tick`` when it committed anything lately, and ``final`` (its counts)
when it stops. It stops when its stdin closes (the runner ended or died) or on SIGTERM;
SIGINT is the runner's to handle. Never starts instances.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from provkit._provider_spec import describe, load_factory
from provkit.contract import dispose_provider
from provkit.runtime import Runtime
from provkit.stress._config import PayloadShape, StressConfig
from provkit.stress._instrument import InstrumentedProvider
from provkit.stress._launcher import Outcome
from provkit.stress._log_capture import LogCapture
from provkit.stress._runner import ActivityCounter, CompletionWatch, runtime_options
from provkit.stress._scenarios import SCENARIOS
from provkit.stress._shared import shared_store_factory

_TICK_SECS = 0.5


def config_to_json(config: StressConfig) -> dict[str, Any]:
    """``config`` as plain data a runtime process can rebuild it from."""
    return config.as_dict()


def config_from_json(data: dict[str, Any]) -> StressConfig:
    """The ``StressConfig`` ``config_to_json`` described."""
    values = {f.name: data[f.name] for f in fields(StressConfig) if f.name in data}
    values["payload"] = PayloadShape(**data["payload"])
    return StressConfig(**values)


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _report_terminal(instance: str, outcome: Outcome) -> None:
    error = outcome.error
    _send(
        {
            "done": instance,
            "status": outcome.status.value,
            "error": None
            if error is None
            else {"category": error.category.value, "kind": error.kind, "message": error.message},
        }
    )


async def _serve(job: dict[str, Any]) -> int:
    config = config_from_json(job["config"])
    scenario = SCENARIOS[config.scenario]
    loaded = load_factory(job["spec"], Path(job["cwd"]))
    factory = shared_store_factory(loaded, job["spec"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    def wait_for_eof() -> None:
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_eof, daemon=True).start()
    provider = await factory.open_shared_provider(job["location"])
    watch = CompletionWatch(on_terminal=_report_terminal)
    instrumented = InstrumentedProvider(provider, observers=watch.observers())
    executed = ActivityCounter()
    orchestrations, activities = scenario.build(config, executed)
    runtime = Runtime(
        instrumented,
        orchestrations=orchestrations,
        activities=activities,
        options=runtime_options(config),
    )
    try:
        with LogCapture() as logs:
            await runtime.start()
            _send({"ready": job["index"]})
            committed = watch.last_progress
            while not stop.is_set():
                try:
                    async with asyncio.timeout(_TICK_SECS):
                        await stop.wait()
                except TimeoutError:
                    pass
                if watch.last_progress != committed:
                    committed = watch.last_progress
                    _send({"tick": time.time()})
            await runtime.shutdown()
        _send(
            {
                "final": {
                    "turns": watch.turns,
                    "terminal_acks": watch.terminal_acks,
                    "executed": dict(executed.by_tag),
                    "operations": instrumented.export(),
                    "log": [
                        {"source": c.source, "kind": c.kind, "count": c.count,
                         "example": c.example}
                        for c in logs.causes()
                    ],
                }
            }
        )  # fmt: skip
    finally:
        await dispose_provider(loaded, provider)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the job is one JSON argument (spec, location, config, index, cwd)."""
    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        job = json.loads(args[0])
        return asyncio.run(_serve(job))
    except Exception as exc:
        _send({"error": describe(exc)})
        return 1


if __name__ == "__main__":
    sys.exit(main())
