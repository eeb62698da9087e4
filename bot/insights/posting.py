"""Posting summaries: on demand, and the weekly job (default Monday 08:00 local) run by the scheduler.

The summary is a view (``bot.insights.summary_view``) and its chart an image; the tenant's chat
gateway posts both (``ChatGateway.post_channel``), drawn as its platform draws them.

A weekly post is recorded in ``summary_posts`` under a (workspace, channel, week) key before it is
sent, so two ticks or two schedulers never post the same summary twice; a post that fails is
un-recorded so the next tick tries again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from bot.chat.views import Image, Section, SummaryView
from bot.core import Core
from bot.insights import alt_text, charts, export, summary
from bot.insights.summary_view import actions_part, gap_part, summary_view
from bot.people import channels
from storage.models import Department, LeaderChannel, Round, Schedule, SummaryPost, Workspace

log = logging.getLogger("medpulse.summary")


def _title(s: summary.Summary, trust: str) -> str:
    scope = f"{s.department} · " if s.department else ""
    period = f" · period from {s.period}" if s.period else ""
    return f"{trust} · medical engagement pulse · {scope}weekly summary{period}"


def trust_of(core: Core, ws_id: int) -> str:
    from bot.insights.checklist_chart import trust_name

    with core.db.Session() as s:
        return trust_name(core, s.get(Workspace, ws_id).name)


def render(
    core: Core,
    ws_id: int,
    department: str | None = None,
    detail: bool = False,
    inline_detail: bool = False,
) -> tuple[summary.Summary, SummaryView]:
    """The summary model and its view (the view's title names the trust and the period).
    ``inline_detail``: the short view, carrying the detailed one's parts for the platform to
    show on request (one model, both views)."""
    model = summary.build(core, ws_id, department)
    title = _title(model, trust_of(core, ws_id))
    extra = _leadership_sections(core, ws_id, model) if department is None else ()
    view = summary_view(model, title, detail, extra)
    if inline_detail and not detail and not model.suppressed_reason:
        full = summary_view(model, title, True, extra)
        view = replace(view, more_detail=None, detail_headline=full.headline, detail=full.sections)
    return model, view


def chart(model: summary.Summary, title: str) -> Image | None:
    """The summary's chart with its alt text; None when nothing may be shown, or if drawing it
    failed (the figures still go out: a chart is never worth holding them back)."""
    if model.suppressed_reason is not None:
        return None
    try:
        png = charts.summary_png(model, title)
        alt = alt_text.summary_chart(model, title)
    except Exception:  # noqa: BLE001 - see above
        log.exception("summary chart failed")
        return None
    return Image(png=png, alt=alt, filename="medpulse-summary.png", title=title)


def post_summary(
    core: Core,
    team_id: str,
    channel_id: str,
    department: str | None = None,
    slot_key: str | None = None,
    detail: bool = False,
) -> bool:
    """Build and post one summary (and its chart) to a channel; False if already posted.

    With ``slot_key`` the post is claimed first (idempotent per workspace, channel and slot).
    The chart follows the message; if only the upload fails the message stands (posting it
    again would duplicate it) and the failure is logged.
    """
    with core.db.Session() as s:
        ws_id = s.scalar(select(Workspace.id).where(Workspace.team_id == team_id))
    if ws_id is None:
        raise ValueError(f"unknown workspace {team_id!r}")
    if slot_key and not _claim(core, ws_id, channel_id, slot_key):
        return False
    if not channels.postable(core, team_id, channel_id):  # shared outside the trust since set
        if slot_key is None:
            raise channels.SharedChannel(channels.refused_post(channel_id))
        return False  # the weekly slot stays claimed: admins are told once, not every tick
    gw = core.gateway(team_id)
    # "More detail" redraws the post through the tap's response URL; without one (Teams) the
    # detail goes in the post itself, for the platform to show on request.
    inline = not gw.capabilities.response_url
    try:
        model, view = render(core, ws_id, department, detail, inline_detail=inline)
        posted = gw.post_channel(channel_id, view, chart(model, view.title))
    except Exception:
        if slot_key:
            _unclaim(core, ws_id, channel_id, slot_key)
        raise
    gap_is_new = department is None and _ratings_are_new(core, ws_id, channel_id, slot_key)
    if slot_key:
        _record_ts(core, ws_id, channel_id, slot_key, posted.message)
    else:  # on demand: recorded too, so the next summary knows the gap chart went out
        _claim(core, ws_id, channel_id, f"demand:{posted.message}")
    if model.suppressed_reason is None and gap_is_new:
        _upload_gap_chart(core, gw, ws_id, posted.conversation)
    return True


def _ratings_are_new(core: Core, ws_id: int, channel_id: str, slot_key: str | None) -> bool:
    """Whether leaders rated the checklist since this channel's previous summary: the gap
    chart is reposted only then (leaders rate once a quarter; a fortnightly repeat is noise)."""
    from bot.insights.checklist_chart import latest_rating

    rated = latest_rating(core, ws_id)
    if rated is None:
        return False
    with core.db.Session() as s:
        last = s.scalar(
            select(func.max(SummaryPost.posted_at)).where(
                SummaryPost.workspace_id == ws_id,
                SummaryPost.channel_id == channel_id,
                SummaryPost.slot_key != (slot_key or ""),
            )
        )
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=rated.tzinfo)
    return last is None or rated > last


def _upload_gap_chart(core: Core, gw, ws_id: int, channel: str) -> None:
    """The perception-gap chart (the checklist page), under the summary."""
    from bot.insights import checklist_chart as checklist_export
    from bot.insights import gap

    try:
        png = checklist_export.page_png(core, ws_id, trust_of(core, ws_id))
        alt = alt_text.checklist_page(gap.rows(core, ws_id), core.k)
        title = "Where leaders and doctors see it differently"
        gw.post_image(channel, Image(png=png, alt=alt, filename="medpulse-gap.png", title=title))
    except Exception:  # noqa: BLE001 - as for the summary chart: never repost the message
        log.exception("gap chart upload to %s failed", channel)


def _record_ts(core: Core, ws_id: int, channel_id: str, slot_key: str, ts: str) -> None:
    with core.db.Session() as s, s.begin():
        s.execute(
            update(SummaryPost)
            .where(
                SummaryPost.workspace_id == ws_id,
                SummaryPost.channel_id == channel_id,
                SummaryPost.slot_key == slot_key,
            )
            .values(message_id=ts)
        )


def _leadership_sections(
    core: Core, ws_id: int, model: summary.Summary, limit: int = 3
) -> tuple[Section, ...]:
    """The perception gap (its widest flagged rows) and "you said, we did" parts for a trust
    summary."""
    from bot.admin import you_said_we_did as actions_log
    from bot.insights import gap, participation

    if model.suppressed_reason:
        return ()
    return (
        gap_part(gap.flagged_lines(core, ws_id, limit))
        + actions_part(actions_log.themes_with_actions(core, ws_id), model.concerns)
        + participation.part(core, ws_id)  # closing the loop: before and after
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


#: A weekly summary missed by a stopped scheduler is still posted if it comes back within this.
GRACE = timedelta(hours=36)


def last_due(now: datetime, tz: str, weekday: int, at: str) -> datetime:
    """The latest summary time (weekday, local "HH:MM" in ``tz``) at or before ``now``."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    hour, minute = (int(x) for x in at.split(":"))
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    due = datetime.combine(day, time(hour, minute), zone)
    if due > local:
        due = datetime.combine(day - timedelta(days=7), time(hour, minute), zone)
    return due


def post_due_summaries(core: Core, now: datetime) -> int:
    """The weekly job, called by the scheduler on every tick: returns how many summaries it posted.

    For each workspace whose summary time (Schedule.summary_weekday / summary_time, local) has
    come, post once to every leaders channel (a department channel gets its own view). Each post
    is claimed in ``summary_posts`` under (workspace, channel, slot) first, so repeated ticks and
    several schedulers post it once; a failed post is released and retried on the next tick.
    """
    posted = 0
    for team_id, ws_id, tz, weekday, at in _weekly_slots(core):
        due = last_due(now, tz, weekday, at)
        if now - due > GRACE or not export.has_data(core, ws_id):
            continue
        slot = f"weekly:{due.date().isoformat()}"
        for channel_id, dept_id, department in _leader_channels(core, ws_id):
            key = slot if dept_id is None else f"{slot}:dept{dept_id}"
            if not _news_since_last_post(core, ws_id, channel_id, key):
                continue  # fortnightly pulses: the off week would repeat last week's summary
            try:
                posted += post_summary(core, team_id, channel_id, department, key)
            except Exception:
                log.exception(
                    "weekly summary to %s failed; will retry on the next tick", channel_id
                )
    from bot.insights import region  # the monthly regional comparison rides the same tick

    try:
        posted += region.post_due(core, now)
    except Exception:
        log.exception("regional comparison failed; will retry on the next tick")
    return posted


def _news_since_last_post(core: Core, ws_id: int, channel_id: str, key: str) -> bool:
    """Whether a period has closed since this channel's previous weekly summary."""
    suffix = key.partition(":dept")[2]
    with core.db.Session() as s:
        posts = s.execute(
            select(SummaryPost.slot_key, SummaryPost.posted_at).where(
                SummaryPost.workspace_id == ws_id,
                SummaryPost.channel_id == channel_id,
                SummaryPost.slot_key.like("weekly:%"),
                SummaryPost.slot_key != key,
            )
        ).all()
        last = max((at for k, at in posts if k.partition(":dept")[2] == suffix), default=None)
        if last is None:
            return True
        newest = s.scalar(
            select(func.max(Round.closed_at)).where(
                Round.workspace_id == ws_id, Round.status == "closed"
            )
        )
    return newest is not None and newest > last


def _weekly_slots(core: Core):
    """One (team, workspace, zone, weekday, time) per workspace: its first audience's schedule."""
    with core.db.Session() as s:
        rows = s.execute(
            select(
                Workspace.team_id,
                Workspace.id,
                Schedule.timezone,
                Schedule.summary_weekday,
                Schedule.summary_time,
            )
            .join(Schedule, Schedule.workspace_id == Workspace.id)
            .where(Workspace.uninstalled_at.is_(None))  # an uninstalled trust gets no posts
            .order_by(Workspace.id, Schedule.id)
        ).all()
    seen = set()
    for row in rows:
        if row[1] not in seen:
            seen.add(row[1])
            yield row


def _leader_channels(core: Core, ws_id: int) -> list[tuple[str, int | None, str | None]]:
    """(channel, department id, department name) of every leaders channel, oldest first."""
    with core.db.Session() as s:
        return [
            (c, d, name)
            for c, d, name in s.execute(
                select(LeaderChannel.channel_id, LeaderChannel.department_id, Department.name)
                .outerjoin(Department, Department.id == LeaderChannel.department_id)
                .where(LeaderChannel.workspace_id == ws_id)
                .order_by(LeaderChannel.id)
            )
        ]


def leader_channels(core: Core, ws_id: int) -> list[tuple[str, str | None]]:
    """(channel, department name or None) of every leaders channel, for on-demand posting."""
    return [(c, name) for c, _, name in _leader_channels(core, ws_id)]
