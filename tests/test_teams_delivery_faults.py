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

import subprocess
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from bot.clock import SystemClock
from bot.rounds.lifecycle import create_round
from storage.models import Audience, Delivery, Participant
from tests.delivery_checks import (
    check_undeliverable_not_retried,
    kill_mid_fan_out_and_restart,
    run_until,
    status_counts,
    worker_process,
)
from tests.teams_helpers import teams_app


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


def _settled(core) -> bool:
    return set(status_counts(core)) <= {"sent", "failed", "undeliverable"}


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
    return worker_process({**rig.fake.env(), "DATABASE_URL": db_url, "MEDPULSE_MIN_GROUP": "5"})


def test_kill_and_restart_mid_fan_out_delivers_at_most_once(rig, db_url):
    doctors = _start_round(rig, 100)
    fake = rig.fake
    fake.latency = 0.03
    fake.rate_limit(15)
    fake.error_rate("send", 504, 0.04, seed=11, after_effect=True)  # landed, reply lost
    fake.fail_next("send", 503, count=3)  # refused: resent

    kill_mid_fan_out_and_restart(
        lambda: _worker_process(rig, db_url),
        sends=lambda: len(fake.ops("send")),
        delivered=lambda: sum(1 for d in doctors if fake.messages_to(d)),
        doctors=len(doctors),
        settled=lambda: _settled(rig.core),
        timeout=120,
    )

    cards = _check_at_most_once(rig, doctors)
    codes = {c.status for c in fake.ops("send")}
    assert 429 in codes and 503 in codes and 504 in codes  # the faults really happened
    # Every 504 after Teams acted left its card and an uncertain row; the 503s were resent.
    lost = [c for c in fake.ops("send") if c.status == 504 and c.effect]
    assert lost and status_counts(rig.core).get("failed", 0) >= len(lost)
    assert sum(cards.values()) >= len(doctors) - status_counts(rig.core).get("failed", 0)


def test_ambiguous_failures_and_429s_in_process(rig):
    doctors = _start_round(rig, 80)
    fake = rig.fake
    fake.rate_limit(10)  # under the pace the bot starts at (25 a second): it meets 429s
    fake.error_rate("send", 504, 0.05, seed=3, after_effect=True)
    fake.error_rate("create_conversation", 502, 0.1, seed=4)  # safe to repeat
    fake.fail_next("send", 503, count=5)
    fake.fail_next("send", 412, count=2)
    run_until(rig.core, lambda: _settled(rig.core))
    cards = _check_at_most_once(rig, doctors)
    lost = [c for c in fake.ops("send") if c.status == 504 and c.effect]
    assert lost, "some 504s must have come after Teams posted"
    failed = status_counts(rig.core).get("failed", 0)
    assert failed == len(lost)  # only the ambiguous ones; every refusal was resent
    assert sum(cards.values()) == len(doctors)  # those cards landed: everyone has one
    codes = {c.status for c in fake.ops("send")}
    assert {429, 412, 503} <= codes


def test_undeliverable_people_are_marked_and_not_retried(rig):
    doctors = _start_round(rig, 12)
    rig.fake.block(doctors[0])
    rig.fake.block(doctors[1])

    def attempts():
        """The sends to the two blocked doctors' 1:1s (which exist once the worker has run)."""
        convs = {rig.fake.personal_conversation(d).id for d in doctors[:2]}
        return [c for c in rig.fake.ops("send") if any(v in unquote(c.path) for v in convs)]

    tried = check_undeliverable_not_retried(rig.core, attempts)
    assert {c.status for c in tried} == {403}
    assert all(rig.fake.messages_to(d) == [] for d in doctors[:2])
