"""The tidy-up when a round closes: every pulse DM redrawn to one neutral closed message, and the
reminder, where one was sent, deleted.

Why: a chat platform keeps what a DM says for as long as the workspace keeps history (Slack),
or the tenant retains chats (Teams), and anyone with the bot token or an export can read it by
name. After this, a doctor's DMs from a closed
round are the same, in number and in content, whether they answered or not.

How: each sent delivery of the round is a job in the outbox (``deliveries.tidy``), claimed like
a pulse and run under the tenant's one rate limiter (on Slack ``chat.update`` and ``chat.delete``
are Tier 3, about 50 a minute), so 10,000 redraws neither burst nor get lost. Both calls go
through the gateway (``update`` with a ``ClosedPulseView``, ``delete``) and are idempotent (a
message already gone counts as done), so a job cut off by a crash or a
fault is simply run again when its claim runs out: nothing lost, nothing doubled. The last job
of a round scrubs old row versions (the reminder's message id went with its job).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.chat.errors import Gone, Permanent, RateLimited, Transient, Undeliverable
from bot.chat.ids import MessageRef
from bot.rounds.pulse_view import closed_view
from storage.models import Delivery, Participant, Workspace

log = logging.getLogger("medpulse.closing")

# A send already past its "is the round open?" check lands within this (the limiter waits at
# most a minute), so the tidy-up finds the message it must redraw or delete.
DELAY = timedelta(minutes=5)

# What every delivery row of a closed round says once its DM is tidied: the same for all.
TIDIED = {
    "tidy": "done",
    "tidy_due": None,
    "reminder": "none",
    "reminder_due": None,
    "reminder_message_id": None,
    "claimed_by": None,
    "claimed_at": None,
    "attempts": 0,
    "uncertain": False,
}


def tidy(worker, job) -> None:
    """Delete the reminder (if any) and redraw the pulse as closed; retried until done."""
    with worker.core.db.Session() as s:
        row = s.execute(
            select(
                Delivery.round_id,
                Delivery.conversation_id,
                Delivery.message_id,
                Delivery.reminder_message_id,
            )
            .add_columns(Workspace.team_id)
            .join(Workspace, Workspace.id == Delivery.workspace_id)
            .join(Participant, Participant.id == Delivery.participant_id)
            .where(Delivery.id == job.delivery_id)
        ).one_or_none()
    if row is None:
        return
    round_id, channel, ts, reminder_message_id, team = row
    gw = worker.core.gateway(team)
    limiter = worker.limiters.for_tenant(worker.core.tenant(team))
    closed = closed_view(home=gw.capabilities.home)
    try:
        if reminder_message_id and not _call(
            limiter, lambda: gw.delete(MessageRef(channel, reminder_message_id))
        ):
            worker._release(job, delay=1)
            return
        if ts and not _call(limiter, lambda: gw.update(MessageRef(channel, ts), closed)):
            worker._release(job, delay=1)
            return
    except Transient:
        worker._release(job, attempt=True, delay=worker.backoff * 10)
        return
    _tidied(worker.core, job.delivery_id, round_id)


def _call(limiter, fn) -> bool:
    """One platform call under the limiter; False when it should be tried again later."""
    if not limiter.acquire(timeout=60):
        return False
    try:
        fn()
    except RateLimited as exc:
        limiter.penalise(exc.retry_after or 1.0)
        return False
    except (Permanent, Undeliverable) as exc:
        if not isinstance(exc, Gone):
            log.warning("closing a pulse DM: the platform refused (%s); leaving it", exc.error)
        return True
    limiter.reward()
    return True


def _tidied(core, delivery_id: int, round_id: int) -> None:
    with core.db.Session() as s, s.begin():
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(**TIDIED))
        left = s.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.round_id == round_id, Delivery.tidy.in_(("pending", "sending"))
            )
        )
    if not left:
        from bot.rounds.lifecycle import SCRUBBED

        core.db.scrub(SCRUBBED)
        log.info("round %s: every pulse DM closed and its reminder deleted", round_id)
