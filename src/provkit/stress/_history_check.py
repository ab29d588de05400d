"""The history check: after a run, read back what storage holds and classify what is wrong.

Completed is not correct. For every launched instance (and the sub-orchestrations it
started) this reads every execution's history and checks that each execution has exactly
one start and one terminal event, that the instance returned what its scenario must
return, that every scheduled activity, timer and sub-orchestration was answered exactly
once, and that every activity ran exactly once (executions are counted by the scenario's
activities, matched to schedules by the ``tag`` in their input). Findings are classified
as Jepsen's total-queue checker does: lost, duplicated, unexpected; an instance that never
finished is unknown. Only reads; never changes storage.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from provkit.contract import Provider
from provkit.contract.events import (
    ActivityCompleted,
    ActivityFailed,
    ActivityScheduled,
    Event,
    OrchestrationCancelRequested,
    OrchestrationCompleted,
    OrchestrationContinuedAsNew,
    OrchestrationFailed,
    OrchestrationStarted,
    SubOrchestrationCompleted,
    SubOrchestrationFailed,
    SubOrchestrationScheduled,
    TimerCreated,
    TimerFired,
)
from provkit.reporting import HistoryCheck
from provkit.stress._scenarios import TAG

LOST, DUPLICATED, UNEXPECTED = "lost", "duplicated", "unexpected"
_SHOWN_PER_CLASS = 3
"""Findings of each class kept as text per row; all are counted."""
_READ_CONCURRENCY = 4

_TERMINAL = (OrchestrationCompleted, OrchestrationFailed, OrchestrationContinuedAsNew)
_SUB_ANSWERS = (SubOrchestrationCompleted, SubOrchestrationFailed)
_ANSWERS: tuple[tuple[str, type[Event], tuple[type[Event], ...]], ...] = (
    ("activity", ActivityScheduled, (ActivityCompleted, ActivityFailed)),
    ("timer", TimerCreated, (TimerFired,)),
    ("sub-orchestration", SubOrchestrationScheduled, _SUB_ANSWERS),
)
"""(what, scheduling event, answering events): each schedule is answered once at most."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Launch:
    """One instance the run launched, and what the run saw of it.

    ``acked`` is the terminal status name the runtime committed for it as the run saw it
    (``Completed``, ``Failed``...), ``None`` when the run never saw it finish.
    ``start_failed``: starting it raised, so it may or may not exist.
    """

    instance: str
    number: int
    acked: str | None = None
    start_failed: bool = False


@dataclass
class _Findings:
    counts: Counter[str] = field(default_factory=Counter)
    shown: list[str] = field(default_factory=list)
    shown_per_class: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, text: str) -> None:
        self.counts[kind] += 1
        if self.shown_per_class[kind] < _SHOWN_PER_CLASS:
            self.shown_per_class[kind] += 1
            self.shown.append(f"{kind}: {text}")

    def lines(self) -> tuple[str, ...]:
        """The findings kept, then how many more of each class there are."""
        more = [
            f"{kind}: and {self.counts[kind] - shown} more like these"
            for kind, shown in self.shown_per_class.items()
            if self.counts[kind] > shown
        ]
        return (*self.shown, *more)


@dataclass
class _Read:
    """What the histories read so far hold, across instances."""

    scheduled_tags: Counter[str] = field(default_factory=Counter)
    names: dict[str, str] = field(default_factory=dict)
    completed_tags: set[str] = field(default_factory=set)
    scheduled: int = 0


def _tag(event: ActivityScheduled) -> str | None:
    try:
        value = json.loads(event.input)
    except ValueError:
        return None
    tag = value.get(TAG) if isinstance(value, dict) else None
    return tag if isinstance(tag, str) else None


def _decoded(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


_Loaded = list[list[Event]] | Exception
"""Every execution's history of one instance, or why reading it failed."""


class _Checker:
    """Checks histories one instance at a time, in launch order, so reports are stable."""

    def __init__(self, provider: Provider, expected_output: Callable[[int], Any] | None) -> None:
        self.provider = provider
        self.expected_output = expected_output
        self.findings = _Findings()
        self.read = _Read()
        self.unknown = 0
        self.gate = asyncio.Semaphore(_READ_CONCURRENCY)
        self.disagreeing: set[str] = set()

    async def load(self, instance: str) -> _Loaded:
        async with self.gate:
            try:
                executions = await self.provider.list_executions(instance)
                return [await self.provider.read_execution(instance, e) for e in executions]
            except Exception as exc:
                return exc

    async def load_all(self, instances: Sequence[str]) -> list[_Loaded]:
        return list(await asyncio.gather(*(self.load(instance) for instance in instances)))

    def check_launch(self, launch: Launch, loaded: _Loaded, children: list[str]) -> None:
        add, instance = self.findings.add, launch.instance
        if isinstance(loaded, Exception):
            add(LOST, f"{instance}: reading its history raised {loaded!r}")
            if launch.acked is not None:
                self.disagreeing.add(instance)
            return
        if not loaded or not loaded[-1]:
            if launch.acked is not None:
                add(LOST, f"{instance}: acked {launch.acked} but storage has no history")
                self.disagreeing.add(instance)
            elif not launch.start_failed:
                self.unknown += 1
            return
        status = self.check_instance(instance, loaded, children)
        if launch.acked is not None and status != launch.acked:
            add(LOST, f"{instance}: acked {launch.acked} but storage holds {status or 'no end'}")
            self.disagreeing.add(instance)
        if status is None and launch.acked is None:
            self.unknown += 1
        if status == "Completed" and self.expected_output is not None:
            output = next(e.output for e in loaded[-1] if isinstance(e, OrchestrationCompleted))
            expected = self.expected_output(launch.number)
            if _decoded(output) != expected:
                add(
                    UNEXPECTED,
                    f"{instance}: returned {output[:60]!r}, expected {json.dumps(expected)[:60]!r}",
                )

    def check_child(self, child: str, loaded: _Loaded, children: list[str]) -> None:
        if isinstance(loaded, Exception):
            self.findings.add(LOST, f"{child}: reading its history raised {loaded!r}")
        elif not loaded or not loaded[-1]:
            self.findings.add(LOST, f"{child}: scheduled as a sub-orchestration, never started")
        else:
            self.check_instance(child, loaded, children)

    def check_instance(
        self, instance: str, histories: Sequence[list[Event]], children: list[str]
    ) -> str | None:
        """Check every execution of ``instance``; its final status name, or ``None``."""
        status: str | None = None
        for index, history in enumerate(histories):
            last = index == len(histories) - 1
            where = instance if len(histories) == 1 else f"{instance} execution {index + 1}"
            status = self.check_execution(where, history, last=last)
            children.extend(e.instance for e in history if isinstance(e, SubOrchestrationScheduled))
        return status

    def check_execution(self, where: str, history: Sequence[Event], *, last: bool) -> str | None:
        """Check one execution; the status it ended with (``None``: still running)."""
        add = self.findings.add
        ids = [event.event_id for event in history]
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
        if repeated:
            add(DUPLICATED, f"{where}: event ids {repeated[:5]} stored more than once")
        elif ids != sorted(ids):
            add(UNEXPECTED, f"{where}: events not in event_id order")
        starts = sum(isinstance(e, OrchestrationStarted) for e in history)
        if starts != 1:
            add(DUPLICATED if starts > 1 else LOST, f"{where}: {starts} start events")
        terminals = [(i, e) for i, e in enumerate(history) if isinstance(e, _TERMINAL)]
        if len(terminals) > 1:
            kinds = ", ".join(type(e).__name__ for _, e in terminals)
            add(DUPLICATED, f"{where}: {len(terminals)} terminal events ({kinds})")
        status = _status(history, terminals[0][1]) if terminals else None
        if len(terminals) == 1 and terminals[0][0] != len(history) - 1:
            add(UNEXPECTED, f"{where}: {type(history[-1]).__name__} stored after the end")
        if not last and status != "ContinuedAsNew":
            add(LOST, f"{where}: an earlier execution ended {status or 'without an end event'}")
        self.check_answers(where, history, must_answer=status in ("Completed", "ContinuedAsNew"))
        return status

    def check_answers(self, where: str, history: Sequence[Event], *, must_answer: bool) -> None:
        """Every schedule answered at most once (exactly once when the execution finished)."""
        add = self.findings.add
        for what, scheduling, answering in _ANSWERS:
            scheduled = {e.event_id: e for e in history if isinstance(e, scheduling)}
            answers = Counter(e.source_event_id for e in history if isinstance(e, answering))
            for event_id, event in scheduled.items():
                label = _label(what, event)
                count = answers.get(event_id, 0)
                if count > 1:
                    add(DUPLICATED, f"{where}: {label} answered {count} times")
                elif count == 0 and must_answer:
                    add(LOST, f"{where}: {label} never answered")
            for source, count in answers.items():
                if source not in scheduled:
                    add(UNEXPECTED, f"{where}: {count} answer(s) to {what} {source}, unscheduled")
        completed = {e.source_event_id for e in history if isinstance(e, ActivityCompleted)}
        for event in history:
            if isinstance(event, ActivityScheduled):
                self.read.scheduled += 1
                tag = _tag(event)
                if tag is not None:
                    self.read.scheduled_tags[tag] += 1
                    self.read.names[tag] = event.name
                    if event.event_id in completed:
                        self.read.completed_tags.add(tag)

    def check_executions(self, executed: Mapping[str, int] | None, complete: bool) -> None:
        """Match counted activity executions to the schedules read from history.

        When not every execution could be counted (``complete`` false), the counted ones
        must still not repeat, but a completion nobody was seen running is no finding.
        """
        add = self.findings.add
        read = self.read
        for tag, count in read.scheduled_tags.items():
            if count > 1:
                add(DUPLICATED, f"activity {read.names[tag]} {tag!r} scheduled {count} times")
        if executed is None:
            return
        for tag, count in executed.items():
            if tag not in read.scheduled_tags:
                add(UNEXPECTED, f"activity {tag!r} executed {count} time(s), never scheduled")
            elif count > 1:
                add(DUPLICATED, f"activity {read.names[tag]} {tag!r} executed {count} times")
        if not complete:
            return
        for tag in sorted(read.completed_tags):
            if executed.get(tag, 0) == 0:
                add(UNEXPECTED, f"activity {read.names[tag]} {tag!r} completed, never executed")


def _status(history: Sequence[Event], terminal: Event) -> str:
    """The status name a client would show for an execution ended by ``terminal``."""
    if isinstance(terminal, OrchestrationCompleted):
        return "Completed"
    if isinstance(terminal, OrchestrationContinuedAsNew):
        return "ContinuedAsNew"
    cancelled = any(isinstance(e, OrchestrationCancelRequested) for e in history)
    return "Cancelled" if cancelled else "Failed"


def _label(what: str, event: Event) -> str:
    if isinstance(event, ActivityScheduled):
        tag = _tag(event)
        return f"activity {event.name} {tag!r}" if tag else f"activity {event.event_id}"
    return f"{what} {event.event_id}"


@dataclass(frozen=True, slots=True)
class HistoryReport:
    """The check's record for the row, and the instances the runner must stop counting as
    completed (acked as completed, but storage does not say so)."""

    check: HistoryCheck
    disagreeing: frozenset[str]


async def check_history(
    provider: Provider,
    launches: Sequence[Launch],
    executed: Mapping[str, int] | None,
    expected_output: Callable[[int], Any] | None = None,
    *,
    executions_complete: bool = True,
) -> HistoryReport:
    """Read back every launched instance and classify what is wrong.

    ``executed`` counts finished executions per activity tag (``None``: not counted; then
    only schedules and answers are checked). ``executions_complete`` false says some
    executions went uncounted (a runtime process was killed): those counted must still be
    single. ``expected_output(n)`` is what instance number ``n`` must return.
    """
    checker = _Checker(provider, expected_output)
    children: list[str] = []
    loaded = await checker.load_all([launch.instance for launch in launches])
    for launch, histories in zip(launches, loaded, strict=True):
        checker.check_launch(launch, histories, children)
    while children:
        level, children = children, []
        for child, histories in zip(level, await checker.load_all(level), strict=True):
            checker.check_child(child, histories, children)
    checker.check_executions(executed, executions_complete)
    findings = checker.findings
    return HistoryReport(
        check=HistoryCheck(
            checked=len(launches),
            unknown=checker.unknown,
            lost=findings.counts[LOST],
            duplicated=findings.counts[DUPLICATED],
            unexpected=findings.counts[UNEXPECTED],
            scheduled=checker.read.scheduled,
            executed=None
            if executed is None or not executions_complete
            else sum(executed.values()),
            findings=findings.lines(),
        ),
        disagreeing=frozenset(checker.disagreeing),
    )
