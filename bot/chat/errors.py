"""The outcomes of a platform call that the core reacts to, whatever the platform.

Adapters translate their SDK's errors into these, so delivery decides retry, give-up or wait
the same way on every platform.
"""

from __future__ import annotations


class ChatError(Exception):
    """Base of the outcomes the core reacts to."""

    def __init__(self, error: str, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.retry_after = retry_after


class RateLimited(ChatError):
    """The platform said 429: wait ``retry_after`` seconds, then try again."""


class Transient(ChatError):
    """5xx, timeouts, connection errors: try again later with backoff."""


class Undeliverable(ChatError):
    """This person cannot receive messages from us (deactivated, blocked the app): do not retry."""


class Permanent(ChatError):
    """A request the platform will never accept (bad token, missing scope...)."""


class Gone(Permanent):
    """The message (or its conversation) no longer exists: updating or deleting it is moot, and
    a deletion counts as done."""


class NotInstalled(Exception):
    """No installation (no token) for this tenant: the app was never installed, or was removed."""
