"""Errors of orchestration code and of the replay engine.

``TaskFailedError`` is what user code sees; the two ``BaseException`` signals travel through
user code to the engine and must not be caught by an ordinary ``except Exception``.
"""

from __future__ import annotations

from provkit.contract import ErrorCategory, ErrorDetails


class TaskFailedError(Exception):
    """An awaited activity or sub-orchestration failed; ``details`` says how."""

    def __init__(self, message: str, details: ErrorDetails) -> None:
        super().__init__(message)
        self.details = details


class NonRetryableError(Exception):
    """Raise it from an activity whose failure a retry cannot fix (bad input, a refusal).

    The activity fails with ``ErrorDetails.retryable`` false, so a ``RetryPolicy`` stops at
    once instead of trying again. Any other exception an activity raises is retryable.
    """


class ReplayAbort(BaseException):
    """The engine gives up on this execution: the turn fails with ``details``.

    A ``BaseException`` so that a ``try/except Exception`` in orchestration code cannot
    swallow a nondeterminism the engine detected inside a ``ctx`` call.
    """

    def __init__(self, details: ErrorDetails) -> None:
        super().__init__(details.display())
        self.details = details


class ContinueAsNewSignal(BaseException):
    """Raised by ``ctx.continue_as_new``: ends this execution, the next starts with ``input``."""

    def __init__(self, input: str) -> None:
        super().__init__(input)
        self.input = input


def nondeterminism(message: str) -> ReplayAbort:
    """Code and history disagree (or history links completions to the wrong schedules)."""
    return ReplayAbort(
        ErrorDetails(category=ErrorCategory.CONFIGURATION, kind="nondeterminism", message=message)
    )


def corrupt_history(message: str) -> ReplayAbort:
    """History is structurally impossible (no start, duplicate ids, unreadable payloads)."""
    return ReplayAbort(
        ErrorDetails(category=ErrorCategory.INFRASTRUCTURE, kind="corrupt_history", message=message)
    )
