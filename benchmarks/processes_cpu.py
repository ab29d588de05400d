"""Where the CPU of a ``stress-run --processes`` run goes: runtime processes or PostgreSQL.

Runs ``stress-run`` with the given arguments and samples, every 0.2 s, the CPU time (user +
system, from ``/proc``) of the launching client, of each runtime process it starts, and of
the PostgreSQL backend serving each of their connections (matched through ``ss``: the
backend whose socket's peer is the client's socket). Rows are told apart by their runtime
processes (each row starts new ones). For each row it prints wall seconds, CPU seconds of
each group, and the share of the machine's cores they used, e.g.

    python benchmarks/processes_cpu.py -- --config throughput --provider postgres \\
        --processes 1,2,4 --duration 10

Linux only; CPU of a process that ends between two samples is counted up to its last
sample. Run it as a user that may read the postgres processes' ``/proc`` entries.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

_TICK = os.sysconf("SC_CLK_TCK")
_SS_PID = re.compile(r'\("([^"]+)",pid=(\d+)')
_INTERVAL = 0.2
_PORT = re.compile(r":(\d+)$")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far, or ``None`` if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def children(pid: int) -> list[int]:
    """Runtime processes started by ``pid`` (direct children running python)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if parent == pid:
            found.append(int(entry))
    return found


def connections(server_port: int) -> tuple[dict[int, set[int]], dict[int, int]]:
    """Client pid -> its local ports to the server; client port -> backend pid."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established"], capture_output=True, text=True, check=False
    ).stdout
    client_ports: dict[int, set[int]] = defaultdict(set)
    backends: dict[int, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        local, peer, users = parts[2], parts[3], " ".join(parts[4:])
        owner = _SS_PID.search(users)
        local_port, peer_port = _PORT.search(local), _PORT.search(peer)
        if owner is None or local_port is None or peer_port is None:
            continue
        pid = int(owner[2])
        if int(peer_port[1]) == server_port:
            client_ports[pid].add(int(local_port[1]))
        elif int(local_port[1]) == server_port:
            backends[int(peer_port[1])] = pid
    return client_ports, backends


@dataclass
class Row:
    """CPU seen for one row: per process, the latest cumulative reading and the first."""

    runtimes: set[int]
    started: float
    ended: float = 0.0
    first: dict[tuple[str, int], float] = field(default_factory=dict)
    last: dict[tuple[str, int], float] = field(default_factory=dict)

    def see(self, group: str, pid: int, seconds: float) -> None:
        self.first.setdefault((group, pid), seconds)
        self.last[(group, pid)] = seconds

    def used(self, group: str) -> float:
        return sum(
            self.last[key] - (self.first[key] if group == "client" else 0.0)
            for key in self.last
            if key[0] == group
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-port", type=int, default=5432)
    parser.add_argument("stress_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    stress_args = [a for a in args.stress_args if a != "--"]
    runner = subprocess.Popen(
        [sys.executable, "-m", "provkit.stress.cli", *stress_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    rows: list[Row] = []
    backends_of: dict[int, set[int]] = defaultdict(set)
    while runner.poll() is None:
        runtimes = set(children(runner.pid))
        now = time.perf_counter()
        if runtimes and (not rows or not runtimes & rows[-1].runtimes):
            rows.append(Row(set(), now))
        if rows and runtimes:
            row = rows[-1]
            row.runtimes |= runtimes  # a row's processes start one after the other
            row.ended = now
            client_ports, backends = connections(args.server_port)
            for pid in runtimes:
                for port in client_ports.get(pid, ()):
                    if port in backends:
                        backends_of[pid].add(backends[port])
            for group, pids in (
                ("client", [runner.pid]),
                ("runtime", list(runtimes)),
                ("backend", [b for pid in runtimes for b in backends_of[pid]]),
            ):
                for pid in pids:
                    seconds = cpu_seconds(pid)
                    if seconds is not None:
                        row.see(group, pid, seconds)
        time.sleep(_INTERVAL)
    output = runner.stdout.read() if runner.stdout else ""
    print(output)
    cores = os.cpu_count() or 1
    print(
        f"CPU while runtime processes ran ({cores} cores; share = CPU s / (wall s x cores); "
        "runtime s includes each process's start-up):"
    )
    print(f"{'row':>4} {'procs':>5} {'wall s':>7} {'runtime s':>10} {'backends s':>11} "
          f"{'client s':>9} {'share':>6}")  # fmt: skip
    for n, row in enumerate(rows, 1):
        wall = row.ended - row.started
        runtime, backend, client = row.used("runtime"), row.used("backend"), row.used("client")
        share = (runtime + backend + client) / (wall * cores) if wall else 0.0
        print(
            f"{n:>4} {len(row.runtimes):>5} {wall:>7.1f} {runtime:>10.1f} {backend:>11.1f} "
            f"{client:>9.1f} {share:>6.0%}"
        )
    return runner.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
