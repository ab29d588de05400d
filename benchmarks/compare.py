"""Run one ``runtime_bench.py`` workload under two interpreters in turn and compare them.

Each interpreter is a venv with a different checkout of provkit installed (for example the
previous main and this branch). The runs alternate A B A B ... so that drift in the
machine's speed hits both alike; the table gives each figure's median, min and max, and the
ratio of the medians (B over A).

    python benchmarks/compare.py --base ../old/.venv/bin/python --new .venv/bin/python \\
        --repeat 5 -- sequential --n 100 1000 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

BENCH = Path(__file__).with_name("runtime_bench.py")
KEYS = ("bench", "n", "width", "config", "activity_delay_ms")
"""Fields that name a measurement (the rest are figures)."""


def run_once(python: str, bench_args: list[str]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [python, str(BENCH), *bench_args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{python} failed:\n{done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="interpreter of the checkout to compare to")
    parser.add_argument("--new", default=sys.executable, help="interpreter of this checkout")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("bench_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    bench_args = [a for a in args.bench_args if a != "--"]
    figures: dict[tuple[Any, ...], dict[str, dict[str, list[float]]]] = defaultdict(
        lambda: {"base": defaultdict(list), "new": defaultdict(list)}
    )
    for round_number in range(args.repeat):
        for side, python in (("base", args.base), ("new", args.new)):
            for record in run_once(python, bench_args):
                key = tuple(record.get(k) for k in KEYS)
                for name, value in record.items():
                    if name not in KEYS and isinstance(value, int | float):
                        figures[key][side][name].append(float(value))
            print(f"round {round_number + 1}/{args.repeat}: {side} done", file=sys.stderr)
    for key, sides in figures.items():
        label = " ".join(f"{k}={v}" for k, v in zip(KEYS, key, strict=True) if v is not None)
        print(f"\n{label}")
        header = f"{'base median [min-max]':>28} {'new median [min-max]':>28} new/base"
        print(f"  {'figure':<26} {header}")
        for name in sides["new"]:
            base, new = sides["base"].get(name, []), sides["new"][name]
            if not base:
                continue
            b, n = statistics.median(base), statistics.median(new)
            ratio = f"{n / b:.3f}" if b else "-"
            print(
                f"  {name:<26} {b:>12.4g} [{min(base):.4g}-{max(base):.4g}]".ljust(57)
                + f" {n:>12.4g} [{min(new):.4g}-{max(new):.4g}]".ljust(29)
                + f" {ratio}"
            )


if __name__ == "__main__":
    main()
