"""Data retention and the right to be forgotten.

* Answers and comments older than the retention period (default 24 months, by the round's
  close) are deleted; aggregates already frozen at close (participation counts) stay.
* ``forget`` removes a person's identity rows (participant, deliveries). Their anonymous
  answers stay, because nothing ties them to the person any more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from bot.core import Core
from storage.models import Comment, Delivery, Participant, Response, Round, Workspace

USER = re.compile(r"^<?@?([UW][A-Z0-9]{2,})(?:\|[^>]*)?>?$")


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


def parse_user(text: str) -> str | None:
    m = USER.match(text.strip())
    return m.group(1) if m else None


@dataclass(frozen=True)
class Forgotten:
    participants: int
    deliveries: int


def forget(core: Core, team_id: str, user_id: str) -> Forgotten:
    with core.db.Session() as s, s.begin():
        ws_id = s.scalar(select(Workspace.id).where(Workspace.team_id == team_id))
        ids = list(
            s.scalars(
                select(Participant.id).where(
                    Participant.workspace_id == ws_id, Participant.slack_user_id == user_id
                )
            )
        )
        if not ids:
            return Forgotten(0, 0)
        d = s.execute(delete(Delivery).where(Delivery.participant_id.in_(ids))).rowcount or 0
        p = s.execute(delete(Participant).where(Participant.id.in_(ids))).rowcount or 0
    return Forgotten(p, d)


def retention_due(last: datetime | None, now: datetime) -> bool:
    """Run the purge at most once a day."""
    return last is None or now - last >= timedelta(days=1)
