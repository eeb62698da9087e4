"""/pulse share department:NAME #channel: a leader posts one department's published results
into its channel for discussion (``bot.insights.department_share`` decides what may go);
authorisation is ``bot.people.authz``'s ("share" needs a leader)."""

from __future__ import annotations

from bot.admin.command_table import Ctx, UsageError, command, keyword
from bot.insights import comment_listing
from bot.insights.department_share import share
from bot.people import channels


@command(
    "share",
    "/pulse share department:NAME #channel",
    "Post one department's latest published results and chart into its channel for discussion "
    "(replies there are not anonymous; a held-back department is not posted).",
)
def _share(ctx: Ctx) -> None:
    dept, rest = keyword(ctx.args, "department")
    if not dept or len(rest) != 1:
        raise UsageError("name one department (department:NAME) and one channel")
    with ctx.core.db.Session() as s:
        dept, _ = comment_listing.department_named(s, ctx.workspace_id, dept)
    channel_id, name = ctx.chat.channel(rest[0])
    channels.check(ctx.core, ctx.team, channel_id)  # never a channel shared outside the trust
    ctx.say(f"⏳ Sharing {dept}'s results in #{name}…")
    held = share(ctx.core, ctx.team, ctx.workspace_id, ctx.user, channel_id, dept)
    if held:
        ctx.say(f"Nothing was posted to #{name}. {held}")
    else:
        ctx.say(
            f"✅ {dept}'s results and chart are in #{name}, with a note that replies there are not anonymous."
        )
