"""The /pulse slash command: one dispatcher, a table of subcommands, help generated from it.

Every reply is ephemeral. Anything that needs Slack or the database for more than a moment acks
first ("working on it") and answers through ``respond`` (the response_url), so Slack's 3-second
limit is never at risk and the person is never left with silence.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from slack_bolt import App

from bot import admin, authz
from bot.admin import AdminError
from bot.core import Core
from bot.slack_client import ChatError
from bot.workspaces import ensure_team
from handlers.parsing import Parsed, channel_ref, keyword, split

log = logging.getLogger("medpulse.commands")


@dataclass
class Ctx:
    core: Core
    ack: Callable
    respond: Callable
    client: object
    team: str
    user: str
    channel: str
    parsed: Parsed
    trigger_id: str | None
    workspace_id: int


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Callable[[Ctx], None]


COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str, summary: str):
    def deco(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        COMMANDS[name] = Command(name, usage, summary, fn)
        return fn

    return deco


def usage_of(name: str) -> str:
    cmd = COMMANDS[name]
    return f"*Usage:* `{cmd.usage}`\n{cmd.summary}"


def register(app: App, core: Core) -> None:
    @app.command("/pulse")
    def pulse(ack, command, respond, client):
        team, user = command["team_id"], command["user_id"]
        ws_id = ensure_team(core, team)
        ack = _ephemeral(ack)
        parsed = split(command.get("text"))
        cmd = COMMANDS.get(parsed.sub)
        if cmd is None:
            ack(text=unknown_reply(parsed.sub))
            return
        with core.db.Session() as s:
            ok = authz.allowed(s, ws_id, user, cmd.name)
        if not ok:
            ack(text=authz.refusal(cmd.name))
            return
        ctx = Ctx(
            core,
            ack,
            respond,
            client,
            team,
            user,
            command.get("channel_id", ""),
            parsed,
            command.get("trigger_id"),
            ws_id,
        )
        try:
            cmd.run(ctx)
        except UsageError as exc:
            _reply(ctx, f"⚠️ {exc}\n{usage_of(cmd.name)}")
        except AdminError as exc:
            _reply(ctx, f"⚠️ {exc}")
        except ChatError as exc:
            _reply(ctx, slack_problem(exc.error))


def _ephemeral(ack: Callable) -> Callable:
    """Every /pulse reply is ephemeral JSON, so only the person who typed it sees it."""

    def say(**kwargs) -> None:
        kwargs.setdefault("response_type", "ephemeral")
        ack(**kwargs)

    return say


def _reply(ctx: Ctx, text: str) -> None:
    """Answer once: through ack if it has not been used, else through the response_url."""
    try:
        ctx.ack(text=text)
    except Exception:  # noqa: BLE001 - already acked: fall back to response_url
        ctx.respond(text=text, response_type="ephemeral", replace_original=False)


def slack_problem(error: str) -> str:
    if error == "missing_scope":
        return (
            "⚠️ Slack refused: the app is missing a permission (scope) it needs. "
            "Reinstall it from the manifest in the README so it has every scope."
        )
    if error in ("not_in_channel", "channel_not_found"):
        return (
            "⚠️ I can't see that channel. Invite me first with `/invite @medpulse`, then try again."
        )
    return f"⚠️ Slack refused that ({error}). Try again, and tell your admin if it keeps happening."


def unknown_reply(sub: str) -> str:
    close = difflib.get_close_matches(sub, list(COMMANDS), n=1)
    hint = f" Did you mean `/pulse {close[0]}`?" if close else ""
    return f"⚠️ I don't know `/pulse {sub}`.{hint}\n\n" + help_text(None)


def help_text(level: str | None) -> str:
    lines = ["*medpulse* · anonymous pulse checks for doctors. Commands:"]
    for cmd in COMMANDS.values():
        need = authz.REQUIRED.get(cmd.name, authz.ADMIN)
        if level is None or authz._RANK[level] >= authz._RANK[need]:
            tag = "" if need == authz.EVERYONE else f"  _({need}s)_"
            lines.append(f"• `{cmd.usage}` · {cmd.summary}{tag}")
    lines.append("Type `/pulse help COMMAND` for more on one command.")
    return "\n".join(lines)


@command("help", "/pulse help [command]", "Show what you can do, or help for one command.")
def _help(ctx: Ctx) -> None:
    if ctx.parsed.args and ctx.parsed.args[0].lower() in COMMANDS:
        ctx.ack(text=usage_of(ctx.parsed.args[0].lower()))
        return
    with ctx.core.db.Session() as s:
        lvl = authz.level(authz.roles_of(s, ctx.workspace_id, ctx.user))
    ctx.ack(text=help_text(lvl))


def resolve_channel(ctx: Ctx, token: str | None) -> tuple[str, str]:
    """Turn what was typed into (channel id, name), checking the bot is a member."""
    if not token:
        raise UsageError("name a channel, like #doctors")
    ref = channel_ref(token)
    if ref is None:
        raise UsageError(f"{token!r} is not a channel. Type # and pick one from the list")
    gw = ctx.core.gateway(ctx.team)
    if ref.id is None:
        found = gw.find_channel(ref.name)
        if found is None:
            raise AdminError(
                f"I can't find a channel called #{ref.name}. If it is private, invite me to it first."
            )
        info = found
    else:
        try:
            info = gw.channel_info(ref.id)
        except ChatError as exc:
            if exc.error == "channel_not_found":
                raise AdminError(
                    "I can't see that channel. If it is private, invite me first with `/invite @medpulse`."
                ) from None
            raise
    name = info.get("name") or ref.name or info["id"]
    if info.get("is_member") is False:
        raise AdminError(
            f"I'm not in #{name} yet. Invite me with `/invite @medpulse` in #{name}, then try again."
        )
    return info["id"], name


class UsageError(Exception):
    """Wrong arguments: answered with the problem and the usage."""


def _audience(ctx: Ctx) -> None:
    if len(ctx.parsed.args) != 1:
        raise UsageError("name exactly one channel")
    channel_id, name = resolve_channel(ctx, ctx.parsed.args[0])
    ctx.ack(text=f"⏳ Setting the audience to #{name} and reading its members…")
    res = admin.set_audience(ctx.core, ctx.team, ctx.user, channel_id, name)
    ctx.respond(
        text=(
            f"✅ The audience is now *#{name}*: {res.sync.humans} doctors "
            f"({res.sync.members - res.sync.humans} bots or deactivated accounts left out). "
            "Members are synced again before every round. "
            "See `/pulse status` for the schedule."
        ),
        response_type="ephemeral",
        replace_original=False,
    )


command("audience", "/pulse audience #channel", "Ask the human members of this channel.")(_audience)


def _leaders(ctx: Ctx) -> None:
    dept, rest = keyword(ctx.parsed.args, "department")
    if len(rest) != 1:
        raise UsageError("name exactly one channel (and optionally department:NAME)")
    channel_id, name = resolve_channel(ctx, rest[0])
    added = admin.add_leader_channel(ctx.core, ctx.team, ctx.user, channel_id, dept)
    what = f"the *{dept}* department's own summary" if dept else "summaries"
    if added:
        ctx.ack(text=f"✅ #{name} will receive {what}.")
    else:
        ctx.ack(text=f"#{name} already receives {what}. Nothing changed.")


command(
    "leaders",
    "/pulse leaders #channel [department:NAME]",
    "Post summaries (or one department's own summary) to this channel.",
)(_leaders)


def _send(ctx: Ctx) -> None:
    if ctx.parsed.args:
        raise UsageError("`send` takes only the word `now`")
    ctx.ack(text="⏳ Syncing the audience and starting a round now…")
    res = admin.send_now(ctx.core, ctx.team, ctx.user)
    if not res.round.created:
        ctx.respond(
            text=f"⚠️ No round was started: {res.round.reason}.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    warn = (
        "\n🌙 Heads up: it is outside usual hours (08:00–21:00 on weekdays); "
        "doctors on nights or off duty will get it now."
        if res.out_of_hours
        else ""
    )
    ctx.respond(
        text=f"✅ Round started: sending to {res.round.invited} doctors now.{warn}",
        response_type="ephemeral",
        replace_original=False,
    )


command("send", "/pulse send now", "Start a round for the audience right away.")(_send)


def _opt(out: bool) -> Callable[[Ctx], None]:
    def run(ctx: Ctx) -> None:
        changed = admin.set_opt_out(ctx.core, ctx.team, ctx.user, out)
        if out:
            msg = "You're opted out: medpulse won't DM you. `/pulse optin` any time to rejoin."
        else:
            msg = "You're opted in: you'll get the next pulse. Thank you."
        ctx.ack(text=msg if changed else "Nothing changed. " + msg)

    return run


command("optout", "/pulse optout", "Stop getting pulses (anyone).")(_opt(True))
command("optin", "/pulse optin", "Start getting pulses again (anyone).")(_opt(False))
