"""An executable model of the provider contract, for the ``model`` category's state machine.

Plain structures hold what a correct provider holds after a sequence of calls: the two
queues, the locks and leases, the histories. Each ``observe_*`` method takes what the provider
did for one call, raises ``Violation`` when the contract forbids that outcome, and otherwise
moves the model to it. Moments are ``Window``s: exact with an injected clock, the span of the
call without one. Where the contract leaves a choice open (an outcome that depends on where
inside a call's window the provider read its clock, or a case the text does not settle), every
allowed outcome is accepted and the one the provider chose is kept. Never calls a provider.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from provkit.conformance._python_text import python_text
from provkit.contract import (
    INITIAL_EXECUTION_ID,
    ActivityId,
    DuplicateEventError,
    ExecutionMetadata,
    LockLostError,
    OrchestrationItem,
    WorkLease,
)
from provkit.contract.events import Event
from provkit.contract.messages import ActivityExecute, OrchestratorMessage

NO_MESSAGE_LOST = "no message lost"
ONE_HOLDER = "at most one live holder"
NOTHING_AFTER_ACK = "nothing delivered after its ack"
NOTHING_UNEXPECTED = "nothing delivered that was never enqueued"
OLDEST_FIRST = "oldest first"
BATCH = "the batch is every visible message of the instance, in enqueue order"
VISIBILITY = "visibility"
ATTEMPTS = "attempt counts"
TOKENS = "lock tokens"
HISTORY = "history and executions"
ERRORS = "typed errors"
ATOMIC = "a call that raised changed nothing"
CANCELLED = "cancelled worker items are gone"


@dataclass(frozen=True, slots=True)
class Window:
    """A moment known to lie in [lo, hi] epoch ms; ``lo == hi`` with an injected clock."""

    lo: int
    hi: int

    def plus(self, ms: int) -> Window:
        return Window(self.lo + ms, self.hi + ms)

    def not_before(self, ms: int | None) -> Window:
        """This moment, or ``ms`` where that is later (a timer's fire time)."""
        if ms is None:
            return self
        return Window(max(self.lo, ms), max(self.hi, ms))

    def surely_reached(self, now: Window) -> bool:
        """``now >= self`` whatever the exact moments."""
        return self.hi <= now.lo

    def maybe_reached(self, now: Window) -> bool:
        """``now >= self`` for some choice of the exact moments."""
        return self.lo <= now.hi


@dataclass(frozen=True, slots=True)
class Returned:
    """A call returned ``value``."""

    value: object


@dataclass(frozen=True, slots=True)
class Raised:
    """A call raised ``error``."""

    error: BaseException


Outcome = Returned | Raised


class Violation(Exception):
    """An outcome the contract forbids.

    ``prop`` names the property broken; ``expect`` is a Python expression over ``{r}`` (the
    call's result, or the ``ProviderError`` it raised) that is true for every outcome the
    contract allows here, for replay scripts.
    """

    def __init__(self, prop: str, message: str, expect: str) -> None:
        super().__init__(f"{prop}: {message}")
        self.prop = prop
        self.message = message
        self.expect = expect


RAISES_LOCK_LOST = "isinstance({r}, LockLostError)"
SUCCEEDS = "not isinstance({r}, ProviderError)"


@dataclass(slots=True)
class Queued:
    """A message in the orchestrator queue, or an item in the worker queue."""

    seq: int
    value: OrchestratorMessage | ActivityExecute
    label: str
    visible: Window
    step: int
    deliveries: int = 0

    @property
    def instance(self) -> str:
        return self.value.instance


@dataclass(slots=True)
class Hold:
    """What one fetch handed out: an instance lock or a worker lease, and its token."""

    token: str
    key: str | int
    """The locked instance, or the seq of the leased worker item."""
    batch: tuple[int, ...]
    expires: Window
    step: int
    ended: str | None = None
    """Why the token is dead, once the model knows it is."""
    item_gone: int | None = None
    """The step whose ack cancelled the leased item while leased."""


@dataclass(slots=True)
class _Instance:
    executions: dict[int, dict[int, Event]] = field(default_factory=dict)
    record: tuple[str, str | None] | None = None

    @property
    def current(self) -> int:
        return max(self.executions, default=INITIAL_EXECUTION_ID)

    def events(self, execution_id: int) -> list[Event]:
        stored = self.executions.get(execution_id, {})
        return [stored[event_id] for event_id in sorted(stored)]


Liveness = Literal["live", "dead", "unknown"]


class ContractModel:
    """The state a correct provider is in, checked against each observed outcome."""

    def __init__(self, origin_ms: int) -> None:
        self.origin_ms = origin_ms
        self.messages: dict[int, Queued] = {}
        self.work: dict[int, Queued] = {}
        self.holds: dict[str, Hold] = {}
        self.work_holds: dict[str, Hold] = {}
        self._instance_hold: dict[str, Hold] = {}
        self._item_hold: dict[int, Hold] = {}
        self._instances: dict[str, _Instance] = {}
        self._pending: dict[object, int] = {}
        self._gone: dict[object, tuple[str, str]] = {}
        self._labels: dict[object, str] = {}
        self._seq = itertools.count(1)

    # -- reading the model ---------------------------------------------------------------

    def label(self, value: object) -> str | None:
        """The label the run gave a message or worker item, ``None`` if it never made it."""
        return self._labels.get(value)

    def at(self, window: Window) -> str:
        """A moment relative to the run's start, ``T+5`` or ``T+5..7`` (ms)."""
        lo, hi = window.lo - self.origin_ms, window.hi - self.origin_ms
        return f"T+{lo}" if lo == hi else f"T+{lo}..{hi}"

    def current_execution(self, instance: str) -> int:
        return self._instance(instance).current

    def events(self, instance: str, execution_id: int | None = None) -> list[Event]:
        """Events of ``execution_id`` (default: the current execution) in event id order."""
        state = self._instance(instance)
        return state.events(state.current if execution_id is None else execution_id)

    def executions(self, instance: str) -> list[int]:
        return sorted(self._instance(instance).executions)

    def live_holds(self) -> list[Hold]:
        """Holds whose token the model does not know to be dead, oldest first."""
        return [hold for hold in self.holds.values() if hold.ended is None] + [
            hold for hold in self.work_holds.values() if hold.ended is None
        ]

    def orchestrator_tokens(self) -> list[Hold]:
        return list(self.holds.values())

    def work_tokens(self) -> list[Hold]:
        return list(self.work_holds.values())

    def deadlines(self) -> list[int]:
        """Every visibility time and expiry the model knows (epoch ms, exact windows only)."""
        times = {q.visible.lo for q in [*self.messages.values(), *self.work.values()]}
        times |= {h.expires.lo for h in self.live_holds()}
        return sorted(times)

    def duplicate_ids(self, instance: str, execution_id: int, events: Sequence[Event]) -> list[int]:
        """Event ids of ``events`` already stored in that execution or repeated among them."""
        stored = self._instance(instance).executions.get(execution_id, {})
        ids = [event.event_id for event in events]
        return sorted({i for i in ids if i in stored or ids.count(i) > 1})

    def _instance(self, instance: str) -> _Instance:
        return self._instances.setdefault(instance, _Instance())

    def _liveness(self, hold: Hold | None, now: Window) -> tuple[Liveness, str]:
        if hold is None:
            return "dead", "was never issued"
        if hold.ended is not None:
            return "dead", f"is dead: {hold.ended}"
        if hold.expires.surely_reached(now):
            return "dead", f"expired at {self.at(hold.expires)} (now {self.at(now)})"
        if hold.expires.maybe_reached(now):
            return "unknown", f"expires at {self.at(hold.expires)}, now is {self.at(now)}"
        return "live", (
            f"is live: taken at step {hold.step}, expires at {self.at(hold.expires)}, "
            f"now {self.at(now)}"
        )

    def _describe(self, value: object) -> str:
        label = self._labels.get(value)
        return label if label is not None else repr(value)

    def _whereabouts(self, value: object) -> tuple[str, str]:
        """Why delivering a message or item that the queue does not hold is wrong."""
        gone = self._gone.get(value)
        if gone is not None:
            prop, why = gone
            return prop, f"{self._describe(value)}, which {why}"
        return NOTHING_UNEXPECTED, f"{value!r}, which was never enqueued"

    # -- enqueue -------------------------------------------------------------------------

    def observe_enqueue(
        self,
        step: int,
        now: Window,
        message: OrchestratorMessage,
        label: str,
        delay_ms: int | None,
        outcome: Outcome,
    ) -> None:
        _require_success("enqueue_for_orchestrator", outcome)
        self._add_message(step, now.plus(delay_ms or 0), message, label)

    def observe_enqueue_work(
        self, step: int, now: Window, item: ActivityExecute, label: str, outcome: Outcome
    ) -> None:
        _require_success("enqueue_for_worker", outcome)
        self._add_work(step, now, item, label)

    def _add_message(
        self, step: int, visible: Window, message: OrchestratorMessage, label: str
    ) -> None:
        seq = next(self._seq)
        visible = visible.not_before(message.visible_at_ms)
        self.messages[seq] = Queued(seq, message, label, visible, step)
        self._pending[message] = seq
        self._labels[message] = label

    def _add_work(self, step: int, visible: Window, item: ActivityExecute, label: str) -> None:
        seq = next(self._seq)
        self.work[seq] = Queued(seq, item, label, visible, step)
        self._pending[item] = seq
        self._labels[item] = label

    def _remove(self, queue: dict[int, Queued], seq: int, prop: str, why: str) -> None:
        entry = queue.pop(seq)
        del self._pending[entry.value]
        self._gone[entry.value] = (prop, why)

    def _reject(self, step: int, values: Sequence[tuple[object, str]]) -> None:
        """Note what a call that raised would have enqueued: it must never show up."""
        for value, label in values:
            self._gone.setdefault(
                value, (ATOMIC, f"only the call at step {step} enqueued, and it raised")
            )
            self._labels.setdefault(value, label)

    # -- orchestrator queue --------------------------------------------------------------

    def observe_fetch(self, step: int, now: Window, lock_ms: int, outcome: Outcome) -> None:
        """``fetch_orchestration_item(lock_ms / 1000)`` returned ``outcome`` at ``now``."""
        item = _returned("fetch_orchestration_item", outcome)
        sure, maybe = self._candidates(now)
        if item is None:
            if sure:
                allowed = self._unbeaten(sure, maybe)
                raise Violation(
                    NO_MESSAGE_LOST,
                    "fetch_orchestration_item returned None although "
                    + "; ".join(self._why_candidate(i, now) for i in sorted(sure)),
                    f"{{r}} is not None and {{r}}.instance in {sorted(allowed)!r}",
                )
            return
        if not isinstance(item, OrchestrationItem):
            raise Violation(
                ERRORS,
                f"fetch_orchestration_item returned {item!r}, not an OrchestrationItem or None",
                "{r} is None or isinstance({r}, OrchestrationItem)",
            )
        instance = item.instance
        allowed = self._unbeaten(sure, maybe)
        expect_instance = (
            f"{{r}} is not None and {{r}}.instance in {sorted(allowed)!r}"
            if sure
            else f"{{r}} is None or {{r}}.instance in {sorted(allowed)!r}"
        )
        if instance not in maybe:
            prop, why = self._why_not_candidate(instance, now)
            raise Violation(
                prop, f"fetch_orchestration_item locked {instance!r}: {why}", expect_instance
            )
        if instance not in allowed:
            beaten_by = self._beaten_by(instance, sure, maybe)
            assert beaten_by is not None
            first = _first(sure[beaten_by])
            raise Violation(
                OLDEST_FIRST,
                f"fetch_orchestration_item locked {instance!r}, but {beaten_by!r} holds an older "
                f"visible message: {first.label} (visible at {self.at(first.visible)}, "
                f"enqueued at step {first.step})",
                expect_instance,
            )
        seqs = self._batch_seqs(instance, item.messages, now)
        batch = [self.messages[seq] for seq in seqs]
        for entry in batch:
            entry.deliveries += 1
        attempts = max(entry.deliveries for entry in batch)
        if item.attempt_count != attempts:
            counts = ", ".join(f"{e.label} delivered {e.deliveries}x" for e in batch)
            raise Violation(
                ATTEMPTS,
                f"attempt_count is {item.attempt_count}, expected {attempts} ({counts})",
                f"{{r}}.attempt_count == {attempts}",
            )
        self._check_turn_state(item)
        self._check_new_token(item.lock_token, self.holds, "fetch_orchestration_item")
        previous = self._instance_hold.get(instance)
        if previous is not None and previous.ended is None:
            previous.ended = f"expired (step {step} re-took {instance!r})"
        hold = Hold(item.lock_token, instance, tuple(seqs), now.plus(lock_ms), step)
        self.holds[item.lock_token] = hold
        self._instance_hold[instance] = hold

    def _candidates(self, now: Window) -> tuple[dict[str, list[Queued]], dict[str, list[Queued]]]:
        """Instances surely / maybe fetchable now, each with its surely / maybe visible messages."""
        sure: dict[str, list[Queued]] = {}
        maybe: dict[str, list[Queued]] = {}
        for entry in self.messages.values():
            hold = self._instance_hold.get(entry.instance)
            live, _ = self._liveness(hold, now)
            if live != "live" and entry.visible.maybe_reached(now):
                maybe.setdefault(entry.instance, []).append(entry)
            if live == "dead" and entry.visible.surely_reached(now):
                sure.setdefault(entry.instance, []).append(entry)
        return sure, maybe

    def _unbeaten(self, sure: dict[str, list[Queued]], maybe: dict[str, list[Queued]]) -> list[str]:
        return [i for i in maybe if self._beaten_by(i, sure, maybe) is None]

    @staticmethod
    def _beaten_by(
        instance: str, sure: dict[str, list[Queued]], maybe: dict[str, list[Queued]]
    ) -> str | None:
        """A surely fetchable instance whose oldest message surely ranks before all of ours."""
        for other, entries in sure.items():
            if other == instance:
                continue
            first = _first(entries)
            if all(_surely_before(first, mine) for mine in maybe[instance]):
                return other
        return None

    def _why_candidate(self, instance: str, now: Window) -> str:
        sure, _ = self._candidates(now)
        first = _first(sure[instance])
        return (
            f"{instance!r} is unlocked and holds {first.label} "
            f"(visible at {self.at(first.visible)}, enqueued at step {first.step})"
        )

    def _why_not_candidate(self, instance: str, now: Window) -> tuple[str, str]:
        hold = self._instance_hold.get(instance)
        live, why = self._liveness(hold, now)
        if hold is not None and live == "live":
            return ONE_HOLDER, f"the lock from step {hold.step} on it {why}"
        queued = [e for e in self.messages.values() if e.instance == instance]
        if queued:
            first = min(queued, key=lambda e: e.visible.lo)
            return VISIBILITY, (
                f"none of its messages is visible yet ({first.label} becomes visible at "
                f"{self.at(first.visible)}, now {self.at(now)})"
            )
        return NO_MESSAGE_LOST, f"it has no queued message (now {self.at(now)})"

    def _batch_seqs(
        self, instance: str, messages: Sequence[OrchestratorMessage], now: Window
    ) -> list[int]:
        seqs: list[int] = []
        shown = ", ".join(self._describe(m) for m in messages)
        for message in messages:
            seq = self._pending.get(message)
            if seq is None or seq not in self.messages:
                prop, why = self._whereabouts(message)
                raise Violation(
                    prop,
                    f"the batch of {instance!r} [{shown}] holds {why}",
                    f"{python_text(message)} not in {{r}}.messages",
                )
            entry = self.messages[seq]
            if entry.instance != instance:
                raise Violation(
                    BATCH,
                    f"the batch of {instance!r} holds {entry.label}, a message of "
                    f"{entry.instance!r}",
                    f"{python_text(message)} not in {{r}}.messages",
                )
            if seq in seqs:
                raise Violation(
                    BATCH,
                    f"the batch of {instance!r} [{shown}] holds {entry.label} twice",
                    f"{{r}}.messages.count({python_text(message)}) == 1",
                )
            if not entry.visible.maybe_reached(now):
                raise Violation(
                    VISIBILITY,
                    f"the batch of {instance!r} holds {entry.label}, invisible until "
                    f"{self.at(entry.visible)} (now {self.at(now)})",
                    f"{python_text(message)} not in {{r}}.messages",
                )
            seqs.append(seq)
        ordered = sorted(seqs)
        if seqs != ordered:
            expected = [self.messages[s].label for s in ordered]
            raise Violation(
                BATCH,
                f"the batch of {instance!r} is [{shown}], not in enqueue order ({expected})",
                f"{{r}}.messages == {python_text([self.messages[s].value for s in ordered])}",
            )
        for entry in self.messages.values():
            left_out = entry.instance == instance and entry.seq not in seqs
            if left_out and entry.visible.surely_reached(now):
                everything = [self.messages[s].value for s in sorted([*seqs, entry.seq])]
                raise Violation(
                    NO_MESSAGE_LOST,
                    f"the batch of {instance!r} [{shown}] leaves out {entry.label} "
                    f"(enqueued at step {entry.step}, visible since "
                    f"{self.at(entry.visible)}, now {self.at(now)})",
                    f"all(m in {{r}}.messages for m in {python_text(everything)})",
                )
        return seqs

    def _check_turn_state(self, item: OrchestrationItem) -> None:
        state = self._instance(item.instance)
        current = state.current
        history = state.events(current)
        if item.history_error is not None:
            raise Violation(
                HISTORY,
                f"the item of {item.instance!r} reports history_error {item.history_error!r}",
                "{r}.history_error is None",
            )
        if (item.execution_id, item.history) != (current, history):
            raise Violation(
                HISTORY,
                f"the item of {item.instance!r} has execution {item.execution_id} with "
                f"{_event_ids(item.history)}, expected execution {current} with "
                f"{_event_ids(history)}",
                f"({{r}}.execution_id, {{r}}.history) == ({current!r}, {python_text(history)})",
            )
        record = state.record or (None, None)
        if (item.orchestration_name, item.version) != record:
            raise Violation(
                HISTORY,
                f"the item of {item.instance!r} names orchestration "
                f"{(item.orchestration_name, item.version)!r}, expected {record!r} "
                "(from the instance record the last ack with a name wrote)",
                f"({{r}}.orchestration_name, {{r}}.version) == {record!r}",
            )

    def _check_new_token(self, token: object, issued: dict[str, Hold], operation: str) -> None:
        if not isinstance(token, str):
            raise Violation(
                TOKENS, f"{operation} returned lock token {token!r}, not a str", "False"
            )
        if token in issued:
            raise Violation(
                TOKENS,
                f"{operation} handed out token {token!r} again (first issued at step "
                f"{issued[token].step})",
                f"{{r}}.lock_token != {token!r}",
            )

    def observe_ack(
        self,
        step: int,
        now: Window,
        token: str,
        execution_id: int,
        history_delta: Sequence[Event],
        worker_items: Sequence[tuple[ActivityExecute, str]],
        orchestrator_items: Sequence[tuple[OrchestratorMessage, str]],
        metadata: ExecutionMetadata,
        cancelled: Sequence[ActivityId],
        outcome: Outcome,
    ) -> None:
        """An ``ack_orchestration_item`` with these arguments (new items with their labels)."""
        hold = self.holds.get(token)
        live, why = self._liveness(hold, now)
        duplicates = self.duplicate_ids(str(hold.key), execution_id, history_delta) if hold else []
        operation = "ack_orchestration_item"
        result = _classify(operation, outcome)
        allowed = set()
        if live != "dead":
            allowed.add("duplicate" if duplicates else "ok")
        if live != "live":
            allowed.add("lock_lost")
        if live == "dead" and duplicates:
            allowed.add("duplicate")
        if result not in allowed:
            raise self._unexpected(operation, result, allowed, why, duplicates, outcome)
        if result != "ok":
            if result == "lock_lost":
                self._learn_dead(hold, now, step)
            self._reject(step, [*worker_items, *orchestrator_items])
            return
        assert hold is not None
        instance = str(hold.key)
        for seq in hold.batch:
            self._remove(self.messages, seq, NOTHING_AFTER_ACK, f"was acked at step {step}")
        state = self._instance(instance)
        if metadata.orchestration_name is not None:
            state.record = (metadata.orchestration_name, metadata.orchestration_version)
        events = state.executions.setdefault(execution_id, {})
        for event in history_delta:
            events[event.event_id] = event
        for item, label in worker_items:
            self._add_work(step, now, item, label)
        for message, label in orchestrator_items:
            self._add_message(step, now, message, label)
        for key in cancelled:
            for entry in [e for e in self.work.values() if _activity(e) == key]:
                self._remove(self.work, entry.seq, CANCELLED, f"the ack at step {step} cancelled")
                lease = self._item_hold.get(entry.seq)
                if lease is not None and lease.ended is None:
                    lease.item_gone = step
        hold.ended = f"acked at step {step}"
        del self._instance_hold[instance]

    def observe_abandon(
        self,
        step: int,
        now: Window,
        token: str,
        delay_ms: int | None,
        ignore_attempt: bool,
        outcome: Outcome,
    ) -> None:
        hold = self.holds.get(token)
        if not self._token_call("abandon_orchestration_item", hold, now, step, outcome):
            return
        assert hold is not None
        for seq in hold.batch:
            entry = self.messages[seq]
            if delay_ms is not None:
                entry.visible = now.plus(delay_ms)
            if ignore_attempt:
                entry.deliveries = max(0, entry.deliveries - 1)
        hold.ended = f"abandoned at step {step}"
        del self._instance_hold[str(hold.key)]

    def observe_renew(
        self, step: int, now: Window, token: str, extend_ms: int, outcome: Outcome
    ) -> None:
        hold = self.holds.get(token)
        if self._token_call("renew_orchestration_item_lock", hold, now, step, outcome):
            assert hold is not None
            hold.expires = now.plus(extend_ms)

    # -- worker queue --------------------------------------------------------------------

    def observe_fetch_work(self, step: int, now: Window, lock_ms: int, outcome: Outcome) -> None:
        """``fetch_work_item(lock_ms / 1000)`` returned ``outcome`` at ``now``."""
        lease = _returned("fetch_work_item", outcome)
        sure = [e for e in self.work.values() if self._work_state(e, now) == "sure"]
        maybe = [e for e in self.work.values() if self._work_state(e, now) != "no"]
        first = sure[0] if sure else None
        if lease is None:
            if first is not None:
                raise Violation(
                    NO_MESSAGE_LOST,
                    f"fetch_work_item returned None although {first.label} is visible and "
                    f"unleased (enqueued at step {first.step}, visible since "
                    f"{self.at(first.visible)}, now {self.at(now)})",
                    "{r} is not None",
                )
            return
        if not isinstance(lease, WorkLease):
            raise Violation(
                ERRORS,
                f"fetch_work_item returned {lease!r}, not a WorkLease or None",
                "{r} is None or isinstance({r}, WorkLease)",
            )
        allowed = python_text([e.value for e in maybe if first is None or e.seq <= first.seq])
        expect = f"{{r}} is not None and {{r}}.item in {allowed}"
        if first is None:
            expect = f"{{r}} is None or {{r}}.item in {allowed}"
        seq = self._pending.get(lease.item)
        if seq is None or seq not in self.work:
            prop, why = self._whereabouts(lease.item)
            raise Violation(prop, f"fetch_work_item leased {why}", expect)
        entry = self.work[seq]
        if all(e.seq != seq for e in maybe):
            hold = self._item_hold.get(seq)
            live, why = self._liveness(hold, now)
            if hold is not None and live == "live":
                raise Violation(
                    ONE_HOLDER,
                    f"fetch_work_item leased {entry.label}, whose lease from step "
                    f"{hold.step} {why}",
                    expect,
                )
            raise Violation(
                VISIBILITY,
                f"fetch_work_item leased {entry.label}, invisible until "
                f"{self.at(entry.visible)} (now {self.at(now)})",
                expect,
            )
        if first is not None and entry.seq > first.seq:
            raise Violation(
                OLDEST_FIRST,
                f"fetch_work_item leased {entry.label} (enqueued at step {entry.step}), but "
                f"{first.label} (enqueued at step {first.step}) is visible, unleased and "
                "earlier in the queue",
                expect,
            )
        entry.deliveries += 1
        if lease.attempt_count != entry.deliveries:
            raise Violation(
                ATTEMPTS,
                f"attempt_count of {entry.label} is {lease.attempt_count}, expected "
                f"{entry.deliveries}",
                f"{{r}}.attempt_count == {entry.deliveries}",
            )
        self._check_new_token(lease.lock_token, self.work_holds, "fetch_work_item")
        previous = self._item_hold.get(seq)
        if previous is not None and previous.ended is None:
            previous.ended = f"expired (step {step} re-took {entry.label})"
        hold = Hold(lease.lock_token, seq, (seq,), now.plus(lock_ms), step)
        self.work_holds[lease.lock_token] = hold
        self._item_hold[seq] = hold

    def _work_state(self, entry: Queued, now: Window) -> Literal["sure", "maybe", "no"]:
        live, _ = self._liveness(self._item_hold.get(entry.seq), now)
        if live == "dead" and entry.visible.surely_reached(now):
            return "sure"
        if live != "live" and entry.visible.maybe_reached(now):
            return "maybe"
        return "no"

    def observe_ack_work(
        self,
        step: int,
        now: Window,
        token: str,
        completion: tuple[OrchestratorMessage, str] | None,
        outcome: Outcome,
    ) -> None:
        hold = self.work_holds.get(token)
        if not self._token_call("ack_work_item", hold, now, step, outcome):
            if completion is not None:
                self._reject(step, [completion])
            return
        assert hold is not None
        seq = int(hold.key)
        if seq in self.work:
            self._remove(self.work, seq, NOTHING_AFTER_ACK, f"was acked at step {step}")
        if completion is not None:
            self._add_message(step, now, *completion)
        hold.ended = f"acked at step {step}"
        self._item_hold.pop(seq, None)

    def observe_abandon_work(
        self,
        step: int,
        now: Window,
        token: str,
        delay_ms: int | None,
        ignore_attempt: bool,
        outcome: Outcome,
    ) -> None:
        hold = self.work_holds.get(token)
        if not self._token_call("abandon_work_item", hold, now, step, outcome):
            return
        assert hold is not None
        entry = self.work.get(int(hold.key))
        if entry is not None:
            entry.visible = now.plus(delay_ms or 0)
            if ignore_attempt:
                entry.deliveries = max(0, entry.deliveries - 1)
        hold.ended = f"abandoned at step {step}"
        self._item_hold.pop(int(hold.key), None)

    def observe_renew_work(
        self, step: int, now: Window, token: str, extend_ms: int, outcome: Outcome
    ) -> None:
        hold = self.work_holds.get(token)
        if self._token_call("renew_work_item_lock", hold, now, step, outcome):
            assert hold is not None
            hold.expires = now.plus(extend_ms)

    # -- history -------------------------------------------------------------------------

    def observe_append(
        self,
        step: int,
        instance: str,
        execution_id: int,
        events: Sequence[Event],
        outcome: Outcome,
    ) -> None:
        duplicates = self.duplicate_ids(instance, execution_id, events)
        result = _classify("append_history", outcome)
        expected = "duplicate" if duplicates else "ok"
        if result != expected:
            raise self._unexpected("append_history", result, {expected}, "", duplicates, outcome)
        if result == "ok":
            stored = self._instance(instance).executions.setdefault(execution_id, {})
            for event in events:
                stored[event.event_id] = event

    def check_read(self, instance: str, outcome: Outcome) -> None:
        events = _returned("read", outcome)
        expected = self.events(instance)
        if events != expected:
            raise Violation(
                HISTORY,
                f"read({instance!r}) returned {_event_ids(events)}, expected "
                f"{_event_ids(expected)} (execution {self.current_execution(instance)})",
                f"{{r}} == {python_text(expected)}",
            )

    def check_read_execution(self, instance: str, execution_id: int, outcome: Outcome) -> None:
        events = _returned("read_execution", outcome)
        expected = self.events(instance, execution_id)
        if events != expected:
            raise Violation(
                HISTORY,
                f"read_execution({instance!r}, {execution_id}) returned {_event_ids(events)}, "
                f"expected {_event_ids(expected)}",
                f"{{r}} == {python_text(expected)}",
            )

    def check_executions(self, instance: str, outcome: Outcome) -> None:
        executions = _returned("list_executions", outcome)
        expected = self.executions(instance)
        if executions != expected:
            raise Violation(
                HISTORY,
                f"list_executions({instance!r}) returned {executions!r}, expected {expected!r}",
                f"{{r}} == {python_text(expected)}",
            )

    # -- tokens --------------------------------------------------------------------------

    def _token_call(
        self, operation: str, hold: Hold | None, now: Window, step: int, outcome: Outcome
    ) -> bool:
        """Check an ack, abandon or renew by token; True when it succeeded and applies."""
        live, why = self._liveness(hold, now)
        allowed = {"ok", "lock_lost"}
        if live != "unknown":
            allowed = {"ok" if live == "live" else "lock_lost"}
        if hold is not None and hold.item_gone is not None and live != "dead":
            # The contract does not say whether cancelling a leased item ends its lease.
            allowed = {"ok", "lock_lost"}
            why = f"{why}; its item was cancelled at step {hold.item_gone}"
        result = _classify(operation, outcome)
        if result not in allowed:
            raise self._unexpected(operation, result, allowed, why, [], outcome)
        if result == "lock_lost":
            self._learn_dead(hold, now, step)
            return False
        return True

    def _learn_dead(self, hold: Hold | None, now: Window, step: int) -> None:
        if hold is None or hold.ended is not None:
            return
        hold.ended = f"expired (step {step} found it dead)"
        if isinstance(hold.key, str):
            self._instance_hold.pop(hold.key, None)
        else:
            self._item_hold.pop(hold.key, None)

    def _unexpected(
        self,
        operation: str,
        result: str,
        allowed: set[str],
        why: str,
        duplicates: list[int],
        outcome: Outcome,
    ) -> Violation:
        got = "succeeded" if isinstance(outcome, Returned) else f"raised {_show_error(outcome)}"
        if result == "other":
            prop = ERRORS
        elif result == "duplicate" or (result == "ok" and "duplicate" in allowed):
            prop = HISTORY
        else:
            prop = TOKENS
        reasons = [f"the token {why}"] if why else []
        if duplicates:
            reasons.append(f"event ids {duplicates} are already stored or repeated")
        musts = [_OUTCOMES[name][0] for name in sorted(allowed)]
        return Violation(
            prop,
            f"{operation} {got}, but {' and '.join(reasons) or 'nothing stands in its way'}: "
            f"it must {' or '.join(musts)}",
            " or ".join(_OUTCOMES[name][1] for name in sorted(allowed)),
        )


_OUTCOMES = {
    "ok": ("succeed", SUCCEEDS),
    "lock_lost": ("raise LockLostError and change nothing", RAISES_LOCK_LOST),
    "duplicate": (
        "raise DuplicateEventError and change nothing",
        "isinstance({r}, DuplicateEventError)",
    ),
}


def _first(entries: Sequence[Queued]) -> Queued:
    """The entry that surely ranks first: earliest latest-possible visibility, then seq."""
    return min(entries, key=lambda e: (e.visible.hi, e.seq))


def _surely_before(a: Queued, b: Queued) -> bool:
    """``a`` ranks before ``b`` by (visibility time, enqueue order) whatever the exact times."""
    return a.visible.hi < b.visible.lo or (a.visible.hi <= b.visible.lo and a.seq < b.seq)


def _activity(entry: Queued) -> ActivityId | None:
    value = entry.value
    return value.activity if isinstance(value, ActivityExecute) else None


def _event_ids(events: object) -> str:
    if isinstance(events, list) and all(isinstance(e, Event) for e in events):
        return "events " + repr([e.event_id for e in events])
    return repr(events)


def _show_error(outcome: Raised) -> str:
    error = outcome.error
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _require_success(operation: str, outcome: Outcome) -> None:
    if isinstance(outcome, Raised):
        raise Violation(
            ERRORS,
            f"{operation} raised {_show_error(outcome)}; the contract requires success here",
            SUCCEEDS,
        )
    if outcome.value is not None:
        raise Violation(
            ERRORS, f"{operation} returned {outcome.value!r} instead of None", "{r} is None"
        )


def _returned(operation: str, outcome: Outcome) -> object:
    if isinstance(outcome, Raised):
        raise Violation(
            ERRORS,
            f"{operation} raised {_show_error(outcome)}; the contract requires success here",
            SUCCEEDS,
        )
    return outcome.value


def _classify(operation: str, outcome: Outcome) -> str:
    """``ok``, ``lock_lost``, ``duplicate``, or ``other`` for any other exception."""
    if isinstance(outcome, Returned):
        if outcome.value is not None:
            raise Violation(
                ERRORS, f"{operation} returned {outcome.value!r} instead of None", "{r} is None"
            )
        return "ok"
    error = outcome.error
    if isinstance(error, (LockLostError, DuplicateEventError)):
        if error.retryable:
            raise Violation(
                ERRORS,
                f"{operation} raised {_show_error(outcome)} marked retryable: "
                f"{type(error).__name__} is permanent",
                "not {r}.retryable",
            )
        return "lock_lost" if isinstance(error, LockLostError) else "duplicate"
    return "other"
