"""Running the delivery worker under faults, shared by the Slack fault tests
(tests/test_delivery_faults.py) and their Teams port (tests/test_teams_delivery_faults.py).

A real ``medpulse worker`` process killed mid-fan-out and restarted, the worker in process until
the outbox settles, and the rows an undeliverable doctor leaves: none of it depends on the
platform. Each test only sets up its platform's fake (and its faults) and then judges what that
platform's fake received, by its own rule (Slack: exactly once; Teams: at most once).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from bot.delivery.outbox import DeliveryWorker
from storage.models import Delivery
from tests.helpers import wait_for

MEDPULSE = str(Path(sys.executable).parent / "medpulse")


def status_counts(core) -> dict[str, int]:
    with core.db.Session() as s:
        return dict(
            s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )


def worker_process(env: dict[str, str]) -> subprocess.Popen:
    """``medpulse worker`` with ``env`` over this process's environment, less any chat
    platform's settings (so only the platform the test set up is configured)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TEAMS_"))}
    return subprocess.Popen(
        [MEDPULSE, "worker"], env={**base, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def kill_mid_fan_out_and_restart(
    start: Callable[[], subprocess.Popen],
    *,
    sends: Callable[[], int],
    delivered: Callable[[], int],
    doctors: int,
    settled: Callable[[], bool],
    timeout: float,
) -> None:
    """A worker (``start``) is killed with SIGKILL once 35 sends were tried (``sends``), which
    must leave some but not all ``doctors`` with their pulse (``delivered``); a second worker
    then runs until the outbox is ``settled`` and stops cleanly on SIGTERM."""
    first = start()
    try:
        wait_for(lambda: sends() >= 35, timeout=60, what="first sends")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert 0 < delivered() < doctors, "the kill must land mid-fan-out"

    second = start()
    try:
        wait_for(settled, timeout=timeout, what="every row settled")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert second.returncode == 0, second.stderr.read().decode()[-2000:]


def run_until(core, done: Callable[[], bool], *, concurrency: int = 8, seconds: float = 60):
    """The worker in process, with a short backoff, until ``done`` or ``seconds`` pass."""
    worker = DeliveryWorker(core, concurrency=concurrency, backoff=0.01)
    try:
        deadline = time.monotonic() + seconds
        while not done() and time.monotonic() < deadline:
            worker.run_once()
    finally:
        worker.shutdown()


def check_undeliverable_not_retried(core, attempts: Callable[[], list]) -> list:
    """Two of twelve doctors cannot be reached: the worker runs until idle and once more; their
    rows say undeliverable, and each was tried once (``attempts``: the fake's sends to them).
    Returns those attempts for the platform's own checks."""
    worker = DeliveryWorker(core, concurrency=4, backoff=0.01)
    try:
        while worker.run_once():
            pass
        worker.run_once()
    finally:
        worker.shutdown()
    assert status_counts(core) == {"sent": 10, "undeliverable": 2}
    tried = attempts()
    assert len(tried) == 2
    return tried
