"""The /pulse slash command on Slack: ack, parse, run, render.

The words, the subcommands and who may run them are the core's (``bot.admin.commands``). This
module is Slack's side of a command (``SlackConversation``): every reply is ephemeral; the first
rides on the ack, later ones go through the command's response URL, so Slack's 3-second limit
is never at risk and the person is never left with silence. It also reads what Slack puts in a
command's text (``<#C…|name>``, ``<@U…>``) and asks Slack about channels and people.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App

from bot.admin import commands
from bot.admin.command_table import COMMANDS, CONTINUED, UsageError, usage_of
from bot.admin.operations import AdminError
from bot.chat.forms import Notice
from bot.chat.gateway import Member
from bot.chat.views import FormView
from bot.core import Core
from integrations.slack import blocks, views
from integrations.slack.gateway import ChatError
from integrations.slack.listeners.parsing import channel_ref, user_ref

__all__ = ["COMMANDS", "CONTINUED", "SlackConversation", "register", "usage_of"]


class SlackConversation:
    """One /pulse command's replies and look-ups on Slack (``bot.admin.command_table``'s
    Conversation)."""

    def __init__(
        self, core: Core, team: str, user: str, ack: Callable, respond: Callable, client, trigger_id
    ) -> None:
        self.core, self.team, self.user = core, team, user
        self._ack, self._respond, self.client, self.trigger_id = ack, respond, client, trigger_id
        self.acked = False

    def say(self, text: str) -> None:
        """Answer once through the ack; after that, through the response_url.

        Bolt's ack does not fail when called twice (the second is silently dropped once the HTTP
        reply has gone), so whether we have acked is tracked here rather than guessed.
        """
        if self.acked:
            self._respond(text=text, response_type="ephemeral", replace_original=False)
        else:
            self.ack(text=text, response_type="ephemeral")

    def ack(self, **kwargs) -> None:
        self.acked = True
        self._ack(**kwargs)

    def finish(self) -> None:
        """A command that said nothing must still release Slack's 3 seconds."""
        if not self.acked:
            self.ack()

    def open_form(self, form: FormView | Notice) -> bool:
        if not self.trigger_id:
            return False
        self.finish()  # the form is the answer; views.open follows within the trigger's 3 s
        self.core.gateway(self.team).open_view(self.trigger_id, views.modal(form))
        return True

    def channel(self, token: str) -> tuple[str, str]:
        """Turn what was typed into (channel id, name), checking the bot is a member."""
        if not token:
            raise UsageError("name a channel, like #doctors")
        ref = channel_ref(token)
        if ref is None:
            raise UsageError(f"{token!r} is not a channel. Type # and pick one from the list")
        gw = self.core.gateway(self.team)
        if ref.id is None:
            info = gw.find_channel(ref.name)
            if info is None:
                raise AdminError(
                    f"I can't find a channel called #{ref.name}. If it is private, invite me to it first."
                )
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

    def person(self, token: str) -> Member:
        """Turn ``<@U123|name>``, ``<@U123>`` or ``@name`` into the person."""
        ref = user_ref(token)
        if ref is None:
            raise UsageError(f"{token!r} is not a person. Type @ and pick someone from the list")
        gw = self.core.gateway(self.team)
        user_id = ref.id
        if user_id is None:
            self.say(f"⏳ Looking up @{ref.name}…")  # users.list can take a while on big trusts
            user_id = gw.find_user(ref.name)
            if user_id is None:
                raise AdminError(
                    f"I can't find anyone called @{ref.name}. Type @ and pick them from the list."
                )
        try:
            m = gw.user(user_id)
        except ChatError as exc:
            if exc.error in ("user_not_found", "users_not_found"):
                raise AdminError("I can't find that person in this workspace.") from None
            raise
        return Member(m.user_id, m.is_bot, m.deleted, team_id=m.team_id, teams=tuple(m.teams or ()))

    def send_file(self, note: str, data: bytes, filename: str, title: str, alt: str | None) -> None:
        gw = self.core.gateway(self.team)
        if alt is not None:  # an image: shown inline, with its description
            gw.dm_file(self.user, note, data, filename, title, alt)
            return
        # Posting to the user ID opens the DM and tells us its channel, which the upload needs.
        posted = gw.post_dm(self.user, note, [])
        gw.upload(posted.conversation, data, filename, title)

    def workspace_name(self) -> str:
        return str(self.client.auth_test().get("team") or "")  # auth.test needs no scope

    def mention(self, user_id: str) -> str | None:
        return f"<@{user_id}>" if blocks.is_user_id(user_id) else None

    def link_ids(self, text: str) -> str:
        return blocks.ID_IN_TEXT.sub(
            lambda m: f"<@{m[1]}>" if m[1][0] in "UW" else f"<#{m[1]}>", text
        )

    def explain(self, exc: Exception) -> str | None:
        return slack_problem(exc.error) if isinstance(exc, ChatError) else None


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


def on_pulse(ack, command, respond, client, core: Core, team: str, workspace_id: int) -> None:
    """/pulse TEXT: parse, run (authorisation included), reply."""
    user = command["user_id"]
    chat = SlackConversation(core, team, user, ack, respond, client, command.get("trigger_id"))
    try:
        commands.run(core, team, user, workspace_id, commands.parse(command.get("text")), chat)
    finally:
        chat.finish()


def register(app: App, core: Core) -> None:
    app.command("/pulse")(on_pulse)
