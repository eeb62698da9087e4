"""Port of tests/test_delivery_faults.py to Teams: a real ``medpulse worker`` process killed with
SIGKILL mid-fan-out and restarted, ambiguous failures and throttling in process, and doctors
who blocked the app, all against the fake Bot Connector.

Teams cannot read a sent message back, so its rule is "at most once; when in doubt, say so"
(integrations/msteams/connector.py): a refusal (429, 412, 503) is resent; a send whose outcome
is unknown (502/504 after Teams acted, or a process killed mid-call) is never resent and its
row says *uncertain*. So where Slack's test demands exactly one pulse each, this one demands
no doctor ever gets two, every doctor whose send was certain gets exactly one, and every
doctor without one is on an uncertain row (the reminder carries the card to them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from bot.clock import SystemClock
from bot.delivery.outbox import DeliveryWorker
from bot.rounds.lifecycle import create_round
from storage.models import Audience, Delivery, Participant
from tests.helpers import wait_for
from tests.teams_helpers import teams_app

MEDPULSE = str(Path(sys.executable).parent / "medpulse")


@pytest.fixture
def rig(db_url):
    with teams_app(db_url, SystemClock()) as r:
        yield r


def _start_round(rig, n: int) -> list:
    """``n`` doctors in the installed team and a round created for them, nothing sent yet."""
    doctors = rig.install(n, admin_in_team=False)
    with rig.core.db.Session() as s:
        audience = s.scalar(select(Audience.id))
    rnd = create_round(rig.core, audience, "manual:fault-test", manual=True)
    assert rnd.created and rnd.invited == n
    return doctors


def _rows(core) -> dict[str, tuple[str, str | None]]:
    """Teams user ID -> (delivery status, error)."""
    with core.db.Session() as s:
        return {
            user: (status, error)
            for user, status, error in s.execute(
                select(Participant.user_id, Delivery.status, Delivery.error).join(
                    Participant, Participant.id == Delivery.participant_id
                )
            )
        }


def _status_counts(core) -> dict[str, int]:
    with core.db.Session() as s:
        return dict(
            s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )


def _settled(core) -> bool:
    return set(_status_counts(core)) <= {"sent", "failed", "undeliverable"}


def _check_at_most_once(rig, doctors) -> dict[str, int]:
    """No doctor has two pulse cards; a doctor on a sent row has exactly one; a doctor with
    none is on an uncertain row. Returns user -> cards."""
    cards = {d.id: len(rig.fake.messages_to(d)) for d in doctors}
    assert max(cards.values()) == 1, {u: c for u, c in cards.items() if c > 1}
    rows = _rows(rig.core)
    for user, n in cards.items():
        status, error = rows[user]
        if status == "sent":
            assert n == 1, (user, status)
        else:
            assert status == "failed" and (error or "").startswith("uncertain"), rows[user]
    return cards


def _worker_process(rig, db_url) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TEAMS_"))},
        **rig.fake.env(),
        "DATABASE_URL": db_url,
        "MEDPULSE_MIN_GROUP": "5",
    }
    return subprocess.Popen(
        [MEDPULSE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def test_kill_and_restart_mid_fan_out_delivers_at_most_once(rig, db_url):
    doctors = _start_round(rig, 100)
    fake = rig.fake
    fake.latency = 0.03
    fake.rate_limit(15)
    fake.error_rate("send", 504, 0.04, seed=11, after_effect=True)  # landed, reply lost
    fake.fail_next("send", 503, count=3)  # refused: resent

    first = _worker_process(rig, db_url)
    try:
        wait_for(lambda: len(fake.ops("send")) >= 35, timeout=60, what="first cards")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    delivered_before_restart = sum(1 for d in doctors if fake.messages_to(d))
    assert 0 < delivered_before_restart < len(doctors), "the kill must land mid-fan-out"

    second = _worker_process(rig, db_url)
    try:
        wait_for(lambda: _settled(rig.core), timeout=120, what="every row settled")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert second.returncode == 0, second.stderr.read().decode()[-2000:]

    cards = _check_at_most_once(rig, doctors)
    codes = {c.status for c in fake.ops("send")}
    assert 429 in codes and 503 in codes and 504 in codes  # the faults really happened
    # Every 504 after Teams acted left its card and an uncertain row; the 503s were resent.
    lost = [c for c in fake.ops("send") if c.status == 504 and c.effect]
    assert lost and _status_counts(rig.core).get("failed", 0) >= len(lost)
    assert sum(cards.values()) >= len(doctors) - _status_counts(rig.core).get("failed", 0)


def test_ambiguous_failures_and_429s_in_process(rig):
    doctors = _start_round(rig, 80)
    fake = rig.fake
    fake.rate_limit(10)  # under the pace the bot starts at (25 a second): it meets 429s
    fake.error_rate("send", 504, 0.05, seed=3, after_effect=True)
    fake.error_rate("create_conversation", 502, 0.1, seed=4)  # safe to repeat
    fake.fail_next("send", 503, count=5)
    fake.fail_next("send", 412, count=2)
    worker = DeliveryWorker(rig.core, concurrency=8, backoff=0.01)
    try:
        deadline = time.monotonic() + 60
        while not _settled(rig.core) and time.monotonic() < deadline:
            worker.run_once()
    finally:
        worker.shutdown()
    cards = _check_at_most_once(rig, doctors)
    lost = [c for c in fake.ops("send") if c.status == 504 and c.effect]
    assert lost, "some 504s must have come after Teams posted"
    failed = _status_counts(rig.core).get("failed", 0)
    assert failed == len(lost)  # only the ambiguous ones; every refusal was resent
    assert sum(cards.values()) == len(doctors)  # those cards landed: everyone has one
    codes = {c.status for c in fake.ops("send")}
    assert {429, 412, 503} <= codes


def test_undeliverable_people_are_marked_and_not_retried(rig):
    doctors = _start_round(rig, 12)
    rig.fake.block(doctors[0])
    rig.fake.block(doctors[1])
    worker = DeliveryWorker(rig.core, concurrency=4, backoff=0.01)
    try:
        while worker.run_once():
            pass
        worker.run_once()
    finally:
        worker.shutdown()
    assert _status_counts(rig.core) == {"sent": 10, "undeliverable": 2}
    convs = {rig.fake.personal_conversation(d).id for d in doctors[:2]}
    attempts = [c for c in rig.fake.ops("send") if any(v in unquote(c.path) for v in convs)]
    assert len(attempts) == 2 and {c.status for c in attempts} == {403}
    assert all(rig.fake.messages_to(d) == [] for d in doctors[:2])
