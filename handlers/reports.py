"""/pulse summary, /pulse comments and /pulse export: what leaders read, on demand."""

from __future__ import annotations

import logging
import random

from slack_bolt import App

from bot import export
from bot.core import Core
from bot.pulses import THEME_LABELS
from bot.summary_job import post_summary
from handlers.commands import Ctx, UsageError, command
from storage import anonymity, queries

log = logging.getLogger("medpulse.reports")


def register(app: App, core: Core) -> None:
    """The commands register themselves in the /pulse table when this module is imported."""


def _leader_channels(ctx: Ctx) -> list[tuple[str, str | None]]:
    from bot.summary_job import _leader_channels

    return _leader_channels(ctx.core, ctx.workspace_id)


@command(
    "summary",
    "/pulse summary [detail]",
    "Post the latest summary to the leaders channels now (`detail` adds the intervals).",
)
def _summary(ctx: Ctx) -> None:
    args = [a.lower() for a in ctx.parsed.args]
    if args not in ([], ["detail"]):
        raise UsageError("`summary` takes nothing, or the word `detail`")
    channels = _leader_channels(ctx)
    ctx.say("⏳ Building the summary…")
    detail = args == ["detail"]
    if not channels:
        post_summary(ctx.core, ctx.team, ctx.user, None, detail=detail)
        ctx.say(
            "No leaders channel is set, so I sent the summary to you privately. "
            "Choose one with `/pulse leaders #channel`."
        )
        return
    for channel, department in channels:
        post_summary(ctx.core, ctx.team, channel, department, detail=detail)
    names = ", ".join(f"<#{c}>" + (f" ({d})" if d else "") for c, d in channels)
    ctx.say(f"✅ Summary posted to {names}.")


@command(
    "comments",
    "/pulse comments [theme]",
    "Read this period's anonymous comments (groups of at least the minimum size only).",
)
def _comments(ctx: Ctx) -> None:
    theme = _theme_arg(ctx.parsed.args)
    k = ctx.core.k
    with ctx.core.db.Session() as s:
        periods = queries.closed_periods(s, ctx.workspace_id, 1)
        if not periods:
            ctx.say("No pulse has closed yet, so there are no comments to read.")
            return
        rid = periods[0].round_id
        respondents = queries.respondents_per_round(s, [rid]).get(rid, 0)
        texts = queries.comment_texts(s, [rid], theme)
    if not anonymity.comments_visible(respondents, k):
        ctx.say(
            f"Comments are shown only when at least {k} people responded; this period had {anonymity.k_label(k)}."
        )
        return
    if not texts:
        ctx.say(
            "No comments"
            + (f" about {THEME_LABELS.get(theme, theme)}" if theme else "")
            + " this period."
        )
        return
    random.shuffle(texts)
    head = f"*{len(texts)} anonymous comments, period from {periods[0].start:%-d %b %Y}* (random order)"
    lines = [head] + [f"• _{THEME_LABELS.get(t, 'Other')}_: {text}" for _, t, text in texts]
    ctx.say_long(lines)


def _theme_arg(args: list[str]) -> str | None:
    if not args:
        return None
    wanted = " ".join(args).lower()
    for key, label in THEME_LABELS.items():
        if wanted in (key, label.lower()) or key.startswith(wanted):
            return key
    names = ", ".join(f"`{k}`" for k in THEME_LABELS)
    raise UsageError(f"there is no theme called {wanted!r}. Themes: {names}")


@command(
    "export",
    "/pulse export",
    "Get a CSV of the anonymous aggregates (k-protected) by period, theme, item, department and grade.",
)
def _export(ctx: Ctx) -> None:
    if ctx.parsed.args:
        raise UsageError("`export` takes no arguments")
    if not export.has_data(ctx.core, ctx.workspace_id):
        ctx.say("No pulse has closed yet, so there is nothing to export.")
        return
    ctx.say("⏳ Preparing your export; it will arrive in a DM from medpulse.")
    data = export.to_csv(export.rows(ctx.core, ctx.workspace_id)).encode()
    gw = ctx.core.gateway(ctx.team)
    note = gw.post_channel(ctx.user, "Your medpulse export (anonymous aggregates only).", [])
    gw.upload(note.channel, data, "medpulse-export.csv", "medpulse export")
    ctx.say("✅ Your export is in your DMs with medpulse.")
