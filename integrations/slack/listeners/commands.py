"""The /pulse slash command: one dispatcher, a table of subcommands, help generated from it.

Every reply is ephemeral. Anything that needs Slack or the database for more than a moment acks
first ("working on it") and answers through ``respond`` (the response_url), so Slack's 3-second
limit is never at risk and the person is never left with silence.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

from slack_bolt import App

from bot.admin import audit, status
from bot.admin import operations as admin
from bot.admin import questions as question_admin
from bot.admin import schedule as schedules
from bot.admin.operations import AdminError
from bot.core import Core
from bot.people import authz, channels, roles
from bot.people.workspaces import ensure_team
from bot.rounds import slots
from integrations.slack.gateway import ChatError
from integrations.slack.listeners import modals
from integrations.slack.listeners.parsing import Parsed, channel_ref, keyword, split, user_ref

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
    acked: bool = False

    def say(self, text: str) -> None:
        """Answer once through the ack; after that, through the response_url.

        Bolt's ack does not fail when called twice (the second is silently dropped once the HTTP
        reply has gone), so whether we have acked is tracked here rather than guessed.
        """
        if self.acked:
            self.respond(text=text, response_type="ephemeral", replace_original=False)
        else:
            self.ack(text=text)

    def say_long(self, lines: list[str], limit: int = 3500) -> None:
        """Several messages rather than one Slack would cut: keep each under ~4,000 characters."""
        chunk: list[str] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) + 1 > limit:
                self.say("\n".join(chunk) + "\n" + CONTINUED)
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) + 1
        if chunk:
            self.say("\n".join(chunk))


CONTINUED = "_(continued below)_"


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Callable[[Ctx], None]
    details: str = ""


COMMANDS: dict[str, Command] = {}


def command(name: str, usage: str, summary: str, details: str = ""):
    """Register a ``/pulse`` subcommand; help and per-command help are generated from these."""

    def deco(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        COMMANDS[name] = Command(name, usage, summary, fn, details)
        return fn

    return deco


def usage_of(name: str) -> str:
    cmd = COMMANDS[name]
    text = f"*Usage:* `{cmd.usage}`\n{cmd.summary}"
    return text + (f"\n{cmd.details}" if cmd.details else "")


def register(app: App, core: Core) -> None:
    @app.command("/pulse")
    def pulse(ack, command, respond, client):
        team, user = command["team_id"], command["user_id"]
        ws_id = ensure_team(core, team)
        parsed = split(command.get("text"))
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
        ctx.ack = _ephemeral(ack, ctx)
        cmd = COMMANDS.get(parsed.sub)
        if cmd is None:
            ctx.ack(text=unknown_reply(parsed.sub))
            return
        with core.db.Session() as s:
            ok = authz.allowed(s, ws_id, user, cmd.name)
        if not ok:
            ctx.ack(text=authz.refusal(cmd.name))
            return
        run(ctx, cmd)


def run(ctx: Ctx, cmd: Command) -> None:
    """Run one subcommand; every outcome, even a bug, ends in a readable ephemeral reply."""
    try:
        cmd.run(ctx)
    except UsageError as exc:
        ctx.say(f"⚠️ {exc}\n{usage_of(cmd.name)}")
    except AdminError as exc:
        ctx.say(f"⚠️ {exc}")
    except ChatError as exc:
        ctx.say(slack_problem(exc.error))
    except Exception:  # noqa: BLE001 - log it for us, never show a stack trace to a person
        log.exception("/pulse %s failed", cmd.name)
        ctx.say(
            f"⚠️ Something went wrong on our side running `/pulse {cmd.name}`; nothing more was "
            "changed. Try again in a minute, and tell your admin if it keeps happening."
        )
    if not ctx.acked:  # a command that forgot to answer must still release Slack's 3 seconds
        ctx.ack()


def _ephemeral(ack: Callable, ctx: Ctx) -> Callable:
    """Every /pulse reply is ephemeral JSON, so only the person who typed it sees it."""

    def say(**kwargs) -> None:
        if kwargs.get("text") or kwargs.get("blocks"):
            kwargs.setdefault("response_type", "ephemeral")
        ctx.acked = True
        ack(**kwargs)

    return say


def _reply(ctx: Ctx, text: str) -> None:
    """Kept for callers of the earlier API: same as ``ctx.say``."""
    ctx.say(text)


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
            info = gw.conversation(ref.id)
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
    channels.check(ctx.core, ctx.team, channel_id)  # never a channel shared outside the trust
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


# ---------------------------------------------------------------------------- status, schedule


def _status(ctx: Ctx) -> None:
    if ctx.parsed.args:
        raise UsageError("`status` takes no arguments")
    st = status.status(ctx.core, ctx.team)
    ctx.ack(text="*medpulse status*\n" + "\n".join(status.lines(st)))


command(
    "status",
    "/pulse status",
    "Audience size, next round (local time), last round's response rate, paused or not.",
)(_status)


def _schedule(ctx: Ctx) -> None:
    if ctx.parsed.args:
        _schedule_text(ctx)
        return
    snap = schedules.read(ctx.core, ctx.team)
    if not ctx.trigger_id:
        raise UsageError("I can't open the form from here; use the text form instead")
    ctx.ack()  # the form is the answer; views.open follows within the trigger's 3 seconds
    ctx.core.gateway(ctx.team).open_view(ctx.trigger_id, modals.schedule_view(snap))


def _schedule_text(ctx: Ctx) -> None:
    try:
        change = schedules.parse_text(ctx.parsed.args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    result = schedules.update(ctx.core, ctx.team, ctx.user, change)
    after = result.after
    if not result.changed:
        ctx.ack(
            text=f"Nothing changed: {after.description}.\n*Next round:* {after.next_round_text}"
        )
        return
    ctx.ack(
        text=f"✅ Schedule changed.\n*Was:* {result.before.description}\n"
        f"*Now:* {after.description}\n*Next round:* {after.next_round_text}"
    )


command(
    "schedule",
    "/pulse schedule [weekly|fortnightly|monthly] [day] [HH:MM] [Area/City] [questions:N] "
    "[reminder:H] [close:D]",
    "Open the schedule form, or change the schedule in one line.",
    details=(
        "Examples: `/pulse schedule` (opens the form) · `/pulse schedule fortnightly tue 10:00` · "
        "`/pulse schedule weekly thu 13:30 questions:3 reminder:0`.\n"
        "Times are 24-hour, in the schedule's time zone (default Europe/London); fortnightly "
        "starts on the coming chosen day. questions: 1–4 · reminder: hours, 0 = none · "
        "close: days the round stays open."
    ),
)(_schedule)


def _pause_or_resume(paused: bool) -> Callable[[Ctx], None]:
    def run_it(ctx: Ctx) -> None:
        if ctx.parsed.args:
            raise UsageError(f"`{'pause' if paused else 'resume'}` takes no arguments")
        changed = schedules.set_paused(ctx.core, ctx.team, ctx.user, paused)
        snap = schedules.read(ctx.core, ctx.team)
        if paused:
            text = (
                "⏸️ Paused: no scheduled rounds until `/pulse resume`. Open rounds still close "
                "and send their reminders."
                if changed
                else "Already paused. `/pulse resume` to restart."
            )
        else:
            head = "▶️ Resumed." if changed else "Already running."
            text = f"{head} Next round: {snap.next_round_text}."
        ctx.ack(text=text)

    return run_it


command("pause", "/pulse pause", "Stop scheduled rounds until you resume.")(_pause_or_resume(True))
command("resume", "/pulse resume", "Restart scheduled rounds.")(_pause_or_resume(False))


# ----------------------------------------------------------------------------------- questions

_QUESTIONS_DETAILS = (
    "`/pulse questions` lists every question with its ID, theme and on/off.\n"
    "`/pulse questions disable ID` / `enable ID`: stop or restart asking one (past answers stay).\n"
    "`/pulse questions add`: a form for your own question.\n"
    '`/pulse questions reword ID "new wording"`: a new version (trends never mix wordings).\n'
    "`/pulse questions sets` lists question sets; `/pulse questions set NAME on|off` switches "
    "a whole set (e.g. one imported with `medpulse questions import FILE.yaml`)."
)


def _questions(ctx: Ctx) -> None:
    args = ctx.parsed.args
    action = args[0].lower() if args else "list"
    rest = args[1:]
    handler = _QUESTION_ACTIONS.get(action)
    if handler is None:
        raise UsageError(f"I don't know `questions {action}`")
    handler(ctx, rest)


def _q_list(ctx: Ctx, rest: list[str]) -> None:
    if rest:
        raise UsageError("`questions` lists everything; it takes no filter")
    items = question_admin.list_items(ctx.core, ctx.team)
    asked = sum(1 for i in items if i.asked)
    lines = [
        f"*Questions* · {len(items)} in all, {asked} being asked. "
        "ID · theme · on/off. `/pulse help questions` for what you can change."
    ]
    current = None
    for it in items:
        if it.set_name != current:
            current = it.set_name
            lines.append(f"*Set {current}*{'' if it.set_on else ' (switched off)'}")
        state = "on" if it.asked else ("off" if not it.enabled else "off (set off)")
        star = " ⭐ headline" if it.headline else ""
        version = f" · v{it.version}" if it.version > 1 else ""
        lines.append(
            f"• `{it.key}` · {it.theme} · *{state}*{star}{version} · _{_clip(it.text, 60)}_"
        )
    ctx.say_long(lines)


def _q_switch(enabled: bool) -> Callable[[Ctx, list[str]], None]:
    def run_it(ctx: Ctx, rest: list[str]) -> None:
        if len(rest) != 1:
            raise UsageError("name one question ID (see `/pulse questions`)")
        key = rest[0].strip("`").lower()
        changed = question_admin.set_enabled(ctx.core, ctx.team, ctx.user, key, enabled)
        word = "on" if enabled else "off"
        if not changed:
            ctx.ack(text=f"`{key}` was already {word}. Nothing changed.")
        elif enabled:
            ctx.ack(text=f"✅ `{key}` is on: it can be asked from the next round.")
        else:
            ctx.ack(
                text=f"✅ `{key}` is off: it won't be asked from the next round. Its past answers "
                "stay and still count in trends."
            )

    return run_it


def _q_add(ctx: Ctx, rest: list[str]) -> None:
    if rest:
        raise UsageError("`questions add` opens a form; type the question there")
    if not ctx.trigger_id:
        raise UsageError("I can't open the form from here")
    ctx.ack()
    ctx.core.gateway(ctx.team).open_view(ctx.trigger_id, modals.question_view())


def _q_reword(ctx: Ctx, rest: list[str]) -> None:
    if len(rest) < 2:
        raise UsageError('give the ID and the new wording: questions reword ID "New wording"')
    key, text = rest[0].strip("`").lower(), " ".join(rest[1:])
    version = question_admin.reword(ctx.core, ctx.team, ctx.user, key, text)
    ctx.ack(
        text=f"✅ `{key}` now reads: _{_escape(text)}_ (version {version}). Answers to the "
        "earlier wording are kept and reported separately."
    )


def _q_sets(ctx: Ctx, rest: list[str]) -> None:
    if rest:
        raise UsageError("`questions sets` takes no arguments")
    rows = question_admin.list_sets(ctx.core, ctx.team)
    lines = ["*Question sets* (for this audience):"] + [
        f"• `{r.name}` · {r.kind} · {r.items} questions · *{'on' if r.on else 'off'}*" for r in rows
    ]
    ctx.ack(text="\n".join(lines))


def _q_set(ctx: Ctx, rest: list[str]) -> None:
    if len(rest) != 2 or rest[1].lower() not in ("on", "off"):
        raise UsageError("questions set NAME on|off")
    name, on = rest[0], rest[1].lower() == "on"
    changed = question_admin.switch_set(ctx.core, ctx.team, ctx.user, name, on)
    word = "on" if on else "off"
    ctx.ack(
        text=f"✅ The set `{name}` is {word} for this audience from the next round."
        if changed
        else f"The set `{name}` was already {word}. Nothing changed."
    )


_QUESTION_ACTIONS: dict[str, Callable[[Ctx, list[str]], None]] = {
    "list": _q_list,
    "disable": _q_switch(False),
    "enable": _q_switch(True),
    "add": _q_add,
    "reword": _q_reword,
    "sets": _q_sets,
    "set": _q_set,
}

command(
    "questions",
    "/pulse questions [disable ID | enable ID | add | reword ID TEXT | sets | set NAME on|off]",
    "List the questions (IDs, themes, on/off) or change them.",
    details=_QUESTIONS_DETAILS,
)(_questions)


# ---------------------------------------------------------------------------------- audit log

AUDIT_DEFAULT, AUDIT_MAX = 10, 50


def _audit(ctx: Ctx) -> None:
    args = ctx.parsed.args
    if len(args) > 1 or (args and not args[0].isdigit()):
        raise UsageError(f"give how many entries to show, a number from 1 to {AUDIT_MAX}")
    n = int(args[0]) if args else AUDIT_DEFAULT
    if not 1 <= n <= AUDIT_MAX:
        raise UsageError(f"show from 1 to {AUDIT_MAX} entries")
    snap_tz = _workspace_tz(ctx)
    with ctx.core.db.Session() as s:
        entries = audit.latest(s, ctx.workspace_id, n)
    if not entries:
        ctx.ack(text="The audit log is empty: no admin has changed anything yet.")
        return
    lines = [f"*Audit log* · the latest {len(entries)}, newest first ({snap_tz}):"]
    for e in entries:
        when = _local_short(e.at, snap_tz)
        change = _value(e.old) + " → " + _value(e.new) if e.old or e.new else ""
        who = f"<@{e.actor}>" if USER_ID.match(e.actor) else f"`{_escape(e.actor)}`"
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


USER_ID = re.compile(r"^[UW][A-Z0-9]{5,}$")
# Slack IDs: an upper-case letter, then upper-case letters and digits with at least one digit.
_ID_TOKEN = re.compile(r"\b([UWCG](?=[A-Z0-9]*[0-9])[A-Z0-9]{4,})\b")


def _value(raw: str | None) -> str:
    """An audit value for Slack: escaped, clipped, with user and channel IDs as mentions."""
    if raw is None:
        return "–"
    text = _escape(_clip(raw, 160))
    return _ID_TOKEN.sub(lambda m: f"<@{m[1]}>" if m[1][0] in "UW" else f"<#{m[1]}>", text)


def _escape(text: str) -> str:
    """Slack's three control characters, so typed text can't ping @channel or fake a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---------------------------------------------------------------------------------------- roles


def resolve_user(ctx: Ctx, token: str) -> str:
    """Turn ``<@U123|name>``, ``<@U123>`` or ``@name`` into a person's user ID."""
    ref = user_ref(token)
    if ref is None:
        raise UsageError(f"{token!r} is not a person. Type @ and pick someone from the list")
    gw = ctx.core.gateway(ctx.team)
    user_id = ref.id
    if user_id is None:
        ctx.ack(text=f"⏳ Looking up @{ref.name}…")  # users.list can take a while on big trusts
        user_id = gw.find_user(ref.name)
        if user_id is None:
            raise AdminError(
                f"I can't find anyone called @{ref.name}. Type @ and pick them from the list."
            )
    try:
        member = gw.user(user_id)
    except ChatError as exc:
        if exc.error in ("user_not_found", "users_not_found"):
            raise AdminError("I can't find that person in this workspace.") from None
        raise
    roles.eligible(
        roles.Person(member.user_id, member.is_bot, member.deleted, member.team_id, member.teams),
        ctx.team,
    )
    return member.user_id


def _role_command(role: str, name: str) -> Callable[[Ctx], None]:
    label = roles.LABELS[role]
    an = "an" if label[0] in "aeiou" else "a"

    def run_it(ctx: Ctx) -> None:
        args = ctx.parsed.args
        action = args[0].lower() if args else "list"
        if action == "list" and len(args) <= 1:
            ids = roles.holders(ctx.core, ctx.team, role)
            who = ", ".join(f"<@{u}>" for u in ids) or "nobody yet"
            ctx.ack(text=f"*{label.capitalize()}s:* {who}")
            return
        if action not in ("add", "remove") or len(args) != 2:
            raise UsageError(f"say add or remove, then one person: `/pulse {name} add @someone`")
        user_id = resolve_user(ctx, args[1])
        if action == "add":
            changed = roles.grant(ctx.core, ctx.team, ctx.user, user_id, role)
            ctx.say(
                f"✅ <@{user_id}> is now a medpulse {label}."
                if changed
                else f"<@{user_id}> is already {an} {label}. Nothing changed."
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
            f"✅ <@{user_id}> is no longer a medpulse {label}.{note}"
            if changed
            else f"<@{user_id}> wasn't {an} {label}. Nothing changed."
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
