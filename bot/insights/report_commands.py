"""/pulse summary, comments, export and share: what leaders read and pass on, on demand.
Authorisation is ``bot.people.authz``'s (leaders; admins pass too); what may be shown is
decided by ``summary``, ``comment_listing`` and ``department_share``, never here."""

from __future__ import annotations

from bot.admin.command_table import Ctx, UsageError, command, keyword
from bot.insights import comment_listing, export
from bot.insights.posting import leader_channels, post_summary


@command(
    "summary",
    "/pulse summary [detail]",
    "Post the latest summary to the leaders channels now (`detail` adds the intervals).",
)
def _summary(ctx: Ctx) -> None:
    args = [a.lower() for a in ctx.args]
    if args not in ([], ["detail"]):
        raise UsageError("`summary` takes nothing, or the word `detail`")
    targets = leader_channels(ctx.core, ctx.workspace_id)
    ctx.say("⏳ Building the summary…")
    detail = args == ["detail"]
    if not targets:
        post_summary(ctx.core, ctx.team, ctx.user, None, detail=detail)
        ctx.say(
            "No leaders channel is set, so I sent the summary to you privately. "
            "Choose one with `/pulse leaders #channel`."
        )
        return
    for channel, department in targets:
        post_summary(ctx.core, ctx.team, channel, department, detail=detail)
    names = ", ".join(f"<#{c}>" + (f" ({d})" if d else "") for c, d in targets)
    ctx.say(f"✅ Summary posted to {names}.")


@command(
    "comments",
    "/pulse comments [theme] [department:NAME]",
    "Read the latest period's anonymous comments, in random order (never for a small group); "
    "with department:NAME, only that department's (when its own figures may be shown).",
)
def _comments(ctx: Ctx) -> None:
    dept, rest = keyword(ctx.args, "department")
    theme = comment_listing.theme_named(rest)
    found = comment_listing.listing(ctx.core, ctx.workspace_id, dept, theme)
    if found.note is not None:
        ctx.say(found.note)
        return
    ctx.say_long([found.head, *found.lines])


@command(
    "export",
    "/pulse export",
    "Get a CSV of the anonymous aggregates (k-protected) by period, theme, item, department and grade.",
)
def _export(ctx: Ctx) -> None:
    if ctx.args:
        raise UsageError("`export` takes no arguments")
    if not export.has_data(ctx.core, ctx.workspace_id):
        ctx.say("No pulse has closed yet, so there is nothing to export.")
        return
    ctx.say("⏳ Preparing your export; it will arrive in a DM from medpulse.")
    data = export.to_csv(export.rows(ctx.core, ctx.workspace_id)).encode()
    ctx.chat.send_file(
        "Your medpulse export (anonymous, k-protected aggregates).",
        data,
        "medpulse-export.csv",
        "medpulse export",
        None,
    )
    ctx.say("✅ Your export is in your DMs with medpulse.")
