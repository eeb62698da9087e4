"""A per-tenant pace for Bot Connector calls, until the core's limiter is keyed by
(platform, tenant) (issue 15).

Teams allows an app about 50 requests a second per tenant, and on NHSmail every trust shares one
tenant, so the default here is 25. Every call counts (creating a 1:1, sending, updating, reading
members), so the pacer is called before each attempt (``BotConnector(before_request=...)``). A
``429`` pauses every thread of the tenant until its ``Retry-After`` has passed
(``on_throttled``), because the limit is shared: one thread backing off alone would leave the
others to use up the next window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEFAULT_RATE = 25.0


class TenantPacer:
    """A token bucket shared by the threads sending to one tenant."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.clock = clock
        self.sleep = sleep
        self._tokens = self.capacity
        self._stamp = clock()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this thread may make one call."""
        while True:
            with self._lock:
                now = self.clock()
                delay = self._paused_until - now
                if delay <= 0:
                    elapsed = max(0.0, now - self._stamp)
                    self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
                    self._stamp = now
                    if self._tokens >= 1 - 1e-9:  # float sums of rate × elapsed fall just short
                        self._tokens = max(0.0, self._tokens - 1)
                        return
                    delay = (1 - self._tokens) / self.rate
            self.sleep(delay)

    def throttled(self, retry_after: float) -> None:
        """Teams said 429: nobody in this tenant calls again for ``retry_after`` seconds."""
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + retry_after)
            self._tokens = 0.0
