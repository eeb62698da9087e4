"""/pulse region …: a trust's place in the region (``bot.admin.region``) and the regional
comparison on demand (``bot.insights.region``); every rule is in those modules, this parses and
replies. Authorisation is ``bot.people.authz``'s ("region" needs an admin)."""

from __future__ import annotations

from bot.admin import region as admin_region
from bot.admin.command_table import Ctx, UsageError, command, keyword
from bot.insights import region

USAGE = (
    "/pulse region join [name:TRUST] | leave | status | map department:NAME specialty:NAME (or specialty:none)"
    " | channel #name | post"
)


@command(
    "region",
    USAGE,
    "Opt this trust in or out of the regional comparison, map its departments onto the shared "
    "specialty list, set the regional leaders' channel (in this workspace), or post the "
    "comparison there now.",
)
def _region(ctx: Ctx) -> None:
    action, *args = ctx.args or ["status"]
    action = action.lower()
    if action == "join":
        name, rest = keyword(args, "name")
        if rest:
            raise UsageError('to name the trust, type `/pulse region join name:"Trust name"`')
        ctx.say(admin_region.join(ctx.core, ctx.workspace_id, ctx.user, name))
    elif action == "leave":
        ctx.say(admin_region.leave(ctx.core, ctx.workspace_id, ctx.user))
    elif action == "status" and not args:
        ctx.say_long(admin_region.status_lines(ctx.core, ctx.workspace_id))
    elif action == "map":
        dept, rest = keyword(args, "department")
        spec, rest = keyword(rest, "specialty")
        if not dept or not spec or rest:
            raise UsageError("name one department:NAME and one specialty:NAME (or specialty:none)")
        ctx.say(admin_region.set_mapping(ctx.core, ctx.workspace_id, ctx.user, dept, spec))
    elif action == "channel" and len(args) == 1:
        channel_id, _ = ctx.chat.channel(args[0])
        ctx.say(admin_region.set_channel(ctx.core, ctx.workspace_id, ctx.user, channel_id))
    elif action == "post" and not args:
        if not admin_region.is_member(ctx.core, ctx.workspace_id):
            raise UsageError("this trust is not in the region: `/pulse region join` first")
        ctx.say("⏳ Building the regional comparison…")
        why = region.post(ctx.core)
        ctx.say(
            f"Nothing was posted: {why}." if why else "✅ The comparison and its chart are posted."
        )
    else:
        raise UsageError(f"usage: `{USAGE}`")
