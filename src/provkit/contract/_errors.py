"""Typed provider errors: runtimes and tests branch on these types, never on message text."""

from __future__ import annotations


class ProviderError(Exception):
    """Any failure of a provider operation.

    ``operation`` names the provider method that failed (``"ack_orchestration_item"``...).
    ``retryable`` says whether calling the same operation again may succeed (a busy
    database, a lost connection); permanent errors will fail the same way every time.
    """

    default_retryable: bool = False

    def __init__(self, operation: str, message: str, *, retryable: bool | None = None) -> None:
        self.operation = operation
        self.message = message
        self.retryable = self.default_retryable if retryable is None else retryable
        super().__init__(f"{operation}: {message}")


class LockLostError(ProviderError):
    """The lock token is not live: never issued, already acked or abandoned, or expired.

    Expired means expired whether or not another fetch re-took the work since. Permanent:
    the holder no longer owns the instance or work item and must stop.
    """


class DuplicateEventError(ProviderError):
    """An appended event reuses an ``event_id`` already stored for that execution. Permanent."""


class CorruptDataError(ProviderError):
    """Stored data could not be decoded. Permanent."""


class NotFoundError(ProviderError):
    """The named instance, execution or item does not exist. Permanent."""


class TransientError(ProviderError):
    """A passing failure (busy database, lost connection): retrying may succeed."""

    default_retryable = True


class InstanceRunningError(ProviderError):
    """A deletion without ``force`` met an instance whose current execution is ``RUNNING``.

    Permanent; nothing was deleted.
    """


class NotRootError(ProviderError):
    """The instance is a sub-orchestration whose parent still exists: delete its root instead.

    Permanent; nothing was deleted.
    """
