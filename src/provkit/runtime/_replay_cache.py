"""The replay cache: executions a runtime keeps suspended between their turns.

A turn of a kept execution runs only its new messages (see ``ExecutionReplay``). The cache is
bounded by instance count and by the estimated memory of what it keeps; the least recently
used goes first. It never decides an outcome: a kept replay resumes only on exactly the
history it expects and replays from scratch otherwise, so whatever the cache keeps or evicts,
every turn's result is the one a full replay gives.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence

from provkit.contract.events import Event
from provkit.contract.messages import OrchestratorMessage
from provkit.runtime._replay import ExecutionReplay, OrchestrationFn, TurnResult


class ReplayCache:
    """Kept ``ExecutionReplay``s by instance, at most ``max_instances`` and ``max_bytes``.

    ``run_turn`` takes an instance's kept replay out (or starts a new one) and runs the turn;
    the caller then ``keep``s the replay once it committed the turn's result, or drops it
    (``discard``) when the commit failed or the lock was lost. A replay that cannot resume
    (its execution ended, or failed) is closed instead of kept.
    """

    def __init__(self, *, max_instances: int, max_bytes: int) -> None:
        if max_instances < 0 or max_bytes < 0:
            raise ValueError("replay cache bounds must be >= 0")
        self.max_instances = max_instances
        self.max_bytes = max_bytes
        self._kept: OrderedDict[str, ExecutionReplay] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._bytes = 0
        self.hits = 0
        """Turns that resumed a kept replay."""
        self.misses = 0
        """Turns that replayed from scratch."""

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def size_bytes(self) -> int:
        """Estimated memory of every kept replay."""
        return self._bytes

    def expects(self, instance: str, execution_id: int, history: Sequence[Event]) -> bool:
        """Whether a turn of ``instance`` on ``history`` would resume a kept replay.

        Such a history is known: validated, and neither ended nor continued as new.
        """
        replay = self._kept.get(instance)
        return (
            replay is not None and replay.execution_id == execution_id and replay.expects(history)
        )

    def run_turn(
        self,
        *,
        instance: str,
        execution_id: int,
        history: Sequence[Event],
        messages: Sequence[OrchestratorMessage],
        orchestrations: Mapping[str, OrchestrationFn],
        now_ms: int,
    ) -> tuple[TurnResult, ExecutionReplay]:
        """One turn, resuming the kept replay when ``history`` is the one it expects.

        The replay is no longer kept afterwards: pass it to ``keep`` once the turn is committed.
        """
        replay = self._take(instance)
        if replay is not None and (
            replay.execution_id != execution_id or not replay.expects(history)
        ):
            replay.close()
            replay = None
        if replay is None:
            self.misses += 1
            replay = ExecutionReplay(
                instance=instance, execution_id=execution_id, orchestrations=orchestrations
            )
        else:
            self.hits += 1
        return replay.run_turn(history, messages, now_ms), replay

    def keep(self, replay: ExecutionReplay) -> None:
        """Keep ``replay`` for its instance's next turn, evicting the least recently used."""
        if not replay.resumable or self.max_instances == 0:
            replay.close()
            return
        instance = replay.instance
        previous = self._take(instance)
        if previous is not None and previous is not replay:
            previous.close()
        size = replay.size_bytes
        if size > self.max_bytes:
            replay.close()
            return
        self._kept[instance] = replay
        self._sizes[instance] = size
        self._bytes += size
        while len(self._kept) > self.max_instances or self._bytes > self.max_bytes:
            _, oldest = self._kept.popitem(last=False)
            self._bytes -= self._sizes.pop(oldest.instance)
            oldest.close()

    def discard(self, replay: ExecutionReplay) -> None:
        """Close ``replay``, and forget it if it is the one kept for its instance."""
        if self._kept.get(replay.instance) is replay:
            self._take(replay.instance)
        replay.close()

    def clear(self) -> None:
        """Close and forget every kept replay."""
        kept, self._kept = self._kept, OrderedDict()
        self._sizes.clear()
        self._bytes = 0
        for replay in kept.values():
            replay.close()

    def _take(self, instance: str) -> ExecutionReplay | None:
        replay = self._kept.pop(instance, None)
        if replay is not None:
            self._bytes -= self._sizes.pop(instance)
        return replay
