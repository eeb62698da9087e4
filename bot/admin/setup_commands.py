"""/pulse audience, leaders, send, optout/optin, status, schedule, pause and resume: setting a
trust up and running it. Words and checks only; each change is made (and audited) by
``bot.admin.operations`` and ``bot.admin.schedule``."""

from __future__ import annotations

from collections.abc import Callable

from bot.admin import forms, status
from bot.admin import operations as admin
from bot.admin import schedule as schedules
from bot.admin.command_table import Ctx, UsageError, command, keyword
from bot.people import channels


def _audience(ctx: Ctx) -> None:
    if len(ctx.args) != 1:
        raise UsageError("name exactly one channel")
    channel_id, name = ctx.chat.channel(ctx.args[0])
    ctx.say(f"⏳ Setting the audience to #{name} and reading its members…")
    res = admin.set_audience(ctx.core, ctx.team, ctx.user, channel_id, name)
    ctx.say(
        f"✅ The audience is now *#{name}*: {res.sync.humans} doctors "
        f"({res.sync.members - res.sync.humans} bots or deactivated accounts left out). "
        "Members are synced again before every round. "
        "See `/pulse status` for the schedule."
    )


command("audience", "/pulse audience #channel", "Ask the human members of this channel.")(_audience)


def _leaders(ctx: Ctx) -> None:
    dept, rest = keyword(ctx.args, "department")
    if len(rest) != 1:
        raise UsageError("name exactly one channel (and optionally department:NAME)")
    channel_id, name = ctx.chat.channel(rest[0])
    channels.check(ctx.core, ctx.team, channel_id)  # never a channel shared outside the trust
    added = admin.add_leader_channel(ctx.core, ctx.team, ctx.user, channel_id, dept)
    what = f"the *{dept}* department's own summary" if dept else "summaries"
    if added:
        ctx.say(f"✅ #{name} will receive {what}.")
    else:
        ctx.say(f"#{name} already receives {what}. Nothing changed.")


command(
    "leaders",
    "/pulse leaders #channel [department:NAME]",
    "Post summaries (or one department's own summary) to this channel.",
)(_leaders)


def _send(ctx: Ctx) -> None:
    if ctx.args:
        raise UsageError("`send` takes only the word `now`")
    ctx.say("⏳ Syncing the audience and starting a round now…")
    res = admin.send_now(ctx.core, ctx.team, ctx.user)
    if not res.round.created:
        ctx.say(f"⚠️ No round was started: {res.round.reason}.")
        return
    warn = (
        "\n🌙 Heads up: it is outside usual hours (08:00–21:00 on weekdays); "
        "doctors on nights or off duty will get it now."
        if res.out_of_hours
        else ""
    )
    ctx.say(f"✅ Round started: sending to {res.round.invited} doctors now.{warn}")


command("send", "/pulse send now", "Start a round for the audience right away.")(_send)


def _opt(out: bool) -> Callable[[Ctx], None]:
    def run(ctx: Ctx) -> None:
        changed = admin.set_opt_out(ctx.core, ctx.team, ctx.user, out)
        if out:
            msg = "You're opted out: medpulse won't DM you. `/pulse optin` any time to rejoin."
        else:
            msg = "You're opted in: you'll get the next pulse. Thank you."
        ctx.say(msg if changed else "Nothing changed. " + msg)

    return run


command("optout", "/pulse optout", "Stop getting pulses (anyone).")(_opt(True))
command("optin", "/pulse optin", "Start getting pulses again (anyone).")(_opt(False))


def _status(ctx: Ctx) -> None:
    if ctx.args:
        raise UsageError("`status` takes no arguments")
    st = status.status(ctx.core, ctx.team)
    ctx.say("*medpulse status*\n" + "\n".join(status.lines(st)))


command(
    "status",
    "/pulse status",
    "Audience size, next round (local time), last round's response rate, paused or not.",
)(_status)


def _schedule(ctx: Ctx) -> None:
    if ctx.args:
        _schedule_text(ctx)
        return
    snap = schedules.read(ctx.core, ctx.team)
    ctx.open_form(
        forms.schedule_form(snap), "I can't open the form from here; use the text form instead"
    )


def _schedule_text(ctx: Ctx) -> None:
    try:
        change = schedules.parse_text(ctx.args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    result = schedules.update(ctx.core, ctx.team, ctx.user, change)
    after = result.after
    if not result.changed:
        ctx.say(f"Nothing changed: {after.description}.\n*Next round:* {after.next_round_text}")
        return
    ctx.say(
        f"✅ Schedule changed.\n*Was:* {result.before.description}\n"
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


def pause_reply(core, team: str, user: str, paused: bool, home: bool = False) -> str:
    """Pause or resume scheduled rounds, in the words of the command or (``home``) the Home."""
    changed = schedules.set_paused(core, team, user, paused)
    if paused and home:
        return "⏸️ Paused: no scheduled rounds until you resume." if changed else "Already paused."
    if paused:
        return (
            "⏸️ Paused: no scheduled rounds until `/pulse resume`. Open rounds still close "
            "and send their reminders."
            if changed
            else "Already paused. `/pulse resume` to restart."
        )
    snap = schedules.read(core, team)
    head = "▶️ Resumed." if changed else "Already running."
    return f"{head} Next round: {snap.next_round_text}."


def _pause_or_resume(paused: bool) -> Callable[[Ctx], None]:
    def run_it(ctx: Ctx) -> None:
        if ctx.args:
            raise UsageError(f"`{'pause' if paused else 'resume'}` takes no arguments")
        ctx.say(pause_reply(ctx.core, ctx.team, ctx.user, paused))

    return run_it


command("pause", "/pulse pause", "Stop scheduled rounds until you resume.")(_pause_or_resume(True))
command("resume", "/pulse resume", "Restart scheduled rounds.")(_pause_or_resume(False))
