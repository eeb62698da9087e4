"""Closing a round in Slack: every pulse DM redrawn to the same closed message and every reminder
deleted, through the outbox, whatever Slack and the workers do meanwhile."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.admin.retention import forget
from bot.chat.ids import Tenant
from bot.delivery.outbox import DeliveryWorker
from bot.rounds.pulse_view import CLOSED_TEXT
from bot.rounds.scheduler import Scheduler
from storage.models import Delivery
from tests.helpers import answer_buttons, dm_history, pulse_message, start_round


def _answered_and_reminded(core, fake, slack, worker, clock, n: int = 20) -> list[str]:
    """A round to ``n`` doctors; the first half answer, the rest get a reminder."""
    ids = start_round(fake, slack, worker, n)
    for uid in ids[: n // 2]:
        msg = pulse_message(fake, uid)
        btn = answer_buttons(msg)[0][1]
        assert slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api()).ok
    clock.advance(timedelta(hours=25))
    Scheduler(core, sync_audience=False).tick()
    while worker.run_once():
        pass
    return ids


def _drain(worker, clock, rounds: int = 12) -> None:
    """Run the outbox until nothing is due, moving the clock past retry delays and leases."""
    for _ in range(rounds):
        clock.advance(timedelta(minutes=2))
        while worker.run_once():
            pass


def test_closing_loses_and_doubles_nothing_through_faults_and_a_dead_worker(
    core, fake, slack, worker, clock
):
    ids = _answered_and_reminded(core, fake, slack, worker, clock)
    posted = len(fake.calls_to("chat.postMessage"))
    assert posted == len(ids) + len(ids) // 2  # pulses, and reminders to the half who did not
    clock.advance(timedelta(days=5))
    Scheduler(core, sync_audience=False).tick()  # closes
    clock.advance(timedelta(minutes=6))

    # A worker claims a batch of the tidy-up and dies before doing any of it...
    dead = DeliveryWorker(core, concurrency=2)
    assert dead._claim("tidy", 5)
    # ...Slack fails some calls after their effect, refuses others, and rate-limits.
    fake.fail_next("chat.update", status=500, count=3, error_after_effect=True)
    fake.fail_next("chat.delete", status=500, count=2)
    fake.fail_next("chat.delete", status=429, count=1, retry_after=1)
    _drain(worker, clock)

    for uid in ids:
        assert [m["text"] for m in dm_history(fake, uid)] == [CLOSED_TEXT], uid
    assert len(fake.calls_to("chat.postMessage")) == posted  # nothing new was ever posted
    deleted = [c for c in fake.calls_to("chat.delete") if c.succeeded]
    assert len({c.params["ts"] for c in deleted}) == len(ids) // 2
    with core.db.Session() as s:
        assert set(s.scalars(select(Delivery.tidy))) == {"done"}
        assert set(s.scalars(select(Delivery.reminder_message_id))) == {None}


def test_closing_goes_through_the_workspace_limiter(core, fake, slack, worker, clock):
    """chat.update is Tier 3: a burst of redraws is paced by the one limiter per workspace,
    which a 429 slows down, instead of hammering Slack."""
    ids = _answered_and_reminded(core, fake, slack, worker, clock, n=10)
    clock.advance(timedelta(days=5))
    Scheduler(core, sync_audience=False).tick()
    clock.advance(timedelta(minutes=6))
    acquired = []
    limiter = worker.limiters.for_tenant(Tenant("slack", fake.team_id))
    real = limiter.acquire

    def counting(*a, **kw):
        acquired.append(1)
        return real(*a, **kw)

    limiter.acquire = counting
    _drain(worker, clock, rounds=2)
    calls = len(fake.calls_to("chat.update")) + len(fake.calls_to("chat.delete"))
    assert calls == len(ids) + len(ids) // 2 and len(acquired) == calls


def test_forget_deletes_the_persons_pulse_dms_and_reminders(core, fake, slack, worker, clock):
    ids = _answered_and_reminded(core, fake, slack, worker, clock, n=10)
    silent = ids[-1]  # got a pulse and a reminder
    assert len(dm_history(fake, silent)) == 2
    done = forget(core, fake.team_id, silent)
    assert (done.participants, done.deliveries, done.messages, done.kept) == (1, 1, 2, 0)
    assert dm_history(fake, silent) == []
    assert len(dm_history(fake, ids[0])) == 1  # nobody else's
