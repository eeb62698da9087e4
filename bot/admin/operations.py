"""Admin operations behind the slash commands: each one changes state and writes the audit log.

Listeners parse and render; these functions decide. They take a team and an actor, never a
Slack payload, so the Teams adapter can call them unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.admin import audit
from bot.core import Core
from bot.people.audience import SyncResult, sync_audience
from bot.rounds import windows
from bot.rounds.lifecycle import RoundResult, create_round
from storage.models import (
    Audience,
    Delivery,
    Department,
    LeaderChannel,
    Round,
    Schedule,
    Workspace,
)


class AdminError(Exception):
    """A request that cannot be done as asked; the message is for the admin."""


def workspace(s, team_id: str) -> Workspace:
    ws = s.scalar(select(Workspace).where(Workspace.team_id == team_id))
    if ws is None:
        raise AdminError("this workspace is not set up yet")
    return ws


def default_schedule(core: Core, ws: Workspace, audience_id: int) -> Schedule:
    """Fortnightly Tuesday 10:00 in the trust's zone, anchored on this week."""
    today = core.clock.now().astimezone(ZoneInfo(ws.timezone)).date()
    return Schedule(
        workspace_id=ws.id,
        audience_id=audience_id,
        cadence="fortnightly",
        weekday=1,
        local_time="10:00",
        timezone=ws.timezone,
        anchor=today - timedelta(days=today.weekday()),
        questions_per_pulse=2,
        reminder_after_hours=24,
        close_after_days=5,
        out_of_hours=False,
        paused=False,
        updated_at=core.clock.now(),
    )


@dataclass
class AudienceResult:
    audience_id: int
    sync: SyncResult
    previous: str | None


def set_audience(
    core: Core, team_id: str, actor: str, channel_id: str, name: str
) -> AudienceResult:
    """Make this channel the audience (one per workspace for now) and sync its members."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws = workspace(s, team_id)
        current = s.scalar(select(Audience).where(Audience.workspace_id == ws.id))
        previous = current.channel_id if current else None
        if current is None:
            current = Audience(workspace_id=ws.id, channel_id=channel_id, name=name, created_at=now)
            s.add(current)
            s.flush()
            s.add(default_schedule(core, ws, current.id))
        else:
            current.channel_id, current.name = channel_id, name
        audit.record(s, ws.id, actor, "audience", previous, channel_id, now)
        audience_id = current.id
    result = sync_audience(core, team_id, audience_id)
    return AudienceResult(audience_id, result, previous)


def add_leader_channel(
    core: Core, team_id: str, actor: str, channel_id: str, department: str | None
) -> bool:
    """Add a summaries channel (optionally for one department); False when already there."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws = workspace(s, team_id)
        dept_id = None
        if department:
            dept_id = s.scalar(
                select(Department.id).where(
                    Department.workspace_id == ws.id, Department.name == department
                )
            )
            if dept_id is None:
                names = ", ".join(
                    sorted(
                        s.scalars(select(Department.name).where(Department.workspace_id == ws.id))
                    )
                )
                raise AdminError(
                    f"there is no department called {department!r}. "
                    + (f"Known departments: {names}." if names else "Import a roster first.")
                )
        exists = s.scalar(
            select(LeaderChannel.id).where(
                LeaderChannel.workspace_id == ws.id,
                LeaderChannel.channel_id == channel_id,
                LeaderChannel.department_id.is_(None)
                if dept_id is None
                else LeaderChannel.department_id == dept_id,
            )
        )
        if exists:
            return False
        s.add(LeaderChannel(workspace_id=ws.id, channel_id=channel_id, department_id=dept_id))
        label = f"{channel_id} department:{department}" if department else channel_id
        audit.record(s, ws.id, actor, "leaders channel added", None, label, now)
        return True


def audience_id_for(core: Core, team_id: str) -> int:
    with core.db.Session() as s:
        ws = workspace(s, team_id)
        aid = s.scalar(select(Audience.id).where(Audience.workspace_id == ws.id))
    if aid is None:
        raise AdminError("there is no audience yet. Choose one first: `/pulse audience #channel`")
    return aid


def still_sending(core: Core, audience_id: int) -> None:
    """Raise AdminError while any DM of the audience's rounds is waiting or being sent."""
    with core.db.Session() as s:
        left = s.scalar(
            select(func.count(Delivery.id))
            .join(Round, Round.id == Delivery.round_id)
            .where(Round.audience_id == audience_id, Delivery.status.in_(("pending", "sending")))
        )
    if left:
        raise AdminError(
            f"the previous round is still being sent ({left} DMs to go), so no new round was "
            "started. Try again once it has gone out (`/pulse status`)."
        )


@dataclass
class SendResult:
    round: RoundResult
    out_of_hours: bool
    sync: SyncResult


def send_now(core: Core, team_id: str, actor: str) -> SendResult:
    """An immediate round, through the same path as a scheduled one; refused while the
    audience's previous round is still being sent (repeated taps would queue round on round)."""
    aid = audience_id_for(core, team_id)
    still_sending(core, aid)
    sync = sync_audience(core, team_id, aid)
    now = core.clock.now()
    slot = "manual:" + now.strftime("%Y%m%dT%H%M%S.%f")
    result = create_round(core, aid, slot, manual=True)
    with core.db.Session() as s, s.begin():
        ws = workspace(s, team_id)
        tz = s.scalar(select(Schedule.timezone).where(Schedule.audience_id == aid)) or ws.timezone
        if result.created:
            audit.record(s, ws.id, actor, "send now", None, f"round {result.round_id}", now)
    return SendResult(result, windows.is_quiet(now, tz), sync)


def set_opt_out(core: Core, team_id: str, user_id: str, opted_out: bool) -> bool:
    """Opt a person out or in; returns whether anything changed. Not audited: it is theirs."""
    from bot.people import preferences as people

    changed = people.me(core, team_id, user_id).opted_out != opted_out
    people.update_me(core, team_id, user_id, opted_out=opted_out)
    return changed
