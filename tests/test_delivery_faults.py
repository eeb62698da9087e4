"""Delivery under faults: 429s, 503s (some after Slack already delivered), and a worker process
killed with SIGKILL mid-fan-out and restarted. Every doctor must end with exactly one DM set."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from bot.admin.operations import set_audience
from bot.clock import SystemClock
from bot.delivery.outbox import DeliveryWorker
from bot.people.workspaces import ensure_team
from bot.rounds.lifecycle import create_round
from server.runtime import build_core
from storage.models import Delivery
from tests.conftest import ADMIN, SECRET, TOKEN, make_settings
from tests.helpers import dms_of_kind, doctors, wait_for

MEDPULSE = str(Path(sys.executable).parent / "medpulse")


def _status_counts(core) -> dict[str, int]:
    with core.db.Session() as s:
        return dict(
            s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )


def _start_round(fake, db_url, n):
    settings = make_settings(fake, db_url)
    core = build_core(settings, clock=SystemClock())
    ids = doctors(fake, n)
    ensure_team(core, fake.team_id)
    res = set_audience(core, fake.team_id, ADMIN, "C0DOCTORS", "doctors")
    rnd = create_round(core, res.audience_id, "manual:fault-test", manual=True)
    assert rnd.created and rnd.invited == n
    return core, ids


def _worker_process(fake, db_url) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SLACK_")},
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": db_url,
        "MEDPULSE_ADMINS": ADMIN,
    }
    return subprocess.Popen(
        [MEDPULSE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def test_kill_and_restart_mid_fan_out_delivers_exactly_once(fake, db_url):
    core, ids = _start_round(fake, db_url, 100)
    fake.latency = 0.03
    fake.rate_limit("chat.postMessage", 15)
    fake.error_rate("chat.postMessage", status=503, rate=0.04, seed=11, error_after_effect=True)
    fake.fail_next("chat.postMessage", status=503, count=3)

    first = _worker_process(fake, db_url)
    try:
        wait_for(lambda: len(fake.calls_to("chat.postMessage")) >= 35, timeout=60, what="first DMs")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    delivered_before_restart = sum(1 for u in ids if dms_of_kind(fake, u, "pulse"))
    assert 0 < delivered_before_restart < len(ids), "the kill must land mid-fan-out"

    second = _worker_process(fake, db_url)
    try:
        wait_for(
            lambda: _status_counts(core).get("sent", 0) == len(ids), timeout=90, what="all sent"
        )
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert second.returncode == 0, second.stderr.read().decode()[-2000:]

    counts = {u: len(dms_of_kind(fake, u, "pulse")) for u in ids}
    assert set(counts.values()) == {1}, {u: c for u, c in counts.items() if c != 1}
    codes = {c.status for c in fake.calls_to("chat.postMessage")}
    assert 429 in codes and 503 in codes  # the faults really happened
    core.db.dispose()


def test_ambiguous_503s_and_429s_in_process(fake, db_url):
    core, ids = _start_round(fake, db_url, 80)
    fake.rate_limit("chat.postMessage", 30)
    fake.error_rate("chat.postMessage", status=503, rate=0.1, seed=3, error_after_effect=True)
    worker = DeliveryWorker(core, concurrency=8, backoff=0.01)
    try:
        deadline = time.monotonic() + 60
        while _status_counts(core).get("sent", 0) < len(ids) and time.monotonic() < deadline:
            worker.run_once()
    finally:
        worker.shutdown()
    assert _status_counts(core) == {"sent": len(ids)}
    assert all(len(dms_of_kind(fake, u, "pulse")) == 1 for u in ids)
    lost_replies = [c for c in fake.calls_to("chat.postMessage") if c.status == 503 and c.effect]
    assert lost_replies, "some 503s must have come after Slack delivered"
    core.db.dispose()


def test_undeliverable_people_are_marked_and_not_retried(fake, db_url):
    core, ids = _start_round(fake, db_url, 12)
    fake.set_undeliverable(ids[0], "messages_tab_disabled")
    fake.set_undeliverable(ids[1], "user_not_found")
    worker = DeliveryWorker(core, concurrency=4, backoff=0.01)
    try:
        while worker.run_once():
            pass
        worker.run_once()
    finally:
        worker.shutdown()
    assert _status_counts(core) == {"sent": 10, "undeliverable": 2}
    attempts = [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") in ids[:2]]
    assert len(attempts) == 2
    core.db.dispose()
