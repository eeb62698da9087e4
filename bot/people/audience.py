"""Who the doctors are: the human, active members of the audience source (a Slack channel, a
Teams team), synced per round through the chat gateway's ``members``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from bot.core import Core
from storage.models import Audience, Participant


@dataclass(frozen=True)
class SyncResult:
    members: int
    humans: int
    added: int
    left: int


def sync_audience(core: Core, team_id: str, audience_id: int) -> SyncResult:
    """Read the source's members from the platform, then upsert participants.

    Bots and deactivated accounts are left out here, not by the adapter: who is asked is the
    core's decision. Platform calls happen outside any transaction.
    """
    gw = core.gateway(team_id)
    with core.db.Session() as s:
        audience = s.get(Audience, audience_id)
        channel, workspace_id = audience.channel_id, audience.workspace_id
    members = list(gw.members(channel))
    humans = {u.user_id for u in members if not (u.is_bot or u.deleted)}
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        known = {
            p.user_id: p
            for p in s.scalars(select(Participant).where(Participant.workspace_id == workspace_id))
        }
        added = 0
        for uid in humans:
            p = known.get(uid)
            if p is None:
                s.add(
                    Participant(
                        workspace_id=workspace_id,
                        user_id=uid,
                        audience_id=audience_id,
                        active=True,
                        created_at=now,
                        cycle_start=None,
                    )
                )
                added += 1
            elif p.audience_id in (None, audience_id):
                p.audience_id, p.active = audience_id, True
        gone = [
            p.id
            for uid, p in known.items()
            if p.audience_id == audience_id and p.active and uid not in humans
        ]
        if gone:
            s.execute(update(Participant).where(Participant.id.in_(gone)).values(active=False))
        s.get(Audience, audience_id).synced_at = now
    return SyncResult(members=len(members), humans=len(humans), added=added, left=len(gone))
