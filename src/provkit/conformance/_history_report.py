"""How a checked concurrent history is shown: the queue tallies, then each finding with its calls.

Each call is one line: its number, task, when it ran (seconds since the run began), the
provider clock around it, the call and its outcome, so a provider author can line the
operations of a finding up against their provider's own logs.
"""

from __future__ import annotations

from provkit.conformance._history import Call, History
from provkit.conformance._history_check import ORDER, Verdict

SHOWN_PER_PROPERTY = 3
"""Findings printed per property; the rest are counted."""


def render(history: History, verdict: Verdict, provider: str) -> str:
    """The report of ``verdict``: a header, the tallies and the findings, as text."""
    calls = history.calls
    header = (
        f"concurrency history of {provider}: {history.tasks} tasks for {history.seconds:g} s, "
        f"{len(calls)} calls ({sum(c.kind == 'fetch' and c.token is not None for c in calls)} "
        f"deliveries); {history.drain_note}"
    )
    lines = [header, "", *_tallies(verdict)]
    if verdict.valid is None:
        lost = sum(len(t.lost) for t in verdict.tallies.values())
        lines += [
            "",
            f"verdict UNKNOWN: {lost} values were never taken off their queue and the queues "
            "were not drained, so whether they are lost cannot be told",
        ]
    for prop in ORDER:
        found = [f for f in verdict.findings if f.prop == prop]
        if not found:
            continue
        more = f", the first {SHOWN_PER_PROPERTY} shown" if len(found) > SHOWN_PER_PROPERTY else ""
        lines += ["", f"{prop}: {len(found)} violation{'s' * (len(found) > 1)}{more}"]
        for finding in found[:SHOWN_PER_PROPERTY]:
            lines.append(f"  {finding.message}")
            lines += [f"    {describe(calls[i], history)}" for i in finding.calls]
    return "\n".join(lines)


def _tallies(verdict: Verdict) -> list[str]:
    columns = ("attempted", "acknowledged", "dequeued", "lost", "unexpected", "duplicated")
    lines = [f"{'':<14}" + "".join(f"{c:>13}" for c in (*columns, "recovered"))]
    for queue, tally in verdict.tallies.items():
        counts = (
            tally.attempted,
            tally.acknowledged,
            tally.dequeued,
            len(tally.lost),
            len(tally.unexpected),
            len(tally.duplicated),
            len(tally.recovered),
        )
        lines.append(f"{queue:<14}" + "".join(f"{n:>13}" for n in counts))
    for queue, tally in verdict.tallies.items():
        for name, labels in (
            ("lost", tally.lost),
            ("unexpected", tally.unexpected),
            ("duplicated", tally.duplicated),
        ):
            if labels:
                shown = ", ".join(labels[:10]) + (" ..." if len(labels) > 10 else "")
                lines.append(f"{queue} {name}: {shown}")
    return lines


def describe(call: Call, history: History) -> str:
    """One line for ``call``: number, task, times, provider clock, the call and its outcome."""
    lo, hi = call.clock_lo - history.origin_ms, call.clock_hi - history.origin_ms
    clock = f"T+{lo}" if lo == hi else f"T+{lo}..{hi}"
    when = f"{call.started_s:.4f}..{call.ended_s:.4f} s"
    return f"#{call.index} {call.task} {when} clock {clock}: {_call_text(call)} -> {_outcome(call)}"


def _call_text(call: Call) -> str:
    parts: list[str] = []
    if call.kind == "enqueue":
        parts.append(", ".join(call.labels))
        if call.key is not None:
            parts.append(f"instance {call.key}")
        if call.duration_ms is not None:
            parts.append(f"delay {call.duration_ms} ms")
    elif call.kind == "fetch":
        parts.append(f"lock {call.duration_ms} ms")
    else:
        parts.append(f"token {_short(call.token)}")
        if call.kind == "ack" and call.labels:
            parts.append("carrying " + ", ".join(call.labels))
        if call.kind == "abandon" and call.duration_ms is not None:
            parts.append(f"delay {call.duration_ms} ms")
        if call.kind == "renew":
            parts.append(f"extend {call.duration_ms} ms")
        if call.ignore_attempt:
            parts.append("ignore_attempt")
    return f"{call.operation}({', '.join(parts)})"


def _outcome(call: Call) -> str:
    if call.error is not None:
        text = str(call.error).strip().splitlines()
        return f"raised {type(call.error).__name__}" + (f": {text[0]}" if text else "")
    if call.kind != "fetch":
        return "ok"
    if call.token is None:
        return "None"
    what = call.key if call.queue == "worker" else f"{call.key}: [{', '.join(call.labels)}]"
    return f"{what}, attempt {call.attempt}, token {_short(call.token)}"


def _short(token: str | None) -> str:
    if token is None:
        return "None"
    return token if len(token) <= 12 else "…" + token[-10:]
