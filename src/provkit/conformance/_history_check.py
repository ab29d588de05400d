"""The ``concurrency`` category's checker: is a recorded history one the contract allows?

Every message and worker item is classified as Jepsen's total-queue checker does: *lost*
(its enqueue returned, yet no ack ever took it off the queue), *unexpected* (delivered, yet
never enqueued, or only by a call that raised and so changed nothing), *duplicated* (taken off
the queue by more than one successful ack), *recovered* (its enqueue's outcome was unknown, but
it came out). Jepsen counts duplicates without failing on them; here each successful ack ends
a delivery for good, so a duplicate is a failure too. A history that was not drained cannot
show a loss: its verdict is "unknown", never a pass.

The other properties use each call's invocation and completion stamps and the provider's
clock around it, and report only what is certain whichever moment inside each call the
provider acted at: two live holders of one instance or item, a delivery after the ack that
took the value off the queue, a batch out of enqueue order or leaving out a visible message,
a fetch returning ``None`` (or a lease skipping an earlier item) while an unlocked visible
value surely waited with no call of its holder in flight, tokens used after
they died (or refused while surely live), attempt counts that disagree with the deliveries,
and errors that are not ``ProviderError``\\ s.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from provkit.conformance._history import Call, History, Queue, Value
from provkit.contract import LockLostError, ProviderError

LOST = "no message lost"
UNEXPECTED = "nothing delivered that was never enqueued"
DUPLICATED = "nothing taken off a queue twice"
ONE_HOLDER = "at most one live holder"
AFTER_ACK = "nothing delivered after its ack"
BATCH_ORDER = "batches in enqueue order"
BATCH_WHOLE = "a batch holds every visible message of its instance"
VISIBILITY = "nothing delivered before it is visible"
FINDS_WORK = "a fetch finds visible work"
FIFO = "worker items leased in enqueue order"
TOKENS = "lock tokens"
ATTEMPTS = "attempt counts"
ERRORS = "typed errors"

ORDER = (
    LOST,
    UNEXPECTED,
    DUPLICATED,
    ONE_HOLDER,
    AFTER_ACK,
    BATCH_ORDER,
    BATCH_WHOLE,
    VISIBILITY,
    FINDS_WORK,
    FIFO,
    TOKENS,
    ATTEMPTS,
    ERRORS,
)
"""Properties in the order a report lists them."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation: the property, what happened, and the calls that show it."""

    prop: str
    message: str
    calls: tuple[int, ...]


@dataclass(slots=True)
class Tally:
    """Jepsen's total-queue classification of one queue's values."""

    attempted: int = 0
    acknowledged: int = 0
    dequeued: int = 0
    lost: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Verdict:
    """``valid`` is True, False, or None for "unknown" (not drained, nothing else wrong)."""

    valid: bool | None
    findings: list[Finding]
    tallies: dict[Queue, Tally]


@dataclass(slots=True)
class _Delivery:
    fetch: Call
    releases: list[Call] = field(default_factory=list)
    renewals: list[Call] = field(default_factory=list)

    @property
    def lock_ms(self) -> int:
        return self.fetch.duration_ms or 0

    def latest_expiry(self, before: int, besides: Call | None = None) -> int:
        """Latest expiry (epoch ms) given renewals, other than ``besides``, invoked before stamp
        ``before``."""
        latest = self.fetch.clock_hi + self.lock_ms
        for renewal in self.renewals:
            if renewal is besides:
                continue
            if renewal.may_have_applied and renewal.invoked < before:
                latest = max(latest, renewal.clock_hi + (renewal.duration_ms or 0))
        return latest

    def earliest_expiry(self, after: int) -> int:
        """Earliest expiry given renewals that surely succeeded before stamp ``after``.

        Renewals in this workload extend by the whole lock timeout, so none brings the
        expiry forward.
        """
        earliest = self.fetch.clock_lo + self.lock_ms
        for renewal in self.renewals:
            if renewal.ok and renewal.completed < after:
                earliest = max(earliest, renewal.clock_lo + (renewal.duration_ms or 0))
        return earliest

    def first_release(self) -> int | None:
        """Stamp at which a release (ack or abandon) that may have applied was invoked."""
        stamps = [r.invoked for r in self.releases if r.may_have_applied]
        return min(stamps) if stamps else None

    def surely_dead_by(self, call: Call) -> bool:
        """Whether this lock was surely released or expired before ``call`` was invoked."""
        if any(r.ok and r.completed < call.invoked for r in self.releases):
            return True
        return call.clock_lo >= self.latest_expiry(call.completed)


class _Checker:
    def __init__(self, history: History) -> None:
        self.history = history
        self.calls = history.calls
        self.findings: list[Finding] = []
        self.deliveries: dict[str, _Delivery] = {}
        self.by_key: dict[tuple[Queue, str], list[_Delivery]] = defaultdict(list)
        self.of_value: dict[str, list[_Delivery]] = defaultdict(list)
        for call in self.calls:
            if call.kind == "fetch" and call.ok and call.token is not None:
                if call.token in self.deliveries:
                    first = self.deliveries[call.token].fetch
                    self.find(
                        TOKENS,
                        f"call #{call.index} handed out the token call #{first.index} had",
                        first,
                        call,
                    )
                delivery = _Delivery(call)
                self.deliveries[call.token] = delivery
                self.by_key[(call.queue, call.key or "")].append(delivery)
                for label in call.labels:
                    self.of_value[label].append(delivery)
        for call in self.calls:
            held = self._delivery(call)
            if held is None:
                continue
            if call.kind in ("ack", "abandon"):
                held.releases.append(call)
            elif call.kind == "renew":
                held.renewals.append(call)

    def _delivery(self, call: Call) -> _Delivery | None:
        if call.kind not in ("ack", "abandon", "renew") or call.token is None:
            return None
        delivery = self.deliveries.get(call.token)
        if delivery is not None and delivery.fetch.queue != call.queue:
            return None
        return delivery

    def find(self, prop: str, message: str, *calls: Call) -> None:
        self.findings.append(Finding(prop, message, tuple(sorted({c.index for c in calls}))))

    # -- Jepsen's classification ---------------------------------------------------------

    def tally(self) -> dict[Queue, Tally]:
        tallies: dict[Queue, Tally] = {"orchestrator": Tally(), "worker": Tally()}
        values = self.history.values
        attempted = {label for label, v in values.items() if self.calls[v.origin].may_have_applied}
        acknowledged = {label for label, v in values.items() if self.calls[v.origin].ok}
        removed: Counter[str] = Counter()
        maybe_removed: set[str] = set()
        for delivery in self.deliveries.values():
            for release in delivery.releases:
                if release.kind != "ack":
                    continue
                if release.ok:
                    removed.update(delivery.fetch.labels)
                if release.may_have_applied:
                    maybe_removed.update(delivery.fetch.labels)
        delivered: set[str] = {label for d in self.deliveries.values() for label in d.fetch.labels}
        for label in sorted(acknowledged - maybe_removed, key=_natural):
            tallies[values[label].queue].lost.append(label)
        for label in sorted(delivered - attempted, key=_natural):
            queue: Queue = values[label].queue if label in values else _queue_of(label, self)
            tallies[queue].unexpected.append(label)
            self._unexpected(label)
        for label, times in sorted(removed.items(), key=lambda kv: _natural(kv[0])):
            if times > 1 and label in attempted:
                tallies[values[label].queue].duplicated.append(label)
                acks = [
                    r for d in self.of_value[label] for r in d.releases if r.kind == "ack" and r.ok
                ]
                self.find(
                    DUPLICATED,
                    f"{label} was taken off the queue by {times} successful acks",
                    *acks,
                    *(d.fetch for d in self.of_value[label]),
                )
        for label in sorted(attempted & set(removed) - acknowledged, key=_natural):
            tallies[values[label].queue].recovered.append(label)
        for label in attempted:
            tallies[values[label].queue].attempted += 1
        for label in acknowledged:
            tallies[values[label].queue].acknowledged += 1
        for label in removed:
            if label in values:
                tallies[values[label].queue].dequeued += 1
        if self.history.drained:
            for queue, tally in tallies.items():
                for label in tally.lost:
                    value = values[label]
                    self.find(
                        LOST,
                        f"{label} ({queue} queue, instance {value.instance!r}) was enqueued and "
                        "never taken off the queue, though the queues were drained",
                        self.calls[value.origin],
                        *(d.fetch for d in self.of_value[label]),
                    )
        return tallies

    def _unexpected(self, label: str) -> None:
        value = self.history.values.get(label)
        fetches = [d.fetch for d in self.of_value[label]]
        if value is None:
            self.find(UNEXPECTED, f"{label} was delivered but never enqueued", *fetches)
            return
        origin = self.calls[value.origin]
        self.find(
            UNEXPECTED,
            f"{label} was delivered, but the only call that enqueued it raised "
            f"{type(origin.error).__name__} and so must have changed nothing",
            origin,
            *fetches,
        )

    # -- holders -------------------------------------------------------------------------

    def holders(self) -> None:
        for (queue, key), deliveries in self.by_key.items():
            ordered = sorted(deliveries, key=lambda d: d.fetch.invoked)
            for i, first in enumerate(ordered):
                expiry_bound = first.latest_expiry(len(self.calls) * 2 + 2)
                for second in ordered[i + 1 :]:
                    if second.fetch.clock_lo >= expiry_bound:
                        break
                    if self._overlap(first, second):
                        what = "instance" if queue == "orchestrator" else "item"
                        self.find(
                            ONE_HOLDER,
                            f"{what} {key} was handed to two holders at once: the lock of call "
                            f"#{first.fetch.index} was live when call #{second.fetch.index} "
                            "took it",
                            first.fetch,
                            second.fetch,
                            *first.releases,
                        )

    @staticmethod
    def _overlap(a: _Delivery, b: _Delivery) -> bool:
        """Whether ``a`` and ``b`` surely held their lock at one moment."""

        def live_at_other(held: _Delivery, taker: _Delivery) -> bool:
            release = held.first_release()
            unreleased = release is None or release > taker.fetch.completed
            unexpired = taker.fetch.clock_hi < held.earliest_expiry(taker.fetch.invoked)
            return unreleased and unexpired

        a_first = a.fetch.invoked < b.fetch.completed
        b_first = b.fetch.invoked < a.fetch.completed
        return (not a_first or live_at_other(a, b)) and (not b_first or live_at_other(b, a))

    # -- deliveries after acks, batches --------------------------------------------------

    def after_ack(self) -> None:
        for label, deliveries in self.of_value.items():
            acks = [r for d in deliveries for r in d.releases if r.kind == "ack" and r.ok]
            if not acks:
                continue
            first_ack = min(acks, key=lambda r: r.completed)
            late = [d.fetch for d in deliveries if d.fetch.invoked > first_ack.completed]
            if late:
                self.find(
                    AFTER_ACK,
                    f"{label} was delivered again after call #{first_ack.index} acked it",
                    first_ack,
                    *late,
                )

    def batch_order(self) -> None:
        values = self.history.values
        for delivery in self.deliveries.values():
            fetch = delivery.fetch
            if fetch.queue != "orchestrator":
                continue
            known = [values[label] for label in fetch.labels if label in values]
            for i, earlier in enumerate(known):
                for later in known[i + 1 :]:
                    if self._surely_enqueued_before(later, earlier):
                        self.find(
                            BATCH_ORDER,
                            f"the batch of call #{fetch.index} holds {earlier.label} before "
                            f"{later.label}, which was enqueued first",
                            fetch,
                            self.calls[earlier.origin],
                            self.calls[later.origin],
                        )

    def _surely_enqueued_before(self, a: Value, b: Value) -> bool:
        if a.origin == b.origin:
            return a.position < b.position
        return self.calls[a.origin].completed < self.calls[b.origin].invoked

    def _surely_visible(self, value: Value, at: Call) -> bool:
        """Whether ``value`` surely became visible before ``at`` read the provider's clock."""
        origin = self.calls[value.origin]
        delay = (origin.duration_ms or 0) if origin.kind == "enqueue" else 0
        visible = origin.clock_hi + delay
        if value.visible_at_ms is not None:
            visible = max(visible, value.visible_at_ms)
        for delivery in self.of_value[value.label]:
            for release in delivery.releases:
                delayed = release.kind == "abandon" and release.duration_ms is not None
                if delayed and release.may_have_applied and release.invoked < at.completed:
                    visible = max(visible, release.clock_hi + (release.duration_ms or 0))
        return visible <= at.clock_lo

    def visibility(self) -> None:
        """A delivery must not come before the enqueue's delay, or the last abandon's delay."""
        for label, deliveries in self.of_value.items():
            value = self.history.values.get(label)
            if value is None:
                continue
            origin = self.calls[value.origin]
            earliest = origin.clock_lo + (
                (origin.duration_ms or 0) if origin.kind == "enqueue" else 0
            )
            if value.visible_at_ms is not None:
                earliest = max(earliest, value.visible_at_ms)
            why, cause = "enqueued with a delay or as a timer", origin
            previous: _Delivery | None = None
            for delivery in sorted(deliveries, key=lambda d: d.fetch.invoked):
                fetch = delivery.fetch
                if previous is not None:
                    if previous.fetch.completed >= fetch.invoked:
                        break
                    earliest, why, cause = 0, "", previous.fetch
                    for release in previous.releases:
                        delayed = release.kind == "abandon" and release.duration_ms is not None
                        if delayed and release.ok and release.completed < fetch.invoked:
                            earliest = release.clock_lo + (release.duration_ms or 0)
                            why, cause = "abandoned with a delay", release
                if fetch.clock_hi < earliest:
                    self.find(
                        VISIBILITY,
                        f"call #{fetch.index} delivered {label}, {why} by call #{cause.index}, "
                        f"before it became visible",
                        cause,
                        fetch,
                    )
                previous = delivery

    def _removed_from(self, value: Value) -> int:
        """The first stamp at which an ack that may have taken ``value`` off was invoked."""
        stamps = [
            r.invoked
            for d in self.of_value[value.label]
            for r in d.releases
            if r.kind == "ack" and r.may_have_applied
        ]
        return min(stamps, default=len(self.calls) * 2 + 2)

    def _outstanding(self, queue: Queue) -> list[tuple[Call, list[Value]]]:
        """Each fetch of ``queue``, with the values surely enqueued and not yet maybe acked.

        A sweep in invocation order keeps the list short: a value joins once its enqueue
        completed and leaves for good once an ack that may have taken it was invoked.
        """
        values = sorted(
            (
                v
                for v in self.history.values.values()
                if v.queue == queue and self.calls[v.origin].ok
            ),
            key=lambda v: self.calls[v.origin].completed,
        )
        gone = {v.label: self._removed_from(v) for v in values}
        fetches = [c for c in self.calls if c.queue == queue and c.kind == "fetch" and c.ok]
        active: list[Value] = []
        joined = 0
        result = []
        for fetch in fetches:
            while (
                joined < len(values) and self.calls[values[joined].origin].completed < fetch.invoked
            ):
                active.append(values[joined])
                joined += 1
            active = [v for v in active if gone[v.label] >= fetch.invoked]
            result.append((fetch, [v for v in active if gone[v.label] >= fetch.completed]))
        return result

    def whole_batches(self) -> None:
        for fetch, outstanding in self._outstanding("orchestrator"):
            if fetch.token is None:
                continue
            batch = set(fetch.labels)
            for value in outstanding:
                if (
                    value.instance == fetch.key
                    and value.label not in batch
                    and self._surely_visible(value, fetch)
                ):
                    self.find(
                        BATCH_WHOLE,
                        f"the batch of call #{fetch.index} ({fetch.key}) leaves out "
                        f"{value.label}, enqueued by call #{value.origin} and visible",
                        fetch,
                        self.calls[value.origin],
                    )

    def finds_work(self) -> None:
        for queue in ("orchestrator", "worker"):
            for fetch, outstanding in self._outstanding(queue):
                if fetch.token is not None:
                    continue
                for value in outstanding:
                    if self._surely_available(value, fetch):
                        where = f" of {value.instance}" if queue == "orchestrator" else ""
                        self.find(
                            FINDS_WORK,
                            f"call #{fetch.index} returned None while {value.label}{where} "
                            "was visible and unlocked",
                            fetch,
                            self.calls[value.origin],
                        )
                        break

    def fifo(self) -> None:
        """A lease must go to the earliest item that was surely visible and unleased."""
        for fetch, outstanding in self._outstanding("worker"):
            leased = self.history.values.get(fetch.key or "")
            if fetch.token is None or leased is None:
                continue
            for value in outstanding:
                if (
                    value is not leased
                    and self._surely_enqueued_before(value, leased)
                    and self._surely_available(value, fetch)
                ):
                    self.find(
                        FIFO,
                        f"call #{fetch.index} leased {leased.label} while {value.label}, "
                        "enqueued before it, was visible and unleased",
                        fetch,
                        self.calls[value.origin],
                        self.calls[leased.origin],
                    )
                    break

    def _surely_available(self, value: Value, fetch: Call) -> bool:
        """Whether ``value`` was visible and unlocked throughout ``fetch``.

        Not when an ack, abandon or renewal of a lock on it ran at the same time, whatever
        its outcome: the contract makes a losing fetcher move on, but does not say a fetch
        must wait for a holder's call in flight (a database provider's row or advisory lock
        makes it skip that instance or item meanwhile).
        """
        if not self._surely_visible(value, fetch):
            return False
        if value.queue == "orchestrator":
            holds = self.by_key.get(("orchestrator", value.instance), [])
        else:
            holds = self.of_value[value.label]
        for held in holds:
            if held.fetch.invoked >= fetch.completed:
                continue
            if not held.surely_dead_by(fetch):
                return False
            for call in (*held.releases, *held.renewals):
                if call.invoked < fetch.completed and call.completed > fetch.invoked:
                    return False
        return True

    # -- tokens, attempts, errors --------------------------------------------------------

    def tokens(self) -> None:
        for delivery in self.deliveries.values():
            released = [r for r in delivery.releases if r.ok]
            if len(released) > 1:
                self.find(
                    TOKENS,
                    f"the token of call #{delivery.fetch.index} was acked or abandoned "
                    f"successfully {len(released)} times",
                    delivery.fetch,
                    *released,
                )
            for call in sorted([*delivery.releases, *delivery.renewals], key=lambda c: c.invoked):
                before = [r for r in released if r is not call and r.completed < call.invoked]
                if call.ok and call.kind == "renew" and before:
                    self.find(
                        TOKENS,
                        f"call #{call.index} renewed a lock call #{before[0].index} had "
                        "already released",
                        delivery.fetch,
                        before[0],
                        call,
                    )
                elif call.ok and call.clock_lo >= delivery.latest_expiry(call.completed, call):
                    self.find(
                        TOKENS,
                        f"call #{call.index} ({call.operation}) succeeded with a token whose "
                        "lock had surely expired",
                        delivery.fetch,
                        call,
                    )
                elif isinstance(call.error, LockLostError) and self._surely_live(delivery, call):
                    self.find(
                        TOKENS,
                        f"call #{call.index} ({call.operation}) raised LockLostError while "
                        f"the lock of call #{delivery.fetch.index} was surely live",
                        delivery.fetch,
                        call,
                    )

    @staticmethod
    def _surely_live(delivery: _Delivery, call: Call) -> bool:
        others = [r for r in delivery.releases if r is not call and r.may_have_applied]
        if any(r.invoked < call.completed for r in others):
            return False
        return call.clock_hi < delivery.earliest_expiry(call.invoked)

    def attempts(self) -> None:
        for delivery in self.deliveries.values():
            fetch = delivery.fetch
            if fetch.attempt is None:
                continue
            bounds = [self._attempt_bounds(label, fetch) for label in fetch.labels]
            if not bounds:
                continue
            low, high = max(b[0] for b in bounds), max(b[1] for b in bounds)
            if not low <= fetch.attempt <= high:
                expected = str(low) if low == high else f"{low}..{high}"
                self.find(
                    ATTEMPTS,
                    f"call #{fetch.index} reported attempt_count {fetch.attempt}; the "
                    f"earlier deliveries of {', '.join(fetch.labels)} make it {expected}",
                    fetch,
                    *(d.fetch for label in fetch.labels for d in self.of_value[label]),
                )

    def _attempt_bounds(self, label: str, fetch: Call) -> tuple[int, int]:
        low = high = 1
        for other in self.of_value[label]:
            if other.fetch is fetch or other.fetch.invoked >= fetch.completed:
                continue
            surely_before = other.fetch.completed < fetch.invoked
            low += surely_before
            high += 1
            for release in other.releases:
                if release.kind != "abandon" or not release.ignore_attempt:
                    continue
                if release.may_have_applied and release.invoked < fetch.completed:
                    low -= 1
                if surely_before and release.ok and release.completed < fetch.invoked:
                    high -= 1
        return max(low, 0), high

    def errors(self) -> None:
        for call in self.calls:
            error = call.error
            if error is None:
                continue
            if not isinstance(error, ProviderError):
                why = "every failure must be a ProviderError"
            elif error.retryable or (
                isinstance(error, LockLostError) and call.kind in ("ack", "abandon", "renew")
            ):
                continue
            else:
                why = "nothing in this workload calls for it"
            self.find(
                ERRORS,
                f"call #{call.index} ({call.operation}) raised {type(error).__name__}: "
                f"{error}; {why}",
                call,
            )


def check_history(history: History) -> Verdict:
    """Judge ``history``; the findings are sorted by property."""
    checker = _Checker(history)
    tallies = checker.tally()
    checker.holders()
    checker.after_ack()
    checker.batch_order()
    checker.whole_batches()
    checker.visibility()
    checker.finds_work()
    checker.fifo()
    checker.tokens()
    checker.attempts()
    checker.errors()
    findings = sorted(checker.findings, key=lambda f: (ORDER.index(f.prop), f.calls))
    if findings:
        valid: bool | None = False
    elif not history.drained and any(t.lost for t in tallies.values()):
        valid = None
    else:
        valid = True
    return Verdict(valid, findings, tallies)


def _natural(label: str) -> tuple[str, int]:
    digits = "".join(ch for ch in label if ch.isdigit())
    return (label.rstrip("0123456789"), int(digits) if digits else 0)


def _queue_of(label: str, checker: _Checker) -> Queue:
    deliveries = checker.of_value.get(label) or []
    return deliveries[0].fetch.queue if deliveries else "orchestrator"
