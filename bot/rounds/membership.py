"""Who a round asks, compared with the round before: the sock-puppet rule.

An admin who controls some accounts can point the audience at a channel of one target and four
puppets (or move puppets into the target's department) and then read the target's answer as the
group's figure minus the puppets' known answers. medpulse cannot tell puppets from doctors, so it
makes the move visible and keeps it from paying at once:

* each round records whether its audience (the people asked, with their departments and
  grades) differs from the previous round's, or changes while the round is open (checked again
  at close); such a round stores and publishes nothing finer than the whole audience (segments
  are dropped at close, breakdowns are withheld);
* a doctor's App Home shows the size of their pulse group and when it last changed, so a
  target sees "5 doctors, changed on Tuesday" before answering.

What remains (README, threat model): an admin who builds the puppet group and then waits one
round with it unchanged gets breakdowns again, and the whole-audience figure of a tiny audience
is always published; the App Home line is the defence there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import Core
from storage.models import Audience, Delivery, Participant, Round, Workspace


def fingerprint(people: list[Participant]) -> str:
    """One hash of (person, department, grade) over everyone asked, order-independent."""
    rows = sorted(f"{p.id}:{p.department_id}:{p.grade}" for p in people)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def note_round(audience: Audience, people: list[Participant], now: datetime) -> bool:
    """Record who this round asks; True when that differs from the previous round (or there
    was none), i.e. when the round may publish nothing finer than the whole audience."""
    mark = fingerprint(people)
    changed = audience.members_hash != mark
    if changed:
        audience.changed_at = now
    audience.members_hash, audience.members = mark, len(people)
    return changed


def moved_since_created(s: Session, rnd: Round) -> bool:
    """Whether anyone the round asked has since changed department or grade (or left).

    Checked at close: an admin could otherwise move puppets into a target's department, or the
    target's colleagues out of it, after the round was sent, and read the target's answer from
    a breakdown of a round that looks unchanged. Rounds created before the hash was kept
    (``members_hash`` NULL) are not checked.
    """
    if rnd.members_hash is None:
        return False
    people = s.scalars(
        select(Participant)
        .join(Delivery, Delivery.participant_id == Participant.id)
        .where(Delivery.round_id == rnd.id)
    ).all()
    return fingerprint(list(people)) != rnd.members_hash


def _eligible(s: Session, audience_id: int) -> list[Participant]:
    return list(
        s.scalars(
            select(Participant).where(
                Participant.audience_id == audience_id,
                Participant.active.is_(True),
                Participant.opted_out.is_(False),
            )
        )
    )


@dataclass(frozen=True)
class GroupNote:
    size: int  # doctors who would be asked now
    changed_at: datetime | None  # when the group asked last differed from the one before
    changed_since: bool  # the group differs now from the one the latest round asked


def group_note(core: Core, team: str, user: str) -> GroupNote | None:
    """What a doctor's App Home says about their pulse group; None outside any audience."""
    with core.db.Session() as s:
        audience = s.scalar(
            select(Audience)
            .join(Participant, Participant.audience_id == Audience.id)
            .join(Workspace, Workspace.id == Participant.workspace_id)
            .where(Workspace.team_id == team, Participant.user_id == user)
        )
        if audience is None:
            return None
        people = _eligible(s, audience.id)
        changed_since = audience.members_hash is not None and (
            fingerprint(people) != audience.members_hash
        )
        return GroupNote(len(people), audience.changed_at, changed_since)


def group_line(note: GroupNote | None) -> str | None:
    """One sentence for the App Home, so a sudden small or reshaped group is seen in time."""
    if note is None:
        return None
    line = f"*Your pulse group:* {note.size} doctor{'s' * (note.size != 1)}."
    if note.changed_since:
        line += " It has changed since the last pulse (people, departments or grades)."
    elif note.changed_at is not None:
        line += f" It last changed on {note.changed_at:%-d %B %Y}."
    return (
        line + " When a group changes, the next pulse publishes only figures for the whole "
        "group; if it looks smaller than you expect, ask your admin before answering."
    )
