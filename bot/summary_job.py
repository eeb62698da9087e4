"""Posting summaries: on demand, and the weekly job (default Monday 08:00 local) run by the scheduler.

A weekly post is recorded in ``summary_posts`` under a (workspace, channel, week) key before it is
sent, so two ticks or two schedulers never post the same summary twice; a post that fails is
un-recorded so the next tick tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot import charts, summary
from bot.core import Core
from bot.summary_blocks import summary_blocks, summary_text
from storage.models import Department, LeaderChannel, Round, Schedule, SummaryPost, Workspace

log = logging.getLogger("medpulse.summary")


def _title(s: summary.Summary) -> str:
    scope = f"{s.department} · " if s.department else ""
    period = f" · period from {s.period}" if s.period else ""
    return f"Medical engagement pulse · {scope}weekly summary{period}"


def post_summary(
    core: Core,
    team_id: str,
    channel_id: str,
    department: str | None = None,
    slot_key: str | None = None,
    detail: bool = False,
) -> bool:
    """Build and post one summary (and its chart) to a channel; False if already posted."""
    with core.db.Session() as s:
        ws_id = s.scalar(select(Workspace.id).where(Workspace.team_id == team_id))
    if slot_key and not _claim(core, ws_id, channel_id, slot_key):
        return False
    try:
        model = summary.build(core, ws_id, department)
        title = _title(model)
        gw = core.gateway(team_id)
        extra = _leadership_sections(core, ws_id, model) if department is None else []
        blocks = summary_blocks(model, title, detail, extra)
        posted = gw.post_channel(channel_id, summary_text(model, title), blocks)

        if model.suppressed_reason is None:
            png = charts.summary_png(model, title)
            gw.upload_png(posted.channel, png, "medpulse-summary.png", title)
    except Exception:
        if slot_key:
            _unclaim(core, ws_id, channel_id, slot_key)
        raise
    if slot_key:
        with core.db.Session() as s, s.begin():
            s.execute(
                update(SummaryPost)
                .where(
                    SummaryPost.workspace_id == ws_id,
                    SummaryPost.channel_id == channel_id,
                    SummaryPost.slot_key == slot_key,
                )
                .values(ts=posted.ts)
            )
    return True


def _leadership_sections(core: Core, ws_id: int, model: summary.Summary) -> list[dict]:
    """The perception gap and "you said, we did" sections (issue-8 features) for a trust summary."""
    from bot import actions_log, gap
    from bot.summary_blocks import actions_section

    if model.suppressed_reason:
        return []
    return gap.gap_section_blocks(core, ws_id) + actions_section(
        actions_log.themes_with_actions(core, ws_id), model.concerns
    )


def _claim(core: Core, ws_id: int, channel_id: str, slot_key: str) -> bool:
    try:
        with core.db.Session() as s, s.begin():
            s.add(
                SummaryPost(
                    workspace_id=ws_id,
                    channel_id=channel_id,
                    slot_key=slot_key,
                    posted_at=core.clock.now(),
                )
            )
        return True
    except IntegrityError:
        return False


def _unclaim(core: Core, ws_id: int, channel_id: str, slot_key: str) -> None:
    with core.db.Session() as s, s.begin():
        s.execute(
            delete(SummaryPost).where(
                SummaryPost.workspace_id == ws_id,
                SummaryPost.channel_id == channel_id,
                SummaryPost.slot_key == slot_key,
            )
        )


def post_due_summaries(core: Core, now: datetime) -> int:
    """The weekly job: for each workspace whose summary time has come this week, post once."""
    posted = 0
    for team_id, ws_id, tz, weekday, at in _weekly_slots(core):
        local = now.astimezone(ZoneInfo(tz))
        if local.weekday() != weekday or local.strftime("%H:%M") < at:
            continue
        if not _has_closed_round(core, ws_id):
            continue
        slot = f"weekly:{local.date().isoformat()}"
        for channel_id, department in _leader_channels(core, ws_id):
            try:
                posted += post_summary(core, team_id, channel_id, department, slot)
            except Exception:
                log.exception(
                    "weekly summary to %s failed; will retry on the next tick", channel_id
                )
    return posted


def _weekly_slots(core: Core):
    with core.db.Session() as s:
        rows = s.execute(
            select(
                Workspace.team_id,
                Workspace.id,
                Schedule.timezone,
                Schedule.summary_weekday,
                Schedule.summary_time,
            ).join(Schedule, Schedule.workspace_id == Workspace.id)
        ).all()
    seen = set()
    for row in rows:
        if row[1] not in seen:
            seen.add(row[1])
            yield row


def _has_closed_round(core: Core, ws_id: int) -> bool:
    with core.db.Session() as s:
        return (
            s.scalar(
                select(Round.id)
                .where(Round.workspace_id == ws_id, Round.status == "closed")
                .limit(1)
            )
            is not None
        )


def _leader_channels(core: Core, ws_id: int) -> list[tuple[str, str | None]]:
    with core.db.Session() as s:
        return [
            tuple(r)
            for r in s.execute(
                select(LeaderChannel.channel_id, Department.name)
                .outerjoin(Department, Department.id == LeaderChannel.department_id)
                .where(LeaderChannel.workspace_id == ws_id)
                .order_by(LeaderChannel.id)
            )
        ]
