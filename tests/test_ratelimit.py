"""Tests for bot.delivery.limiter: pacing, shared pauses, AIMD with a ceiling, registry, shutdown.

Single-threaded tests run on a fake clock whose sleep just moves time, so they take no real
time. Tests with real threads run on a clock the test moves, or watch the threads reach the
limiter before acting: no assertion depends on how fast the machine is, and real-time waits
only guard against a hang.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import pytest

from bot.chat.ids import Tenant
from bot.delivery.limiter import AdaptiveLimiter, LimiterConfig, LimiterRegistry


class FakeTime:
    """A clock that only moves when something sleeps on it (single-threaded use)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fake_limiter(t: FakeTime, **config: float) -> AdaptiveLimiter:
    return AdaptiveLimiter(LimiterConfig(**config), clock=t.clock, sleep=t.sleep)


class SlidingWindowServer:
    """Accepts at most ``limit`` requests in any ``window`` seconds; else 429 + Retry-After."""

    def __init__(self, limit: int, window: float = 1.0, retry_after: float = 1.0) -> None:
        self.limit = limit
        self.window = window
        self.retry_after = retry_after
        self._accepted: deque[float] = deque()

    def send(self, now: float) -> float | None:
        """None if accepted, else the Retry-After of the 429."""
        while self._accepted and self._accepted[0] <= now - self.window:
            self._accepted.popleft()
        if len(self._accepted) >= self.limit:
            return self.retry_after
        self._accepted.append(now)
        return None


# -- token bucket pacing ------------------------------------------------------------------------


def test_burst_is_immediate_then_paced_at_rate() -> None:
    t = FakeTime()
    lim = fake_limiter(t, rate=10, burst=5)
    start = t.now
    for _ in range(5):
        assert lim.acquire()
    assert t.now == start  # the burst costs no waiting

    for _ in range(100):
        assert lim.acquire()
    assert t.now - start == pytest.approx(100 / 10, rel=0.01)


def test_pacing_follows_the_rate() -> None:
    t = FakeTime()
    lim = fake_limiter(t, rate=40, burst=1, max_rate=40)
    assert lim.acquire()
    start = t.now
    for _ in range(400):
        assert lim.acquire()
    assert t.now - start == pytest.approx(400 / 40, rel=0.01)


def test_timeout_gives_up_without_taking_a_token() -> None:
    t = FakeTime()
    lim = fake_limiter(t, rate=1, burst=1)
    assert lim.acquire()
    start = t.now
    assert lim.acquire(timeout=0) is False
    assert t.now == start
    assert lim.acquire(timeout=0.4) is False
    assert t.now - start == pytest.approx(0.4)
    assert lim.acquire(timeout=1.0)  # the token came due at start + 1
    assert t.now - start == pytest.approx(1.0)


# -- penalise: shared pause, multiplicative decrease -------------------------------------------


def test_penalise_pauses_until_retry_after_and_empties_the_bucket() -> None:
    t = FakeTime()
    lim = fake_limiter(t, rate=10, burst=5)
    lim.penalise(2.0)
    assert lim.paused_until == pytest.approx(t.now + 2.0)
    start = t.now
    assert lim.acquire()
    # No burst after the pause: the bucket restarts empty at the cut rate (10 -> 7/s).
    assert t.now - start == pytest.approx(2.0 + 1 / 7)


def test_penalise_cuts_multiplicatively_down_to_min_rate() -> None:
    t = FakeTime()
    lim = fake_limiter(t, rate=20, min_rate=3)
    lim.penalise(1.0)
    assert lim.rate == pytest.approx(14.0)
    assert lim.ceiling == pytest.approx(20.0)  # nothing sent yet: classic "rate at the 429"
    for _ in range(10):
        t.now = lim.paused_until  # each 429 is a new episode
        lim.penalise(1.0)
    assert lim.rate == pytest.approx(3.0)


def test_429s_from_in_flight_requests_cut_once_but_extend_the_pause() -> None:
    t = FakeTime()
    lim = fake_limiter(t, rate=20)
    lim.penalise(1.0)
    t.now += 0.1
    lim.penalise(3.0)
    t.now += 0.1
    lim.penalise(0.5)
    assert lim.rate == pytest.approx(14.0)
    assert lim.paused_until == pytest.approx(t.now - 0.1 + 3.0)


def test_ceiling_is_the_measured_throughput() -> None:
    t = FakeTime()
    lim = fake_limiter(t, rate=40, burst=1, max_rate=100)
    for _ in range(120):  # three seconds at 40/s, rate is still 40 (no rewards)
        assert lim.acquire()
    lim.penalise(1.0)
    assert lim.ceiling == pytest.approx(40.0, abs=1.0)
    assert lim.rate == pytest.approx(0.7 * lim.ceiling)


class ThreadedFakeTime:
    """A clock shared by real threads that moves only when the test says (``advance``).

    Sender threads sleep on it until the clock reaches their wake time; ``wait_quiet(n)`` waits
    until ``n`` threads are asleep with nothing due, so the test checks a settled state, never a
    race against the machine's speed. The real-time wait there only guards against a hang.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._cond = threading.Condition()
        self._asleep: dict[int, float] = {}  # thread ident -> wake time

    def clock(self) -> float:
        with self._cond:
            return self.now

    def sleep(self, seconds: float) -> None:
        me = threading.get_ident()
        with self._cond:
            wake = self.now + seconds
            self._asleep[me] = wake
            self._cond.notify_all()
            self._cond.wait_for(lambda: self.now >= wake or self.stopped)
            del self._asleep[me]

    stopped = False

    def advance(self, seconds: float) -> None:
        with self._cond:
            self.now += seconds
            self._cond.notify_all()

    def wait_quiet(self, threads: int) -> None:
        with self._cond:
            settled = self._cond.wait_for(
                lambda: sum(w > self.now for w in self._asleep.values()) == threads, timeout=30
            )
        assert settled, "sender threads never settled (hung?)"

    def stop(self) -> None:
        with self._cond:
            self.stopped = True
            self._cond.notify_all()


def test_penalise_pauses_every_sender_thread() -> None:
    t = ThreadedFakeTime()
    lim = fake_limiter(t, rate=200, burst=1, max_rate=200)
    granted = 0
    count_lock = threading.Lock()

    def sender() -> None:
        nonlocal granted
        while not t.stopped:
            if lim.acquire(timeout=0.5):
                with count_lock:
                    granted += 1

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(4)]
    for th in threads:
        th.start()
    try:
        for _ in range(10):  # 50 ms of sending: tokens at 200/s
            t.advance(0.005)
            t.wait_quiet(4)
        assert granted > 0
        lim.penalise(0.3)
        paused_until = t.now + 0.3
        before = granted
        while t.now + 0.05 < paused_until:  # step through the pause: nobody goes out
            t.advance(0.05)
            t.wait_quiet(4)
            assert granted == before, f"a sender went out during the shared pause at {t.now}"
        t.advance(paused_until - t.now + 0.05)
        t.wait_quiet(4)
        assert granted > before, "senders did not resume after the pause"
    finally:
        lim.close()  # acquire's timeout runs on the frozen fake clock: close ends the loop
        t.stop()
        for th in threads:
            th.join(timeout=5)
    assert not any(th.is_alive() for th in threads)


# -- reward: recovery regimes ------------------------------------------------------------------


def test_reward_ramps_additively_before_any_429_and_caps_at_max_rate() -> None:
    t = FakeTime()
    lim = fake_limiter(t, rate=20, max_rate=100)
    for _ in range(20):  # about a second of sending at ~20/s
        lim.reward()
    # +10% of max_rate per second of sending: ~+10/s (a little less as the rate rises).
    assert 27 < lim.rate < 30
    for _ in range(5000):
        lim.reward()
    assert lim.rate == pytest.approx(100.0)


def test_after_a_cut_recovery_is_fast_to_the_target_then_slow() -> None:
    t = FakeTime()
    lim = fake_limiter(t, rate=40, max_rate=100)
    lim.penalise(1.0)
    assert lim.ceiling == pytest.approx(40.0) and lim.rate == pytest.approx(28.0)

    climbed = 0
    while lim.rate < 0.95 * 40:  # +25% of the ceiling per second: ~1 s of sending at ~33/s
        lim.reward()
        climbed += 1
    assert climbed < 40
    assert lim.rate == pytest.approx(0.95 * 40)  # stops at the target, no overshoot

    for _ in range(40):  # another second: only a slow probe above the target
        lim.reward()
    assert 0.95 * 40 < lim.rate < 0.96 * 40


def test_probe_accelerates_so_a_raised_limit_is_found() -> None:
    t = FakeTime()
    lim = fake_limiter(t, rate=40, max_rate=100)
    lim.penalise(1.0)
    sent = 0
    while lim.rate < 60 and sent < 20_000:
        lim.reward()
        sent += 1
    assert lim.rate >= 60
    assert sent < 5_000  # roughly 1.5 minutes of sending, not the ~15 a flat probe needs


# -- simulation against a server with a real limit ----------------------------------------------


@pytest.mark.parametrize("limit", [50, 20, 80])
def test_converges_near_a_sliding_window_limit(limit: int) -> None:
    t = FakeTime()
    lim = fake_limiter(t)  # defaults: start 20/s, max 100/s
    server = SlidingWindowServer(limit=limit, window=1.0, retry_after=1.0)
    sends, rejected = 5000, 0
    delivered = 0
    start = t.now
    while delivered < sends:
        assert lim.acquire()
        retry_after = server.send(t.now)
        if retry_after is None:
            delivered += 1
            lim.reward()
        else:
            rejected += 1
            lim.penalise(retry_after)
    achieved = delivered / (t.now - start)
    assert achieved >= 0.9 * limit
    assert rejected < 0.05 * sends
    assert lim.ceiling == pytest.approx(limit, rel=0.05)


# -- shutdown ------------------------------------------------------------------------------------


def _watched_clock(watch: dict[int, threading.Event]) -> Callable[[], float]:
    """time.monotonic that sets a thread's event once it reads the clock. A waiter reads it
    holding the limiter's lock and keeps the lock until it waits; so once the test itself takes
    the lock (any limiter call), every watched thread that read the clock is waiting."""

    def clock() -> float:
        seen = watch.get(threading.get_ident())
        if seen is not None:
            seen.set()
        return time.monotonic()

    return clock


def _start_waiters(lim: AdaptiveLimiter, watch: dict, results: list, n: int) -> list:
    def waiter(seen: threading.Event) -> None:
        watch[threading.get_ident()] = seen
        results.append(lim.acquire())

    events = [threading.Event() for _ in range(n)]
    threads = [threading.Thread(target=waiter, args=(e,), daemon=True) for e in events]
    for th in threads:
        th.start()
    assert all(e.wait(30) for e in events), "waiters never reached the limiter"
    return threads


def test_close_releases_blocked_acquirers() -> None:
    watch: dict[int, threading.Event] = {}
    lim = AdaptiveLimiter(LimiterConfig(rate=1, burst=1), clock=_watched_clock(watch))
    assert lim.acquire()
    lim.penalise(3600)  # without close they would wait an hour
    results: list[bool] = []
    threads = _start_waiters(lim, watch, results, 3)
    lim.close()
    for th in threads:
        th.join(timeout=30)  # a guard against a hang, far below the hour's pause
    assert not any(th.is_alive() for th in threads)
    assert results == [False, False, False]
    assert lim.acquire() is False and lim.closed


def test_close_is_noticed_after_an_injected_sleep() -> None:
    t = FakeTime()

    def sleep_then_shutdown(seconds: float) -> None:  # the shutdown lands while we wait
        t.sleep(seconds)
        lim.close()

    config = LimiterConfig(rate=1, burst=1)
    lim = AdaptiveLimiter(config, clock=t.clock, sleep=sleep_then_shutdown)
    assert lim.acquire()
    assert lim.acquire() is False
    assert t.sleeps == [pytest.approx(1.0)]


def test_wake_makes_waiters_recheck() -> None:
    now = [1000.0]
    reads: list[float] = []
    rechecked = threading.Condition()

    def clock() -> float:  # a clock the test moves; the waiter's reads are counted
        with rechecked:
            if threading.current_thread() is not threading.main_thread():
                reads.append(now[0])
                rechecked.notify_all()
            return now[0]

    def reads_reach(n: int) -> None:
        with rechecked:
            assert rechecked.wait_for(lambda: len(reads) >= n, timeout=30), "no re-check"

    lim = AdaptiveLimiter(LimiterConfig(rate=100, burst=1), clock=clock)
    assert lim.acquire()
    lim.penalise(3600)  # the waiter's wait times out only after an hour
    done = threading.Event()
    th = threading.Thread(target=lambda: (lim.acquire(), done.set()), daemon=True)
    th.start()
    reads_reach(1)
    lim.wake()  # nothing changed: the waiter re-checks and goes back to waiting out the pause
    reads_reach(2)
    assert not done.is_set()
    now[0] += 3601
    lim.wake()
    th.join(timeout=30)
    assert done.is_set()


# -- registry ------------------------------------------------------------------------------------


def test_registry_one_limiter_per_tenant() -> None:
    registry = LimiterRegistry(LimiterConfig(rate=30))
    a = registry.for_tenant(Tenant("slack", "T1"))
    assert registry.for_tenant(Tenant("slack", "T1")) is a
    b = registry.for_tenant(Tenant("slack", "T2"))
    assert b is not a
    assert a.config is b.config is registry.config
    assert a.rate == b.rate == 30
    a.penalise(1.0)  # a 429 in one workspace does not slow another
    assert b.rate == 30 and b.paused_until < a.paused_until
    # The platform is part of the key: the same ID on another platform is another tenant.
    teams = registry.for_tenant(Tenant("teams", "T1"))
    assert teams is not a and teams.rate == 30 and teams.paused_until < a.paused_until
    assert sorted(registry.tenants(), key=lambda t: (t.platform, t.id)) == [
        Tenant("slack", "T1"),
        Tenant("slack", "T2"),
        Tenant("teams", "T1"),
    ]
    assert set(registry.busy()) == {Tenant("slack", "T1")}
    with pytest.raises(ValueError):
        registry.for_tenant(Tenant("slack", ""))


def test_registry_creates_one_limiter_under_concurrency() -> None:
    registry = LimiterRegistry()
    got: list[AdaptiveLimiter] = []
    barrier = threading.Barrier(16)

    def grab() -> None:
        barrier.wait()
        got.append(registry.for_tenant(Tenant("slack", "T1")))

    threads = [threading.Thread(target=grab) for _ in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=2)
    assert len(got) == 16 and all(lim is got[0] for lim in got)


def test_registry_close_closes_existing_and_future_limiters() -> None:
    t = FakeTime()
    registry = LimiterRegistry(clock=t.clock, sleep=t.sleep)
    old = registry.for_tenant(Tenant("slack", "T1"))
    registry.close()
    assert old.closed and old.acquire() is False
    assert registry.for_tenant(Tenant("slack", "T2")).acquire() is False


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        LimiterConfig(rate=200, max_rate=100)
    with pytest.raises(ValueError):
        LimiterConfig(burst=0.5)
    with pytest.raises(ValueError):
        LimiterConfig(decrease=1.0)
