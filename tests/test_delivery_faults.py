"""Delivery under faults: 429s, 503s (some after Slack already delivered), and a worker process
killed with SIGKILL mid-fan-out and restarted. Every doctor must end with exactly one DM set."""

from __future__ import annotations

import subprocess

from bot.admin.operations import set_audience
from bot.clock import SystemClock
from bot.people.workspaces import ensure_team
from bot.rounds.lifecycle import create_round
from server.runtime import build_core
from tests.conftest import ADMIN, SECRET, TOKEN, make_settings
from tests.delivery_checks import (
    check_undeliverable_not_retried,
    kill_mid_fan_out_and_restart,
    run_until,
    status_counts,
    worker_process,
)
from tests.helpers import dms_of_kind, doctors


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
    return worker_process(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "DATABASE_URL": db_url,
            "MEDPULSE_ADMINS": ADMIN,
        }
    )


def test_kill_and_restart_mid_fan_out_delivers_exactly_once(fake, db_url):
    core, ids = _start_round(fake, db_url, 100)
    fake.latency = 0.03
    fake.rate_limit("chat.postMessage", 15)
    fake.error_rate("chat.postMessage", status=503, rate=0.04, seed=11, error_after_effect=True)
    fake.fail_next("chat.postMessage", status=503, count=3)

    kill_mid_fan_out_and_restart(
        lambda: _worker_process(fake, db_url),
        sends=lambda: len(fake.calls_to("chat.postMessage")),
        delivered=lambda: sum(1 for u in ids if dms_of_kind(fake, u, "pulse")),
        doctors=len(ids),
        settled=lambda: status_counts(core).get("sent", 0) == len(ids),
        timeout=90,
    )

    counts = {u: len(dms_of_kind(fake, u, "pulse")) for u in ids}
    assert set(counts.values()) == {1}, {u: c for u, c in counts.items() if c != 1}
    codes = {c.status for c in fake.calls_to("chat.postMessage")}
    assert 429 in codes and 503 in codes  # the faults really happened
    core.db.dispose()


def test_ambiguous_503s_and_429s_in_process(fake, db_url):
    core, ids = _start_round(fake, db_url, 80)
    fake.rate_limit("chat.postMessage", 30)
    fake.error_rate("chat.postMessage", status=503, rate=0.1, seed=3, error_after_effect=True)
    run_until(core, lambda: status_counts(core).get("sent", 0) >= len(ids))
    assert status_counts(core) == {"sent": len(ids)}
    assert all(len(dms_of_kind(fake, u, "pulse")) == 1 for u in ids)
    lost_replies = [c for c in fake.calls_to("chat.postMessage") if c.status == 503 and c.effect]
    assert lost_replies, "some 503s must have come after Slack delivered"
    core.db.dispose()


def test_undeliverable_people_are_marked_and_not_retried(fake, db_url):
    core, ids = _start_round(fake, db_url, 12)
    fake.set_undeliverable(ids[0], "messages_tab_disabled")
    fake.set_undeliverable(ids[1], "user_not_found")
    check_undeliverable_not_retried(
        core,
        lambda: [
            c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") in ids[:2]
        ],
    )
    core.db.dispose()
