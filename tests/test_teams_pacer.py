"""The per-tenant pacer, on an injected clock (no waiting, no timing)."""

from __future__ import annotations

import pytest

from integrations.msteams.pacer import TenantPacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_calls_are_paced_at_the_rate_after_the_burst():
    clock = Clock()
    pacer = TenantPacer(25, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        pacer.wait()
    assert clock.now == 0
    for _ in range(50):
        pacer.wait()
    assert clock.now == pytest.approx(50 / 25)


def test_a_429_pauses_every_caller_for_retry_after():
    clock = Clock()
    pacer = TenantPacer(25, burst=25, clock=clock, sleep=clock.sleep)
    pacer.wait()
    pacer.throttled(3.0)
    pacer.wait()
    assert clock.now >= 3.0
