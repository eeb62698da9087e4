"""Data retention and the right to be forgotten.

* Answers and comments older than the retention period (default 24 months, by the round's
  close) are deleted; aggregates already frozen at close (participation counts) stay.
* ``forget`` deletes a person's pulse DMs and reminders from Slack, then their identity rows
  (participant, deliveries). Their anonymous answers stay: nothing ties them to the person.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from bot.chat.errors import ChatError, Gone, NotInstalled, RateLimited, Transient
from bot.chat.ids import MessageRef
from bot.core import Core
from storage.models import (
    ChatRoute,
    Comment,
    Delivery,
    Participant,
    Response,
    Round,
    Workspace,
)


def cutoff(now: datetime, months: int) -> datetime:
    """Calendar months back from ``now`` (day clamped to the month's end)."""
    year, month = divmod(now.year * 12 + (now.month - 1) - months, 12)
    month += 1
    for day in (now.day, 30, 29, 28):
        try:
            return now.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class Purged:
    responses: int
    comments: int


def apply_retention(core: Core, months: int | None = None) -> Purged:
    months = core.settings.retention_months if months is None else months
    before = cutoff(core.clock.now(), months)
    old = select(Round.id).where(Round.status == "closed", Round.closed_at < before)
    with core.db.Session() as s, s.begin():
        r = s.execute(delete(Response).where(Response.round_id.in_(old))).rowcount or 0
        c = s.execute(delete(Comment).where(Comment.round_id.in_(old))).rowcount or 0
    return Purged(r, c)


@dataclass(frozen=True)
class Forgotten:
    participants: int
    deliveries: int
    messages: int = 0  # pulse DMs and reminders deleted from Slack
    kept: int = 0  # DMs Slack would not delete (reported; the rows go anyway)


def forget(core: Core, team_id: str, user_id: str) -> Forgotten:
    """Delete the person's pulse DMs and reminders from Slack, then their identity rows."""
    with core.db.Session() as s:
        ws_id = s.scalar(select(Workspace.id).where(Workspace.team_id == team_id))
        ids = list(
            s.scalars(
                select(Participant.id).where(
                    Participant.workspace_id == ws_id, Participant.user_id == user_id
                )
            )
        )
        sent = s.execute(
            select(
                Delivery.conversation_id, Delivery.message_id, Delivery.reminder_message_id
            ).where(Delivery.participant_id.in_(ids), Delivery.conversation_id.is_not(None))
        ).all()
    if not ids:
        return Forgotten(0, 0)
    messages = [(ch, ts) for ch, pulse, reminder in sent for ts in (pulse, reminder) if ts]
    deleted, kept = _delete_messages(core, team_id, messages)
    with core.db.Session() as s, s.begin():
        d = s.execute(delete(Delivery).where(Delivery.participant_id.in_(ids))).rowcount or 0
        s.execute(  # where a platform keeps the route to their 1:1 (Teams)
            delete(ChatRoute).where(
                ChatRoute.workspace_id == ws_id, ChatRoute.kind == "dm", ChatRoute.key == user_id
            )
        )
        p = s.execute(delete(Participant).where(Participant.id.in_(ids))).rowcount or 0
    return Forgotten(p, d, deleted, kept)


def _delete_messages(core: Core, team_id: str, messages: list[tuple[str, str]]) -> tuple[int, int]:
    """Delete each through the tenant's gateway, whatever its platform; one already gone
    counts as deleted, one refused is kept (reported). Returns (deleted, kept)."""
    if not messages:
        return 0, 0
    try:
        gw = core.gateway(team_id)
    except NotInstalled:  # no token left: nothing can be deleted, the rows go anyway
        return 0, len(messages)
    deleted = kept = 0
    for channel, ts in messages:
        for attempt in range(5):
            try:
                gw.delete(MessageRef(channel, ts))
                deleted += 1
            except RateLimited as exc:
                time.sleep(min(exc.retry_after or 1.0, 30))
                continue
            except Transient:
                time.sleep(0.5 * 2**attempt)
                continue
            except ChatError as exc:  # any platform's refusal (bot.chat.errors), never escapes
                gone = isinstance(exc, Gone)
                deleted, kept = deleted + gone, kept + (not gone)
            break
        else:
            kept += 1
    return deleted, kept


def retention_due(last: datetime | None, now: datetime) -> bool:
    """Run the purge at most once a day."""
    return last is None or now - last >= timedelta(days=1)
