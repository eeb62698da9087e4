"""Operations: retention, forgetting a person, structured logs that never carry secrets or answers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.admin.retention import apply_retention, cutoff, forget
from bot.rounds.scheduler import Scheduler
from integrations.slack.blocks import user_id_in as parse_user
from server import logs
from storage.models import Comment, Delivery, Participant, Response
from tests.blockkit import find_element
from tests.conftest import ADMIN
from tests.helpers import answer_buttons, doctors, pulse_message, start_round, wait_for


def _answered_round(core, fake, slack, worker, clock, n=6):
    ids = start_round(fake, slack, worker, n)
    for uid in ids:
        msg = pulse_message(fake, uid)
        btn = answer_buttons(msg)[0][2]
        slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api())
    rid = find_element(pulse_message(fake, ids[0]).blocks, "comment")["value"]
    slack.view_submission(
        ids[0], "pulse_comment", {"comment": {"text": "secret rota comment"}}, private_metadata=rid
    )
    clock.advance(timedelta(days=6))
    Scheduler(core, sync_audience=False).tick()
    return ids


def _count(core, model):
    with core.db.Session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_retention_deletes_only_answers_older_than_the_setting(core, fake, slack, worker, clock):
    _answered_round(core, fake, slack, worker, clock)
    n = _count(core, Response)
    assert n == 6 and _count(core, Comment) == 1
    clock.advance(timedelta(days=30 * 23))
    assert apply_retention(core).responses == 0 and _count(core, Response) == n
    clock.advance(timedelta(days=60))
    purged = apply_retention(core)
    assert (purged.responses, purged.comments) == (6, 1)
    assert _count(core, Response) == 0 and _count(core, Comment) == 0


def test_cutoff_counts_calendar_months():
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    assert cutoff(now, 1) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert cutoff(now, 24) == datetime(2024, 3, 31, 12, tzinfo=UTC)


def test_forget_removes_identity_rows_and_keeps_anonymous_answers(core, fake, slack, worker, clock):
    ids = _answered_round(core, fake, slack, worker, clock)
    before = _count(core, Response)
    done = forget(core, fake.team_id, ids[0])
    assert (done.participants, done.deliveries) == (1, 1)
    with core.db.Session() as s:
        assert s.scalar(select(Participant).where(Participant.user_id == ids[0])) is None
        assert s.scalar(select(func.count()).select_from(Delivery)) == len(ids) - 1
    assert _count(core, Response) == before
    assert parse_user("<@U012ABC|bob>") == "U012ABC" and parse_user("@U012ABC") == "U012ABC"
    assert parse_user("bob") is None


def test_json_logs_are_one_line_each_and_never_carry_tokens_answers_or_comments(
    core, fake, slack, worker, clock, capsys
):
    logs.setup("json", logging.DEBUG)
    try:
        logging.getLogger("medpulse.test").info("posting with xoxb-12345-abcdef and xapp-1-XYZ")
        _answered_round(core, fake, slack, worker, clock)
    finally:
        logs.setup("text")
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and all(json.loads(ln)["level"] for ln in lines)  # one JSON object per line
    assert "xoxb-12345" not in err and "xapp-1-XYZ" not in err and "[redacted]" in err
    assert "secret rota comment" not in err
    assert '"value"' not in err and "Strongly" not in err


def test_graceful_shutdown_finishes_in_flight_sends_and_leaves_the_rest_pending(
    core, fake, slack, worker
):
    import threading

    doctors(fake, 30)
    r = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key))
    r = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key))
    fake.latency = 0.4
    t = threading.Thread(target=worker.run_once)
    t.start()
    wait_for(lambda: fake.calls_to("chat.postMessage") or None, what="first sends in flight")
    worker.shutdown()
    t.join(timeout=30)
    with core.db.Session() as s:
        statuses = dict(
            s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
    delivered = sum(1 for c in fake.calls_to("chat.postMessage") if c.effect)
    assert statuses.get("sending", 0) == 0  # nothing left claimed
    assert (
        statuses.get("sent", 0) == delivered > 0
    )  # every send that started was finished and recorded
    assert statuses.get("pending", 0) == 30 - delivered > 0  # the rest wait for the next worker
