"""The ``model`` category: a Hypothesis state machine drives a provider, the contract model judges.

Each example gets a fresh provider from the run's factory and its own event loop: every call
runs to completion (``asyncio.Runner.run``) before the next is chosen, so an example is a
plain sequence and replays the same way. A provider declaring ``CLOCK`` gets a manual clock
starting at ``START_MS`` that only the machine moves (to deadlines and one millisecond before
them, among others); without it, locks and delays are long, so real time never decides an
outcome. After every step the history of the instances it touched is read back; an example
ends by draining both queues. A violation ends the run with the shrunk sequence of calls and a
replay script. Examples are never saved: the run is reproduced by its seed alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure
from hypothesis.internal.conjecture import engine as _engine
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from provkit.conformance._contract_model import (
    ContractModel,
    Hold,
    Outcome,
    Raised,
    Returned,
    Violation,
    Window,
)
from provkit.conformance._guard import GuardedProvider, close_provider, open_provider
from provkit.conformance._model_report import RunFacts, Step, Trace, failure_text, hang_text
from provkit.conformance._python_text import Expr, call_text
from provkit.conformance._settings import ModelBudget, SuiteSettings
from provkit.contract import (
    ActivityId,
    Capability,
    ClockControl,
    ExecutionMetadata,
    ManualClock,
    OrchestrationItem,
    Provider,
    SystemClock,
    WorkLease,
)
from provkit.contract.events import Event, ExternalEvent
from provkit.contract.messages import (
    ActivityCompletedMessage,
    ActivityExecute,
    ExternalRaised,
    OrchestratorMessage,
    StartOrchestration,
    TimerFiredMessage,
)

START_MS = 1_700_000_000_000
"""Where the manual clock of every example starts (epoch ms)."""

INSTANCES = ("a", "b", "c")
ORCHESTRATION = "ModelOrchestration"
ACTIVITY = "ModelActivity"
NEVER_ISSUED = "provkit-model-never-issued-token"

SHRINK_SECONDS = 20
"""Longest time spent shrinking a failing sequence; a longer one is reported as it stands."""

_F = TypeVar("_F", bound=Callable[..., None])


class ModelFailure(AssertionError):
    """The provider broke the contract; the message is the whole report."""


class ProviderHung(BaseException):
    """A call did not return. Not an ``Exception``, so Hypothesis stops instead of shrinking."""


@dataclass(frozen=True, slots=True)
class Durations:
    """The lock timeouts, delays and clock moves an example chooses from, in whole ms."""

    locks: tuple[int, ...]
    delays: tuple[int | None, ...]
    extends: tuple[int, ...]
    advances: tuple[int, ...]
    timer_offsets: tuple[int, ...]

    @classmethod
    def for_run(cls, clocked: bool, timescale: float) -> Durations:
        if clocked:
            return cls(
                locks=(30, 100, 1000),
                delays=(None, 0, 10, 100),
                extends=(50, 1000),
                advances=(1, 10, 30, 100, 1000),
                timer_offsets=(0, 10, 100, -5),
            )
        # Real time passes between calls: every lock and delay outlasts the example, so
        # expiry never happens and delayed work stays invisible.
        long = max(60_000, int(60_000 * timescale))
        return cls(
            locks=(long,),
            delays=(None, 0, long),
            extends=(long,),
            advances=(),
            timer_offsets=(-1000, long),
        )

    def pick(self, options: tuple[Any, ...], choice: int) -> Any:
        return options[choice % len(options)]


def machine_for(suite: SuiteSettings, budget: ModelBudget) -> type[ProviderMachine]:
    """The state machine class for one run: each instance is one example, on a fresh provider."""
    facts = RunFacts(
        suite.provider_spec, suite.provider_name, budget.seed, budget.examples, budget.steps
    )
    namespace = {"suite": suite, "facts": facts, "shrinking_a_step": False}
    return type("ProviderModel", (ProviderMachine,), namespace)


def run_model(suite: SuiteSettings, budget: ModelBudget) -> None:
    """Run the state machine against ``suite.factory``; raise ``ModelFailure`` on a violation."""
    machine = machine_for(suite, budget)
    hypothesis.seed(budget.seed)(machine)
    settings = hypothesis.settings(
        max_examples=budget.examples,
        stateful_step_count=budget.steps,
        database=None,
        deadline=None,
        derandomize=False,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
    )
    try:
        with _shrinking_limited_to(SHRINK_SECONDS):
            run_state_machine_as_test(machine, settings=settings)
    except FlakyFailure as flaky:
        found = [e for e in flaky.exceptions if isinstance(e, ModelFailure)]
        if not found:
            raise
        raise ModelFailure(
            f"{found[0]}\n\nThis sequence failed once but passed when Hypothesis replayed it: "
            "the provider does not behave the same way twice for the same calls."
        ) from None


@contextlib.contextmanager
def _shrinking_limited_to(seconds: int) -> Iterator[None]:
    """Cap the time Hypothesis spends shrinking one failure (its own cap is five minutes).

    Hypothesis keeps this limit in a module constant it documents as meant for monkeypatching;
    should it move, the run just keeps Hypothesis's own limit.
    """
    previous = getattr(_engine, "MAX_SHRINKING_SECONDS", None)
    if previous is None:
        yield
        return
    _engine.MAX_SHRINKING_SECONDS = min(previous, seconds)
    try:
        yield
    finally:
        _engine.MAX_SHRINKING_SECONDS = previous


def _step(method: _F) -> _F:
    """Mark the example broken if a step raises, so teardown does not drain on top of it."""

    @functools.wraps(method)
    def wrapper(self: ProviderMachine, *args: Any, **kwargs: Any) -> None:
        self._broken = True
        method(self, *args, **kwargs)
        self._broken = False

    return cast(_F, wrapper)


CHOICE = st.integers(min_value=0, max_value=4)
TOKEN = st.integers(min_value=0, max_value=2)
"""Which of the tokens the model does not know to be dead a call uses, newest first."""
INSTANCE = st.sampled_from(INSTANCES)
KIND = st.sampled_from(("external", "start", "completion", "timer"))
EVENT_IDS = st.lists(st.integers(min_value=1, max_value=6), max_size=3)
ACTIVITY_KEY = st.tuples(INSTANCE, st.integers(1, 2), st.integers(1, 2))


class ProviderMachine(RuleBasedStateMachine):
    """Random contract calls on one fresh provider, each checked against ``ContractModel``."""

    suite: ClassVar[SuiteSettings]
    facts: ClassVar[RunFacts]
    shrinking_a_step: ClassVar[bool] = False
    """Set once a step (not the drain) broke the contract: from then on Hypothesis only
    shrinks that failure, which the steps alone reproduce, so examples skip the drain."""

    def __init__(self) -> None:
        super().__init__()
        suite = self.suite
        self._broken = False
        self._draining = False
        # The runner owns the loop's lifecycle; calls go straight to run_until_complete, as
        # Runner.run would swap the SIGINT handler around every one of them.
        self._runner = asyncio.Runner()
        self._loop = self._runner.get_loop()
        self._labels = itertools.count(1)
        self._touched: set[tuple[str, int]] = set()
        self._token_vars: dict[str, str] = {}
        try:
            raw = self._loop.run_until_complete(open_provider(suite.factory, suite.op_timeout))
        except BaseException:
            self._runner.close()
            raise
        self._raw = raw
        self._provider = cast(Provider, GuardedProvider(raw, suite.op_timeout))
        self._clock: ManualClock | None = None
        if Capability.CLOCK in getattr(raw, "capabilities", ()):
            self._clock = ManualClock(START_MS)
            cast(ClockControl, raw).set_clock(self._clock)
        origin = START_MS if self._clock is not None else SystemClock().now_ms()
        self._model = ContractModel(origin)
        self._trace = Trace(origin, self._clock is not None)
        self._durations = Durations.for_run(self._clock is not None, suite.timescale)

    # -- calling the provider ------------------------------------------------------------

    def _now_ms(self) -> int:
        return self._clock.now_ms() if self._clock is not None else SystemClock().now_ms()

    def _call(
        self,
        method: str,
        *args: object,
        keywords: dict[str, object] | None = None,
        bind: bool = False,
        record: bool = True,
    ) -> tuple[Step, Window, Outcome]:
        """Run one provider call to completion; record it as the next step."""
        kwargs = keywords or {}
        text = call_text(method, args, kwargs)
        real_args = [arg.value if isinstance(arg, Expr) else arg for arg in args]
        var = f"r{self._trace.next_number}" if bind else None
        before = self._now_ms()
        try:
            call = getattr(self._provider, method)(*real_args, **kwargs)
            value = self._loop.run_until_complete(call)
            outcome: Outcome = Returned(value)
        except pytest.fail.Exception as hung:
            step = self._trace.add_call(text, var, True, "did not return")
            self._broken = True
            raise ProviderHung(hang_text(self._trace, step, str(hung), self.facts)) from None
        except Exception as error:
            outcome = Raised(error)
        now = Window(before, self._now_ms())
        shown = _summary(outcome, self._model)
        if record:
            step = self._trace.add_call(text, var, isinstance(outcome, Raised), shown)
        else:
            step = Step(self._trace.next_number, text, var, isinstance(outcome, Raised), shown)
        return step, now, outcome

    def _judge(self, step: Step, check: Callable[..., None], *args: object) -> None:
        """Run the model's ``check(*args)`` of ``step``; a violation ends the example."""
        try:
            check(*args)
        except Violation as violation:
            self._broken = True
            if not self._draining:
                type(self).shrinking_a_step = True
            if step.number > len(self._trace.steps):
                self._trace.steps.append(step)
            raise ModelFailure(failure_text(self._trace, step, violation, self.facts)) from None

    def _set_clock(self, now_ms: int) -> None:
        assert self._clock is not None
        self._clock.set_ms(now_ms)
        self._trace.add_clock(now_ms)

    def _token(self, holds: list[Hold], choice: int) -> Expr:
        """One of the tokens not known to be dead (they may have expired), newest first.

        Only token rules have preconditions (a token not known dead exists). Fetches have
        none: a precondition that flips as the queues fill and empty changes which rule a
        later step's choice means, so Hypothesis could not delete steps while shrinking.
        """
        ranked = [h for h in reversed(holds) if h.ended is None]
        return self._token_expr(ranked[choice % len(ranked)].token)

    def _has_holds(self, queue: str) -> bool:
        holds = self._model.holds if queue == "orchestrator" else self._model.work_holds
        return any(hold.ended is None for hold in holds.values())

    def _token_expr(self, token: str) -> Expr:
        return Expr(self._token_vars[token], token)

    def _label(self, prefix: str) -> tuple[int, str]:
        number = next(self._labels)
        return number, f"{prefix}{number}"

    def _message(self, instance: str, kind: str, timer: int) -> tuple[OrchestratorMessage, str]:
        number, label = self._label("m")
        if kind == "start":
            return StartOrchestration(
                instance=instance, orchestration=ORCHESTRATION, input=label
            ), label
        if kind == "completion":
            message = ActivityCompletedMessage(
                instance=instance, execution_id=1, id=number, result=label
            )
            return message, label
        if kind == "timer":
            fire_at = self._now_ms() + self._durations.pick(self._durations.timer_offsets, timer)
            return TimerFiredMessage(
                instance=instance, execution_id=1, id=number, fire_at_ms=fire_at
            ), label
        return ExternalRaised(instance=instance, name="model", data=label), label

    def _work_item(self, key: tuple[str, int, int]) -> tuple[ActivityExecute, str]:
        _, label = self._label("w")
        instance, execution_id, activity_id = key
        item = ActivityExecute(
            instance=instance,
            execution_id=execution_id,
            id=activity_id,
            name=ACTIVITY,
            input=label,
        )
        return item, label

    # -- orchestrator queue --------------------------------------------------------------

    @rule(instance=INSTANCE, kind=KIND, delay=CHOICE, timer=CHOICE)
    @_step
    def enqueue_for_orchestrator(self, instance: str, kind: str, delay: int, timer: int) -> None:
        message, label = self._message(instance, kind, timer)
        delay_ms = self._durations.pick(self._durations.delays, delay)
        if delay_ms is None:
            step, now, outcome = self._call("enqueue_for_orchestrator", message)
        else:
            step, now, outcome = self._call("enqueue_for_orchestrator", message, delay_ms / 1000)
        self._judge(
            step,
            self._model.observe_enqueue,
            step.number,
            now,
            message,
            label,
            delay_ms,
            outcome,
        )

    @rule(lock=CHOICE)
    @_step
    def fetch_orchestration_item(self, lock: int) -> None:
        self._fetch(self._durations.pick(self._durations.locks, lock))

    def _fetch(self, lock_ms: int) -> OrchestrationItem | None:
        step, now, outcome = self._call("fetch_orchestration_item", lock_ms / 1000, bind=True)
        self._judge(step, self._model.observe_fetch, step.number, now, lock_ms, outcome)
        item = cast(Returned, outcome).value
        if isinstance(item, OrchestrationItem):
            self._token_vars[item.lock_token] = f"{step.var}.lock_token"
            return item
        return None

    @precondition(lambda self: self._has_holds("orchestrator"))
    @rule(
        token=TOKEN,
        execution=st.sampled_from((0, 1, -1)),
        delta=EVENT_IDS,
        worker_items=st.lists(ACTIVITY_KEY, max_size=2),
        orchestrator_items=st.lists(st.tuples(INSTANCE, KIND, CHOICE), max_size=2),
        name=st.sampled_from((None, "1", "2")),
        cancel=st.lists(ACTIVITY_KEY, max_size=2),
    )
    @_step
    def ack_orchestration_item(
        self,
        token: int,
        execution: int,
        delta: list[int],
        worker_items: list[tuple[str, int, int]],
        orchestrator_items: list[tuple[str, str, int]],
        name: str | None,
        cancel: list[tuple[str, int, int]],
    ) -> None:
        chosen = self._token(self._model.orchestrator_tokens(), token)
        hold = self._model.holds.get(str(chosen.value))
        base = self._model.current_execution(str(hold.key)) if hold is not None else 1
        execution_id = max(1, base + execution)
        self._ack(
            chosen,
            execution_id,
            [
                ExternalEvent(event_id=i, name="model", data=f"s{self._trace.next_number}")
                for i in delta
            ],
            [self._work_item(key) for key in worker_items],
            [self._message(instance, kind, timer) for instance, kind, timer in orchestrator_items],
            ExecutionMetadata(
                orchestration_name=None if name is None else ORCHESTRATION,
                orchestration_version=name,
            ),
            [ActivityId(*key) for key in cancel],
        )

    def _ack(
        self,
        token: Expr,
        execution_id: int,
        delta: list[Event],
        worker_items: list[tuple[ActivityExecute, str]],
        orchestrator_items: list[tuple[OrchestratorMessage, str]],
        metadata: ExecutionMetadata,
        cancelled: list[ActivityId],
    ) -> None:
        args: list[object] = [
            token,
            execution_id,
            delta,
            [item for item, _ in worker_items],
            [message for message, _ in orchestrator_items],
            metadata,
        ]
        if cancelled:
            args.append(cancelled)
        step, now, outcome = self._call("ack_orchestration_item", *args)
        hold = self._model.holds.get(str(token.value))
        if hold is not None:
            self._touched.add((str(hold.key), execution_id))
        self._judge(
            step,
            self._model.observe_ack,
            step.number,
            now,
            str(token.value),
            execution_id,
            delta,
            worker_items,
            orchestrator_items,
            metadata,
            cancelled,
            outcome,
        )

    @precondition(lambda self: self._has_holds("orchestrator"))
    @rule(
        token=TOKEN,
        renew=st.booleans(),
        duration=CHOICE,
        ignore_attempt=st.booleans(),
    )
    @_step
    def abandon_or_renew_orchestration_item(
        self, token: int, renew: bool, duration: int, ignore_attempt: bool
    ) -> None:
        """Abandon a lock (with or without delay and ``ignore_attempt``), or renew it."""
        chosen = self._token(self._model.orchestrator_tokens(), token)
        if renew:
            self._renew(chosen, self._durations.pick(self._durations.extends, duration))
        else:
            delay_ms = self._durations.pick(self._durations.delays, duration)
            self._abandon(chosen, delay_ms, ignore_attempt)

    def _abandon(self, token: Expr, delay_ms: int | None, ignore_attempt: bool) -> None:
        kwargs = _abandon_kwargs(delay_ms, ignore_attempt)
        step, now, outcome = self._call("abandon_orchestration_item", token, keywords=kwargs)
        self._judge(
            step,
            self._model.observe_abandon,
            step.number,
            now,
            str(token.value),
            delay_ms,
            ignore_attempt,
            outcome,
        )

    def _renew(self, token: Expr, extend_ms: int) -> None:
        step, now, outcome = self._call("renew_orchestration_item_lock", token, extend_ms / 1000)
        self._judge(
            step,
            self._model.observe_renew,
            step.number,
            now,
            str(token.value),
            extend_ms,
            outcome,
        )

    # -- worker queue --------------------------------------------------------------------

    @rule(key=ACTIVITY_KEY)
    @_step
    def enqueue_for_worker(self, key: tuple[str, int, int]) -> None:
        item, label = self._work_item(key)
        step, now, outcome = self._call("enqueue_for_worker", item)
        self._judge(step, self._model.observe_enqueue_work, step.number, now, item, label, outcome)

    @rule(lock=CHOICE)
    @_step
    def fetch_work_item(self, lock: int) -> None:
        self._fetch_work(self._durations.pick(self._durations.locks, lock))

    def _fetch_work(self, lock_ms: int) -> WorkLease | None:
        step, now, outcome = self._call("fetch_work_item", lock_ms / 1000, bind=True)
        self._judge(step, self._model.observe_fetch_work, step.number, now, lock_ms, outcome)
        lease = cast(Returned, outcome).value
        if isinstance(lease, WorkLease):
            self._token_vars[lease.lock_token] = f"{step.var}.lock_token"
            return lease
        return None

    @precondition(lambda self: self._has_holds("worker"))
    @rule(token=TOKEN, completion=st.sampled_from((None, "own", "other", "timer")))
    @_step
    def ack_work_item(self, token: int, completion: str | None) -> None:
        chosen = self._token(self._model.work_tokens(), token)
        hold = self._model.work_holds.get(str(chosen.value))
        instance = INSTANCES[0]
        if hold is not None and int(hold.key) in self._model.work:
            instance = self._model.work[int(hold.key)].instance
        if completion == "other":
            instance = INSTANCES[(INSTANCES.index(instance) + 1) % len(INSTANCES)]
        message = None
        if completion is not None:
            kind = "timer" if completion == "timer" else "completion"
            message = self._message(instance, kind, 1)
        self._ack_work(chosen, message)

    def _ack_work(self, token: Expr, completion: tuple[OrchestratorMessage, str] | None) -> None:
        sent = None if completion is None else completion[0]
        step, now, outcome = self._call("ack_work_item", token, sent)
        self._judge(
            step,
            self._model.observe_ack_work,
            step.number,
            now,
            str(token.value),
            completion,
            outcome,
        )

    @precondition(lambda self: self._has_holds("worker"))
    @rule(
        token=TOKEN,
        renew=st.booleans(),
        duration=CHOICE,
        ignore_attempt=st.booleans(),
    )
    @_step
    def abandon_or_renew_work_item(
        self, token: int, renew: bool, duration: int, ignore_attempt: bool
    ) -> None:
        """Abandon a lease (with or without delay and ``ignore_attempt``), or renew it."""
        chosen = self._token(self._model.work_tokens(), token)
        if renew:
            self._renew_work(chosen, self._durations.pick(self._durations.extends, duration))
        else:
            delay_ms = self._durations.pick(self._durations.delays, duration)
            self._abandon_work(chosen, delay_ms, ignore_attempt)

    def _abandon_work(self, token: Expr, delay_ms: int | None, ignore_attempt: bool) -> None:
        kwargs = _abandon_kwargs(delay_ms, ignore_attempt)
        step, now, outcome = self._call("abandon_work_item", token, keywords=kwargs)
        self._judge(
            step,
            self._model.observe_abandon_work,
            step.number,
            now,
            str(token.value),
            delay_ms,
            ignore_attempt,
            outcome,
        )

    def _renew_work(self, token: Expr, extend_ms: int) -> None:
        step, now, outcome = self._call("renew_work_item_lock", token, extend_ms / 1000)
        self._judge(
            step,
            self._model.observe_renew_work,
            step.number,
            now,
            str(token.value),
            extend_ms,
            outcome,
        )

    # -- dead tokens ---------------------------------------------------------------------

    @rule(
        queue=st.sampled_from(("orchestrator", "worker")),
        operation=st.sampled_from(("ack", "abandon", "renew")),
        choice=st.integers(0, 3),
    )
    @_step
    def use_a_dead_token(self, queue: str, operation: str, choice: int) -> None:
        """Ack, abandon or renew with a token known to be dead, or one never issued."""
        holds = self._model.holds if queue == "orchestrator" else self._model.work_holds
        dead = [h.token for h in reversed(holds.values()) if h.ended is not None][:3]
        tokens = [self._token_expr(token) for token in dead]
        tokens.append(Expr(repr(NEVER_ISSUED), NEVER_ISSUED))
        token = tokens[min(choice, len(tokens) - 1)]
        if queue == "orchestrator":
            if operation == "ack":
                # Items an ack that raises must not enqueue.
                self._ack(
                    token,
                    1,
                    [],
                    [self._work_item(("a", 1, 1))],
                    [self._message("a", "external", 0)],
                    ExecutionMetadata(),
                    [],
                )
            elif operation == "abandon":
                self._abandon(token, None, False)
            else:
                self._renew(token, max(self._durations.extends))
        elif operation == "ack":
            self._ack_work(token, self._message("a", "completion", 0))
        elif operation == "abandon":
            self._abandon_work(token, None, False)
        else:
            self._renew_work(token, max(self._durations.extends))

    # -- history and time ----------------------------------------------------------------

    @rule(instance=INSTANCE, execution_id=st.integers(1, 3), event_ids=EVENT_IDS)
    @_step
    def append_history(self, instance: str, execution_id: int, event_ids: list[int]) -> None:
        events = [
            ExternalEvent(event_id=i, name="model", data=f"s{self._trace.next_number}")
            for i in event_ids
        ]
        step, _, outcome = self._call("append_history", instance, execution_id, events)
        self._touched.add((instance, execution_id))
        self._judge(
            step,
            self._model.observe_append,
            step.number,
            instance,
            execution_id,
            events,
            outcome,
        )

    @precondition(lambda self: self._clock is not None)
    @rule(
        move=st.sampled_from(("deadline", "just before a deadline", "step")),
        choice=st.integers(0, 3),
    )
    @_step
    def move_the_clock(self, move: str, choice: int) -> None:
        """Jump to a visibility time or expiry, or 1 ms before one (where bugs hide), or step.

        Deadlines are taken nearest first; a step moves by one of the fixed advances.
        """
        now = self._now_ms()
        if move == "step":
            self._set_clock(now + self._durations.pick(self._durations.advances, choice))
            return
        offset = -1 if move == "just before a deadline" else 0
        ahead = [t + offset for t in self._model.deadlines() if t + offset > now]
        if ahead:
            self._set_clock(ahead[min(choice, len(ahead) - 1)])

    @invariant()
    def history_reads_back(self) -> None:
        """The executions and events the last step may have changed read back as modelled."""
        touched, self._touched = sorted(self._touched), set()
        model = self._model
        for instance, execution_id in touched:
            step, _, listed = self._call("list_executions", instance, record=False)
            self._judge(step, model.check_executions, instance, listed)
            step, _, current = self._call("read", instance, record=False)
            self._judge(step, model.check_read, instance, current)
            step, _, events = self._call("read_execution", instance, execution_id, record=False)
            self._judge(step, model.check_read_execution, instance, execution_id, events)

    # -- the end of an example -----------------------------------------------------------

    def teardown(self) -> None:
        try:
            if not (self._broken or self.shrinking_a_step):
                self._broken = self._draining = True
                self._drain()
                self._broken = False
        finally:
            try:
                self._loop.run_until_complete(
                    close_provider(self.suite.factory, self._raw, self.suite.op_timeout)
                )
            except BaseException:
                if not self._broken:
                    raise
            finally:
                self._runner.close()

    def _drain(self) -> None:
        """Fetch and ack everything left: every queued message must come out, exactly once."""
        model = self._model
        if self._clock is not None:
            last = max(model.deadlines(), default=0)
            if last > self._now_ms():
                self._set_clock(last)
        else:
            for hold in model.live_holds():
                token = self._token_expr(hold.token)
                if isinstance(hold.key, str):
                    self._abandon(token, None, False)
                else:
                    self._abandon_work(token, None, False)
        lock_ms = max(self._durations.locks)
        for _ in range(len(model.messages) + 1):
            item = self._fetch(lock_ms)
            if item is None:
                break
            token = self._token_expr(item.lock_token)
            self._ack(token, item.execution_id, [], [], [], ExecutionMetadata(), [])
        for _ in range(len(model.work) + 1):
            lease = self._fetch_work(lock_ms)
            if lease is None:
                break
            self._ack_work(self._token_expr(lease.lock_token), None)


def _abandon_kwargs(delay_ms: int | None, ignore_attempt: bool) -> dict[str, object]:
    kwargs: dict[str, object] = {}
    if delay_ms is not None:
        kwargs["delay"] = delay_ms / 1000
    if ignore_attempt:
        kwargs["ignore_attempt"] = True
    return kwargs


def _summary(outcome: Outcome, model: ContractModel) -> str:
    if isinstance(outcome, Raised):
        error = outcome.error
        text = str(error).strip().splitlines()
        return f"raised {type(error).__name__}" + (f": {text[0]}" if text else "")
    value = outcome.value
    if isinstance(value, OrchestrationItem):
        batch = ", ".join(model.label(m) or repr(m) for m in value.messages)
        history = [event.event_id for event in value.history]
        named = f", {value.orchestration_name} v{value.version}" if value.orchestration_name else ""
        return (
            f"locked {value.instance!r}: [{batch}], attempt {value.attempt_count}, "
            f"execution {value.execution_id} with events {history}{named}"
        )
    if isinstance(value, WorkLease):
        item = value.item
        return (
            f"leased {model.label(item) or repr(item)} ({item.instance!r}, execution "
            f"{item.execution_id}, activity {item.id}), attempt {value.attempt_count}"
        )
    if isinstance(value, list) and value and all(isinstance(e, Event) for e in value):
        return f"events {[e.event_id for e in value]}"
    return repr(value)
