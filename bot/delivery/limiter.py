"""Rate limiting for fan-outs: the one place that decides how fast we send.

The product rule: one ``AdaptiveLimiter`` per tenant, a (platform, tenant ID) pair
(``bot.chat.ids.Tenant``: a Slack workspace, a Teams tenant), shared by every send to that tenant
in this process, adapting to the platform's ``429 Retry-After``. Slack's limits are per app per
workspace and Teams' per app per tenant, so tenants get independent limiters and fan-outs to
them run in parallel; a ``LimiterRegistry`` hands out the per-tenant limiter. The platform is
part of the key: a Slack team ID and a Teams tenant ID never share a pace by coincidence.

How the rate adapts (and why it settles near the real limit)
------------------------------------------------------------
Plain AIMD (cut ×0.7 on a 429, add a constant on success) saw-tooths between 70% and 100% of
the limit, about 85% on average, and every 429 also costs a whole ``Retry-After`` pause. So the
limiter remembers a *ceiling*: the throughput it was actually achieving when the 429 arrived
(what the server counted), and recovers in three regimes:

1. No 429 yet (no ceiling known): ramp up steadily, ``ramp_per_s`` × ``max_rate`` per second.
2. Below ``recover_to`` × ceiling (just after a cut): climb back fast, ``recover_per_s`` ×
   ceiling per second, stopping at that target. The cut (×``decrease``) still makes us back
   off hard when a 429 arrives, but costs only about a second of reduced pace.
3. At or above the target: probe, slowly at first (``probe_per_s`` × ceiling per second) and
   faster the further we get above the target (``probe_growth`` × the distance, per second).
   This is the convex probe of TCP CUBIC: the rate sits just under the old limit for tens of
   seconds (few 429s, so few pauses), yet a limit that has really gone up is found within a
   minute or two because the probe accelerates.

With the defaults and a server allowing 50/s (sliding one-second window, ``Retry-After: 1``)
the cycle is: a 429 as the rate crosses 50/s (the ceiling is measured at ~50/s), a 1 s pause,
about 1 s climbing back to 47.5/s, then ~35 s of probing, slowly at first, up to 50/s until the
next 429. That is one 429 per ~1,700 sends and about 93% of 50/s in the long run (the same for
limits from 5 to 150/s); ``tests/test_ratelimit.py`` simulates exactly this.

Increases are counted per success, not per wall-clock second: each ``reward()`` adds
speed / rate, so a second of sending flat out adds ``speed``, while an idle tenant does not
creep up to ``max_rate`` on time alone (successes are the evidence that a rate is safe).

A 429 pauses *every* sender of the tenant until now + ``Retry-After`` (a shared "paused
until"), empties the bucket (so we do not burst straight back into the limit when the pause
ends), and cuts the rate once: 429s for requests that were already in flight arrive while we
are paused and only extend the pause, so one burst of 429s is one cut, not ten.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.chat.ids import Tenant

log = logging.getLogger("medpulse.ratelimit")

_EPS = 1e-9  # float slack when comparing token counts
_MIN_WAIT = 1e-4  # never ask to sleep less than this: a fake clock must move


@dataclass(frozen=True)
class LimiterConfig:
    """Tuning shared by all tenants' limiters. Rates are requests per second; the ``*_per_s``
    speeds are fractions (of ``max_rate`` or of the ceiling) per second of sending flat out."""

    rate: float = 20.0  # starting rate: safe for Slack's per-workspace posting limits
    burst: float = 5.0  # bucket size; at least 1 or nothing could ever be sent
    min_rate: float = 1.0
    max_rate: float = 100.0
    decrease: float = 0.7  # multiplicative cut on a 429
    ramp_per_s: float = 0.10  # regime 1: fraction of max_rate per second before any 429
    recover_to: float = 0.95  # regime 2 target, as a fraction of the ceiling
    recover_per_s: float = 0.25  # regime 2: fraction of the ceiling per second
    probe_per_s: float = 0.0005  # regime 3: base probe, fraction of the ceiling per second
    probe_growth: float = 0.05  # regime 3: extra speed per (rate above target), per second
    window: float = 1.0  # seconds of grants used to measure throughput at a 429

    def __post_init__(self) -> None:
        if not 0 < self.min_rate <= self.rate <= self.max_rate:
            raise ValueError("need 0 < min_rate <= rate <= max_rate")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        if not 0 < self.decrease < 1:
            raise ValueError("decrease must be between 0 and 1")
        if not 0 < self.recover_to <= 1:
            raise ValueError("recover_to must be in (0, 1]")
        if self.window <= 0:
            raise ValueError("window must be positive")
        speeds = (self.ramp_per_s, self.recover_per_s, self.probe_per_s, self.probe_growth)
        if min(speeds) < 0:
            raise ValueError("recovery speeds must not be negative")


class AdaptiveLimiter:
    """A thread-safe token bucket whose rate adapts to 429s; one per tenant.

    Senders call ``acquire()`` before each request, then ``reward()`` on success or
    ``penalise(retry_after)`` on a 429. ``clock`` and ``sleep`` are injectable so tests can run
    minutes of traffic on a fake clock. With the default ``time.sleep`` waiting is done on a
    condition variable instead (same duration), so ``close()``/``wake()`` release waiters at
    once; any other ``sleep`` is called as given with the lock released, and waiters notice
    ``close()`` when it returns. Waiters re-check at token intervals, which suits the tens of
    sender threads a tenant's fan-out uses.
    """

    def __init__(
        self,
        config: LimiterConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        name: str = "",
    ) -> None:
        self.config = config or LimiterConfig()
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._rate = self.config.rate
        self._tokens = self.config.burst
        self._refilled_at = clock()
        self._paused_until = -math.inf
        self._ceiling: float | None = None
        self._grants: deque[float] = deque()
        self._closed = False

    def __repr__(self) -> str:
        return f"<AdaptiveLimiter {self.name!r} rate={self._rate:.2f}/s ceiling={self._ceiling}>"

    # -- state, for logs, stats and tests ---------------------------------------------------

    @property
    def rate(self) -> float:
        """The current rate in requests per second."""
        with self._cond:
            return self._rate

    @property
    def ceiling(self) -> float | None:
        """The throughput at the last 429 (None before the first), which recovery aims under."""
        with self._cond:
            return self._ceiling

    @property
    def paused_until(self) -> float:
        """Clock time until which every sender waits (``-inf`` if never paused)."""
        with self._cond:
            return self._paused_until

    def ready_in(self) -> float:
        """Seconds until a request could go out (a 429's pause, or the bucket refilling), without
        taking a token: a sender facing a long wait gives its thread back (bot.delivery.outbox)."""
        with self._cond:
            now = self._clock()
            if now < self._paused_until:
                return self._paused_until - now
            self._refill(now)
            return 0.0 if self._tokens >= 1 - _EPS else (1 - self._tokens) / self._rate

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    # -- the senders' API ----------------------------------------------------------------------

    def acquire(self, timeout: float | None = None) -> bool:
        """Block until this request may go out; False if closed or ``timeout`` ran out first."""
        deadline = None if timeout is None else self._clock() + max(0.0, timeout)
        with self._cond:
            while not self._closed:
                now = self._clock()
                wait = self._take(now)
                if wait == 0.0:
                    return True
                if deadline is not None:
                    if now >= deadline:
                        return False
                    wait = min(wait, deadline - now)
                self._wait(max(wait, _MIN_WAIT))
            return False

    def penalise(self, retry_after: float) -> None:
        """A 429: pause every sender until now + ``retry_after`` and cut the rate (once per
        pause, since in-flight requests' 429s arrive during it and say nothing new)."""
        if not retry_after > 0:  # also catches NaN
            retry_after = 0.0
        with self._cond:
            now = self._clock()
            self._refill(now)
            if now >= self._paused_until:
                self._cut(now)
            self._pause_until(now + retry_after)

    def reward(self) -> None:
        """A success: nudge the rate up, at the speed of the current recovery regime."""
        with self._cond:
            self._refill(self._clock())
            speed, cap = self._recovery()
            self._rate = min(cap, self._rate + speed / self._rate)

    def close(self) -> None:
        """Release every waiter (their ``acquire`` returns False) and refuse future acquires."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wake(self) -> None:
        """Make waiters re-check the state now (after ``close()`` or a test moving the clock)."""
        with self._cond:
            self._cond.notify_all()

    # -- internals (call with the lock held) ---------------------------------------------------

    def _take(self, now: float) -> float:
        """Take a token and return 0.0, or return how long to wait before trying again."""
        if now < self._paused_until:
            return self._paused_until - now
        self._refill(now)
        if self._tokens >= 1 - _EPS:
            self._tokens -= 1
            self._grants.append(now)
            return 0.0
        return (1 - self._tokens) / self._rate

    def _refill(self, now: float) -> None:
        """Credit tokens earned since the last refill, at the rate in force meanwhile."""
        elapsed = now - self._refilled_at
        if elapsed > 0:
            self._tokens = min(self.config.burst, self._tokens + elapsed * self._rate)
            self._refilled_at = now

    def _wait(self, seconds: float) -> None:
        """Sleep without holding the lock, interruptibly when the sleep is the real one."""
        if self._sleep is time.sleep:
            self._cond.wait(seconds)
            return
        self._cond.release()
        try:
            self._sleep(seconds)
        finally:
            self._cond.acquire()

    def _throughput(self, now: float) -> float:
        """Grants per second over the last ``window`` seconds: what the server has been seeing."""
        horizon = now - self.config.window
        while self._grants and self._grants[0] <= horizon:
            self._grants.popleft()
        return len(self._grants) / self.config.window

    def _cut(self, now: float) -> None:
        """Learn the ceiling from this 429 and cut the rate multiplicatively.

        The ceiling is the measured throughput, if we really were sending at about our rate
        (else the 429 is not about our pace, e.g. another process used the quota, and the
        classic "rate at the 429" is used). It is never above the rate: a rate set far above
        what was actually sent should not survive a 429.
        """
        cfg = self.config
        measured = self._throughput(now)
        informative = measured >= cfg.decrease * self._rate
        self._ceiling = min(self._rate, measured) if informative else self._rate
        before, self._rate = self._rate, max(cfg.min_rate, cfg.decrease * self._ceiling)
        log.info(
            "429 for %s: rate %.1f -> %.1f/s (ceiling %.1f/s, measured %.1f/s)",
            self.name or "tenant",
            before,
            self._rate,
            self._ceiling,
            measured,
        )

    def _pause_until(self, until: float) -> None:
        """Hold every sender until ``until`` and empty the bucket, so none bursts at the end."""
        if until > self._paused_until:
            self._paused_until = until
        self._tokens = 0.0
        self._refilled_at = max(self._refilled_at, self._paused_until)

    def _recovery(self) -> tuple[float, float]:
        """(speed in requests/s per second of sending, cap on the new rate) for this regime."""
        cfg = self.config
        if self._ceiling is None:
            return cfg.ramp_per_s * cfg.max_rate, cfg.max_rate
        target = cfg.recover_to * self._ceiling
        if self._rate < target:
            return cfg.recover_per_s * self._ceiling, min(target, cfg.max_rate)
        speed = cfg.probe_per_s * self._ceiling + cfg.probe_growth * (self._rate - target)
        return speed, cfg.max_rate


class LimiterRegistry:
    """One ``AdaptiveLimiter`` per tenant (platform and tenant ID), created on first use.

    Every sender for a tenant must get its limiter here, so the whole process shares one pace
    and one pause per tenant; the config, clock and sleep are shared by all of them.
    """

    def __init__(
        self,
        config: LimiterConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config or LimiterConfig()
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._limiters: dict[Tenant, AdaptiveLimiter] = {}
        self._closed = False

    def for_tenant(self, tenant: Tenant) -> AdaptiveLimiter:
        """The tenant's limiter; after ``close()`` new ones are born closed."""
        if not tenant.id:
            raise ValueError("a tenant limiter needs a tenant ID")
        with self._lock:
            limiter = self._limiters.get(tenant)
            if limiter is None:
                name = f"{tenant.platform}:{tenant.id}"
                limiter = AdaptiveLimiter(
                    self.config, clock=self._clock, sleep=self._sleep, name=name
                )
                if self._closed:
                    limiter.close()
                self._limiters[tenant] = limiter
            return limiter

    def tenants(self) -> list[Tenant]:
        """Tenants that have a limiter so far."""
        with self._lock:
            return list(self._limiters)

    def useful(self, tenant: Tenant, horizon: float) -> int:
        """How many requests the tenant's limiter could let out within ``horizon`` seconds at
        its current rate, plus one (a new tenant starts at the configured rate)."""
        return math.ceil(self.for_tenant(tenant).rate * horizon) + 1

    def busy(self, longer_than: float = 0.0) -> dict[Tenant, float]:
        """Tenants whose limiter cannot send for more than ``longer_than`` seconds (paused by a
        429, or paced), with the seconds left: claimers leave their work for others."""
        with self._lock:
            limiters = list(self._limiters.items())
        out = {tenant: lim.ready_in() for tenant, lim in limiters}
        return {tenant: left for tenant, left in out.items() if left > longer_than}

    def close(self) -> None:
        """Graceful shutdown: every waiter of every tenant gets False from ``acquire``."""
        with self._lock:
            self._closed = True
            limiters = list(self._limiters.values())
        for limiter in limiters:
            limiter.close()

    def wake(self) -> None:
        """Make every tenant's waiters re-check their state now."""
        with self._lock:
            limiters = list(self._limiters.values())
        for limiter in limiters:
            limiter.wake()
