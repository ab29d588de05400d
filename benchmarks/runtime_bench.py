"""Runtime benchmarks on file SQLite: what one process of provkit's runtime costs and delivers.

Workloads (each prints one JSON line per measurement, then a readable summary on stderr):

- ``sequential --n 100 1000 2000``: one orchestration awaiting N activities one after the
  other (zero activity delay, 1/1 slots); wall seconds and CPU seconds.
- ``fanout --width 5 500``: orchestrations that schedule ``width`` activities at once and
  join them (zero delay, 1/1 slots, about 2,000 activities per measurement); CPU ms per
  activity.
- ``throughput``: the stress fan-out at zero activity delay (2/2 slots, 50 instances in
  flight, 5 activities each); orchestrations/s and CPU ms per orchestration.
- ``delay``: the stress fan-out with 10 ms activities at 1/1 and 2/2; activities/s against
  the ceiling and the overhead per activity above the nominal delay (the stress column), the
  activity's measured own duration, the slot time beyond that (``runtime_ms_per_activity``),
  the share of slot time the activities themselves took (``own_ceiling_pct``: the ceiling
  reached were the sleep precise), and how precisely a bare ``asyncio.sleep`` of the delay
  sleeps on this machine.

CPU is the process's own (every thread, SQLite's included) from ``time.process_time``; the
stress workloads also give the event-loop thread's share (``loop_cpu_ms_per_orch``) and,
where the checkout has it, the history check of what storage holds. Their
``cpu_ms_per_orch`` covers the whole stress run (provider set-up and history check
included); ``run_cpu_ms_per_orch`` only the run itself, from launching the first instance to
the end of the drain (between the first and the last progress report). ``--profile PATH`` runs any
workload under cProfile, timing the event-loop thread's CPU (other load on the machine does
not show in it). The script uses only provkit's public API, so the same file measures any
checkout: run it with each checkout's interpreter (``compare.py`` does that, alternating the
two).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

from provkit.reference_providers import FileSqliteFactory, SqliteProvider
from provkit.runtime import Client, OrchestrationContext, Runtime, RuntimeOptions
from provkit.stress import Scenario, StressConfig, run_stress_test


def emit(record: dict[str, Any]) -> None:
    """One measurement as a JSON line on stdout (what ``compare.py`` reads)."""
    print(json.dumps(record), flush=True)


# -- sequential and fan-out orchestrations ----------------------------------------------------


async def sequential(ctx: OrchestrationContext, n: int) -> int:
    total = 0
    for index in range(n):
        total += await ctx.schedule_activity("step", index)
    return total


async def fan_out(ctx: OrchestrationContext, width: int) -> int:
    results = await ctx.when_all([ctx.schedule_activity("step", i) for i in range(width)])
    return len(results)


async def _run_instances(
    orchestration: str, inputs: list[Any], activities_per_instance: int
) -> tuple[float, float]:
    """Start one instance per input at once on a fresh file database, wait for all of them.

    Completion is observed at the last activity (it sets an event), then confirmed from
    storage, so no status polling loads the run. Returns (wall seconds, CPU seconds).
    """
    total = len(inputs) * activities_per_instance
    executed = 0
    finished = asyncio.Event()

    async def step(value: int) -> int:
        nonlocal executed
        executed += 1
        if executed == total:
            finished.set()
        return value

    with tempfile.TemporaryDirectory(prefix="provkit-bench-") as directory:
        provider = await SqliteProvider.open_file(os.path.join(directory, "bench.db"))
        try:
            runtime = Runtime(
                provider,
                orchestrations={"sequential": sequential, "fan_out": fan_out},
                activities={"step": step},
                options=RuntimeOptions(orchestration_concurrency=1, worker_concurrency=1),
            )
            client = Client(provider)
            async with runtime:
                cpu, wall = time.process_time(), time.perf_counter()
                for number, value in enumerate(inputs):
                    await client.start_orchestration(f"bench-{number}", orchestration, value)
                await finished.wait()
                for number in range(len(inputs)):
                    state = await client.wait_for_orchestration(f"bench-{number}", timeout=600)
                    if state.status.value != "Completed":
                        raise SystemExit(f"bench-{number} ended {state.status.value}")
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            await provider.close()
    return wall, cpu


def run_sequential(args: argparse.Namespace) -> None:
    for n in args.n:
        wall, cpu = asyncio.run(_run_instances("sequential", [n], n))
        emit({"bench": "sequential", "n": n, "wall_s": round(wall, 4), "cpu_s": round(cpu, 4)})


def run_fanout(args: argparse.Namespace) -> None:
    for width in args.width:
        instances = max(1, args.activities // width)
        wall, cpu = asyncio.run(_run_instances("fan_out", [width] * instances, width))
        activities = instances * width
        emit(
            {
                "bench": "fanout",
                "width": width,
                "instances": instances,
                "wall_s": round(wall, 4),
                "cpu_ms_per_activity": round(cpu * 1000 / activities, 4),
            }
        )


# -- stress fan-out: zero delay and delay-bound ------------------------------------------------


def _timed_fanout(durations: list[float]) -> Scenario:
    """The stress fan-out, with each activity execution's own duration timed into ``durations``.

    The stock activity is wrapped, not rewritten, so the bench follows the scenario as each
    checkout defines it; at zero delay nothing is wrapped (nothing to time).
    """
    from provkit.stress import SCENARIOS

    stock = SCENARIOS["fanout"]

    def build(config: StressConfig, executed: Any) -> Any:
        orchestrations, activities = stock.build(config, executed)
        if config.activity_delay_ms <= 0:
            return orchestrations, activities
        inner = activities["ProcessTask"]
        clock = time.perf_counter

        async def process_task(value: Any) -> Any:
            began = clock()
            try:
                return await inner(value)
            finally:
                durations.append(clock() - began)

        return orchestrations, {**activities, "ProcessTask": process_task}

    return dataclasses.replace(stock, build=build)


async def _stress(config: StressConfig) -> dict[str, Any]:
    durations: list[float] = []
    # Progress reports come at the start of the run and right after its drain, before the
    # history check: the CPU between the first and the last is the run's own.
    progress_cpu: list[float] = []
    cpu, loop_cpu = time.process_time(), time.thread_time()
    result = await run_stress_test(
        FileSqliteFactory(),
        config,
        scenario=_timed_fanout(durations),
        on_progress=lambda _: progress_cpu.append(time.process_time()),
    )
    cpu, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
    delay = config.activity_delay_ms
    record: dict[str, Any] = {
        "config": config.label,
        "activity_delay_ms": delay,
        "launched": result.launched,
        "completed": result.completed,
        "success_pct": round(100.0 * result.completed / max(result.launched, 1), 2),
        "elapsed_s": round(result.elapsed_secs, 3),
        "orch_per_s": round(result.completed / result.elapsed_secs, 2),
        "activities_per_s": round(result.activities / result.elapsed_secs, 2),
        "cpu_ms_per_orch": round(cpu * 1000 / max(result.completed, 1), 4),
        "run_cpu_ms_per_orch": round(
            (progress_cpu[-1] - progress_cpu[0]) * 1000 / max(result.completed, 1), 4
        ),
        "loop_cpu_ms_per_orch": round(loop_cpu * 1000 / max(result.completed, 1), 4),
    }
    history = getattr(result, "history", None)  # checkouts before the history check lack it
    if history is not None:
        record["history_checked"] = history.checked
        record["history_problems"] = history.problems
    if delay > 0 and result.activities:
        slot_ms = config.worker_concurrency * result.elapsed_secs * 1000 / result.activities
        record["ceiling_pct"] = round(100.0 * delay / slot_ms, 2)
        record["overhead_ms_per_activity"] = round(slot_ms - delay, 4)
        own_ms = statistics.fmean(durations) * 1000
        record["activity_sleep_ms"] = round(own_ms, 4)
        # Slot time beyond what the activity itself took: the runtime's and the provider's
        # share, without the sleep's own lateness (which overhead_ms_per_activity includes).
        record["runtime_ms_per_activity"] = round(slot_ms - own_ms, 4)
        # The ceiling the activities' own durations allow: what the row would reach at the
        # nominal ceiling were the sleep precise.
        record["own_ceiling_pct"] = round(100.0 * own_ms / slot_ms, 2)
    return record


async def _bare_sleep_ms(delay_ms: float, count: int) -> float:
    """Mean duration of ``asyncio.sleep(delay)`` on an otherwise idle event loop."""
    clock, total = time.perf_counter, 0.0
    for _ in range(count):
        began = clock()
        await asyncio.sleep(delay_ms / 1000)
        total += clock() - began
    return total * 1000 / count


def run_throughput(args: argparse.Namespace) -> None:
    config = StressConfig(
        max_concurrent=50,
        duration_secs=args.duration,
        tasks_per_instance=5,
        activity_delay_ms=0.0,
        orch_concurrency=2,
        worker_concurrency=2,
    )
    emit({"bench": "throughput", **asyncio.run(_stress(config))})


def run_delay(args: argparse.Namespace) -> None:
    bare = asyncio.run(_bare_sleep_ms(args.delay_ms, 200))
    emit({"bench": "sleep", "activity_delay_ms": args.delay_ms, "bare_sleep_ms": round(bare, 4)})
    for slots in args.slots:
        config = StressConfig(
            max_concurrent=20,
            duration_secs=args.duration,
            tasks_per_instance=5,
            activity_delay_ms=args.delay_ms,
            orch_concurrency=slots,
            worker_concurrency=slots,
        )
        emit({"bench": "delay", **asyncio.run(_stress(config))})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seq = commands.add_parser("sequential", help="one orchestration of N sequential activities")
    seq.add_argument("--n", type=int, nargs="+", default=[100, 1000, 2000])
    seq.set_defaults(run=run_sequential)
    fan = commands.add_parser("fanout", help="fan-out/fan-in orchestrations of a given width")
    fan.add_argument("--width", type=int, nargs="+", default=[5, 500])
    fan.add_argument("--activities", type=int, default=2000, help="activities per measurement")
    fan.set_defaults(run=run_fanout)
    thr = commands.add_parser("throughput", help="stress fan-out at zero delay, 2/2, 50 in flight")
    thr.add_argument("--duration", type=float, default=10.0)
    thr.set_defaults(run=run_throughput)
    dly = commands.add_parser("delay", help="stress fan-out with delay-bound activities")
    dly.add_argument("--duration", type=float, default=10.0)
    dly.add_argument("--delay-ms", type=float, default=10.0)
    dly.add_argument("--slots", type=int, nargs="+", default=[1, 2])
    dly.set_defaults(run=run_delay)
    for command in (seq, fan, thr, dly):
        command.add_argument(
            "--profile",
            metavar="PATH",
            help="run under cProfile (event-loop thread CPU time) and write its stats to PATH",
        )
    args = parser.parse_args(argv)
    if args.profile:
        import cProfile

        # CPU time of the event-loop thread: what other processes on the machine do is not in it.
        profiler = cProfile.Profile(time.thread_time)
        profiler.runcall(args.run, args)
        profiler.dump_stats(args.profile)
    else:
        args.run(args)


if __name__ == "__main__":
    sys.exit(main())
