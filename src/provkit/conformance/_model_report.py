"""The record of one state-machine example, and how a failing one is shown to a provider author.

A ``Trace`` is the numbered list of provider calls (and clock moves) an example made, each with
a one-line summary of its outcome. ``failure_text`` turns the trace of a failing example into
the report: the numbered calls, the broken property, and a script that replays the calls
against the author's provider and stops with an ``AssertionError`` at the step that broke it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provkit._provider_spec import SHORTCUTS
from provkit.conformance._contract_model import Violation

_INDENT = "    "


@dataclass(frozen=True, slots=True)
class Step:
    """One numbered step: a provider call (``call`` is its source text) or a clock move."""

    number: int
    call: str
    var: str | None
    raised: bool
    summary: str
    clock_ms: int | None = None


@dataclass(slots=True)
class Trace:
    """The steps of one example, in order."""

    origin_ms: int
    clocked: bool
    steps: list[Step] = field(default_factory=list)

    @property
    def next_number(self) -> int:
        return len(self.steps) + 1

    def add_call(self, call: str, var: str | None, raised: bool, summary: str) -> Step:
        step = Step(self.next_number, call, var, raised, summary)
        self.steps.append(step)
        return step

    def add_clock(self, now_ms: int) -> Step:
        offset = now_ms - self.origin_ms
        step = Step(
            self.next_number,
            f"clock.set_ms(START_MS + {offset})",
            None,
            False,
            f"now T+{offset}",
            clock_ms=now_ms,
        )
        self.steps.append(step)
        return step


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the report says about the run: the provider spec and how to reproduce the run."""

    spec: str
    provider_name: str
    seed: int
    examples: int
    steps: int


def failure_text(trace: Trace, failing: Step, violation: Violation, facts: RunFacts) -> str:
    """The report of a contract violation found at ``failing``."""
    lines = [
        f"the provider broke the contract at step {failing.number} of this sequence "
        f"({violation.prop}):",
        "",
        *numbered(trace, failing, f"✗ {violation.message}"),
        "",
        *_reproduce(facts),
        "",
        "Replay it against your provider (save as replay.py, run `python replay.py`; it stops",
        f"with an AssertionError at step {failing.number}):",
        "",
        *(
            _INDENT + line if line else ""
            for line in replay_script(trace, failing, violation, facts.spec).splitlines()
        ),
    ]
    return "\n".join(lines)


def hang_text(trace: Trace, hung: Step, message: str, facts: RunFacts) -> str:
    """The report of a call that never returned (not shrunk: each retry would wait again)."""
    lines = [
        f"step {hung.number} did not return, so this sequence was not shrunk:",
        "",
        *numbered(trace, hung, f"✗ {message}"),
        "",
        *_reproduce(facts),
    ]
    return "\n".join(lines)


def numbered(trace: Trace, last: Step, note: str) -> list[str]:
    """The numbered steps up to ``last``, with ``note`` under it."""
    width = len(str(last.number))
    lines = []
    for step in trace.steps[: last.number]:
        head = f"{step.number:>{width}}. "
        pad = " " * len(head)
        call = step.call if step.clock_ms is not None else _assigned(step, step.call)
        lines.append(f"{_INDENT}{head}{call}")
        lines.append(f"{_INDENT}{pad}-> {step.summary}")
    lines.append(f"{_INDENT}{' ' * (width + 2)}{note}")
    return lines


def replay_script(trace: Trace, failing: Step, violation: Violation, spec: str) -> str:
    """A standalone script: the steps up to ``failing``, then an assert of the contract there."""
    body: list[str] = []
    for step in trace.steps[: failing.number]:
        if step.clock_ms is not None:
            body.append(f"{step.call}  # {step.number}")
        elif step is failing:
            var = step.var or f"r{step.number}"
            body.append(f"{var} = await attempt(provider.{step.call})  # {step.number}")
            check = violation.expect.format(r=var)
            reason = f"step {step.number}: {violation.prop}: {violation.message}"
            body.append(f"assert {check}, ({reason!r}, {var})")
        elif step.raised:
            var = step.var or "_"
            body.append(f"{var} = await attempt(provider.{step.call})  # {step.number}: raised")
        else:
            body.append(f"{_assigned(step, 'await provider.' + step.call)}  # {step.number}")
    clock_lines = (
        ["    clock = ManualClock(START_MS)", "    provider.set_clock(clock)"]
        if trace.clocked
        else ["    clock = None  # the provider has no injectable clock: timing may differ"]
    )
    return "\n".join(
        [
            '"""Replays a provkit model counterexample against a provider."""',
            "",
            "import asyncio",
            "import importlib",
            "",
            "from provkit.contract import (",
            "    ActivityId, DuplicateEventError, ExecutionMetadata, LockLostError, ManualClock,",
            "    OrchestrationItem, ProviderError, WorkLease,",
            ")",
            "from provkit.contract.events import ExternalEvent",
            "from provkit.contract.messages import (",
            "    ActivityCompletedMessage, ActivityExecute, ExternalRaised, StartOrchestration,",
            "    TimerFiredMessage,",
            ")",
            "",
            f"SPEC = {_target(spec)!r}  # from --provider={spec}",
            f"START_MS = {trace.origin_ms}",
            "",
            "",
            "def load_factory(spec):",
            '    """The factory ``module:attr`` names, as ``--provider`` loads it."""',
            '    module_name, _, attr = spec.partition(":")',
            "    found = importlib.import_module(module_name)",
            '    for part in attr.split("."):',
            "        found = getattr(found, part)",
            '    if hasattr(found, "create_provider") and not isinstance(found, type):',
            "        return found",
            "    return found()",
            "",
            "",
            "async def attempt(call):",
            '    """Await a provider call; a ProviderError it raises becomes its result."""',
            "    try:",
            "        return await call",
            "    except ProviderError as error:",
            "        return error",
            "",
            "",
            "async def replay(provider, clock):",
            *(_INDENT + line for line in body),
            "",
            "",
            "async def main():",
            "    factory = load_factory(SPEC)",
            "    provider = await factory.create_provider()",
            *clock_lines,
            "    try:",
            "        await replay(provider, clock)",
            "    finally:",
            '        dispose = getattr(factory, "dispose_provider", None)',
            "        await (provider.close() if dispose is None else dispose(provider))",
            "",
            "",
            'if __name__ == "__main__":',
            "    asyncio.run(main())",
            "",
        ]
    )


def _target(spec: str) -> str:
    """``module:attr`` for a spec, with the reference providers' shortcuts spelled out."""
    return SHORTCUTS.get(spec, spec)


def _assigned(step: Step, text: str) -> str:
    return f"{step.var} = {text}" if step.var else text


def _reproduce(facts: RunFacts) -> list[str]:
    return [
        f"provider {facts.provider_name or facts.spec}; found with --provkit-model-seed="
        f"{facts.seed} (--provkit-model-examples={facts.examples}, "
        f"--provkit-model-steps={facts.steps}); the same options find it again.",
    ]
