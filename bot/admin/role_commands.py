"""/pulse audit, /pulse admins and /pulse leaders-role: who changed what, and who may.
Granting and revoking (and who may hold a role) are ``bot.people.roles``'."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from bot.admin import audit
from bot.admin import schedule as schedules
from bot.admin.command_table import Ctx, UsageError, command
from bot.admin.operations import AdminError
from bot.chat.forms import clip, escape
from bot.people import authz, roles
from bot.rounds import slots

AUDIT_DEFAULT, AUDIT_MAX = 10, 50


def _audit(ctx: Ctx) -> None:
    args = ctx.args
    if len(args) > 1 or (args and not args[0].isdigit()):
        raise UsageError(f"give how many entries to show, a number from 1 to {AUDIT_MAX}")
    n = int(args[0]) if args else AUDIT_DEFAULT
    if not 1 <= n <= AUDIT_MAX:
        raise UsageError(f"show from 1 to {AUDIT_MAX} entries")
    tz = _workspace_tz(ctx)
    with ctx.core.db.Session() as s:
        entries = audit.latest(s, ctx.workspace_id, n)
    if not entries:
        ctx.say("The audit log is empty: no admin has changed anything yet.")
        return
    lines = [f"*Audit log* · the latest {len(entries)}, newest first ({tz}):"]
    for e in entries:
        when = _local_short(e.at, tz)
        change = _value(ctx, e.old) + " → " + _value(ctx, e.new) if e.old or e.new else ""
        who = ctx.chat.mention(e.actor) or f"`{escape(e.actor)}`"
        lines.append(f"• {when} · {who} · *{e.action}*" + (f": {change}" if change else ""))
    ctx.say_long(lines)


command(
    "audit",
    "/pulse audit [n]",
    f"Who changed what, when (old → new): the latest n changes (default {AUDIT_DEFAULT}).",
)(_audit)


def _workspace_tz(ctx: Ctx) -> str:
    try:
        return schedules.read(ctx.core, ctx.team).settings.timezone
    except AdminError:
        return ctx.core.settings.timezone


def _local_short(at, tz: str) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    local = at.astimezone(slots.zone(tz))
    return f"{local.day} {local:%b %Y %H:%M}"


def _value(ctx: Ctx, raw: str | None) -> str:
    """An audit value for the reply: escaped, clipped, with user and channel IDs as mentions."""
    if raw is None:
        return "–"
    return ctx.chat.link_ids(escape(clip(raw, 160)))


def resolve_user(ctx: Ctx, token: str) -> str:
    """The person typed, if they may hold a role here (``roles.eligible`` decides)."""
    member = ctx.chat.person(token)
    roles.eligible(
        roles.Person(member.user_id, member.is_bot, member.deleted, member.team_id, member.teams),
        ctx.team,
    )
    return member.user_id


def _role_command(role: str, name: str) -> Callable[[Ctx], None]:
    label = roles.LABELS[role]
    an = "an" if label[0] in "aeiou" else "a"

    def run_it(ctx: Ctx) -> None:
        args = ctx.args
        action = args[0].lower() if args else "list"
        if action == "list" and len(args) <= 1:
            ids = roles.holders(ctx.core, ctx.team, role)
            who = ", ".join(ctx.chat.mention(u) or u for u in ids) or "nobody yet"
            ctx.say(f"*{label.capitalize()}s:* {who}")
            return
        if action not in ("add", "remove") or len(args) != 2:
            raise UsageError(f"say add or remove, then one person: `/pulse {name} add @someone`")
        user_id = resolve_user(ctx, args[1])
        them = ctx.chat.mention(user_id) or user_id
        if action == "add":
            changed = roles.grant(ctx.core, ctx.team, ctx.user, user_id, role)
            ctx.say(
                f"✅ {them} is now a medpulse {label}."
                if changed
                else f"{them} is already {an} {label}. Nothing changed."
            )
            return
        changed = roles.revoke(ctx.core, ctx.team, ctx.user, user_id, role)
        note = ""
        if changed and role == authz.ADMIN and user_id in ctx.core.settings.admin_ids_for(ctx.team):
            note = (
                " They are still listed in MEDPULSE_ADMINS, which only seeds the first admins: "
                "they stay removed after a restart (tidy the list when convenient)."
            )
        ctx.say(
            f"✅ {them} is no longer a medpulse {label}.{note}"
            if changed
            else f"{them} wasn't {an} {label}. Nothing changed."
        )

    return run_it


command(
    "admins",
    "/pulse admins [add @person | remove @person]",
    "List, add or remove medpulse admins (they configure everything).",
    details="The last admin can't remove themselves: add another admin first.",
)(_role_command(authz.ADMIN, "admins"))
command(
    "leaders-role",
    "/pulse leaders-role [add @person | remove @person]",
    "List, add or remove leaders (they read summaries, comments and exports).",
)(_role_command(authz.LEADER, "leaders-role"))
