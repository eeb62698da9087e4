"""``TeamsConversation``: the Teams side of one command (``bot.admin.command_table.Conversation``).

The core (``bot.admin.commands``) parses, authorises and runs the command in the same words as
Slack's ``/pulse``; this answers it in Teams:

* ``say``: a message in the conversation the command came from (Teams has no reply only one
  person sees, so the core's "⏳ working on it" notes are left out), with ``/pulse X`` written as the message ``X`` and Slack's channel markup
  (``<#ID>``) as the team's name.
* ``open_form``: a notice as a card; a form as a card whose button opens it as a dialog
  (``dialogs``; the form is built again for whoever clicks, by ``bot.admin.form_table``).
  False only for a form that table does not know.
* ``channel``: ``here`` (or nothing, for ``audience`` and ``leaders``) is the team the command
  was typed in, mentioned there; a team the app is installed in may also be named.
* ``person``: an @mention (``events`` turns it into ``<@29:…>``) or an Entra ID object ID, looked
  up with the Bot Connector's get-member call in the team (roles are keyed by the member's
  Entra ID object ID, which a mention does not carry); someone Teams does not know there is
  one clear line.
* ``send_file``: the file as a card in the person's 1:1 with the bot: a chart inline, a CSV
  export as text (``cards.text_file_message``).
* ``explain``: a Teams refusal (``bot.chat.errors``) in one line.
"""

from __future__ import annotations

import re
import uuid

from bot.admin import form_table
from bot.admin.command_table import UsageError
from bot.admin.operations import AdminError
from bot.chat import errors, views
from bot.chat.forms import Notice
from bot.chat.gateway import Member
from integrations.msteams import cards, dialogs, events
from integrations.msteams.routes import TEAM

HERE = ("here", "this")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PROGRESS = "⏳"  # Slack's "working on it" note, seen only by whoever typed the command
CHANNEL_MARKUP = re.compile(r"<#([^>|]+)(?:\|[^>]*)?>")


teams_words = cards.teams_words  # one rule, which every card's text follows too


def notice_in_teams_words(notice: Notice) -> Notice:
    """A notice in Teams' words (``/pulse X`` is the message ``X``)."""
    return Notice(notice.title, tuple(teams_words(p) for p in notice.paragraphs), notice.close)


def _is_object_id(token: str) -> bool:
    try:
        uuid.UUID(token)
    except ValueError:
        return False
    return True


class TeamsConversation:
    """One command's replies and look-ups, in the conversation it came from."""

    def __init__(self, gateway, conversation: events.Conversation, sender: events.Person) -> None:
        self.gateway = gateway
        self.conversation = conversation
        self.sender = sender
        self.said: list[str] = []

    def say(self, text: str) -> None:
        if text.startswith(PROGRESS):  # the outcome follows in seconds, seen by the whole team
            return
        text = teams_words(CHANNEL_MARKUP.sub(lambda m: self._team_name(m.group(1)), text))
        self.said.append(text)
        conv = self.conversation
        self.gateway.reply(conv.service_url, conv.id, views.TextView(text))

    def _team_name(self, team_id: str) -> str:
        route = self.gateway.routes.get(TEAM, team_id)
        return route.name if route and route.name else "the team"

    def open_form(self, form) -> bool:
        if isinstance(form, Notice):
            card = dialogs.notice_card(notice_in_teams_words(form))
        elif form_table.known(form.form_id):
            card = dialogs.opener_card(form)
        else:
            return False
        conv = self.conversation
        self.gateway.reply_card(conv.service_url, conv.id, card, form.title)
        return True

    def channel(self, token: str) -> tuple[str, str]:
        conv = self.conversation
        if token.lower() in HERE:
            if conv.team_id is None:
                raise UsageError("mention me in the team's channel, or name the team")
            return conv.team_id, conv.team_name or self._team_name(conv.team_id)
        wanted = token.lstrip("#").lower()
        for key in self.gateway.routes.keys(TEAM):
            name = self._team_name(key)
            if key == token or name.lower() == wanted:
                return key, name
        raise AdminError(
            f"I am not in a team called {token}: add medpulse to that team, then mention me "
            "there with the command"
        )

    def person(self, token: str) -> Member:
        user_id = events.person_token(token) or (token.lower() if _is_object_id(token) else None)
        if user_id is None:
            raise UsageError(
                "@mention the person (type @ and pick them), or give their Entra ID object ID"
            )
        found = self._member(user_id)
        if found is None:
            raise AdminError(
                "I can't find that person in this team. Nothing was changed: @mention someone "
                "who is a member of a team medpulse is in."
            )
        if not found.aad_object_id:
            raise AdminError("Teams gave no Entra ID for that person, so they can't hold a role")
        own = found.role != "guest" and found.tenant_id in (None, self.conversation.tenant_id)
        return Member(
            user_id=found.aad_object_id.lower(),
            name=found.name,
            team_id=self.conversation.tenant_id if own else None,
        )

    def _member(self, user_id: str):
        """The member of this team (or, typed in a 1:1, of any team medpulse is in) with this
        ``29:`` ID or Entra ID object ID; None when Teams knows none."""
        conv = self.conversation
        if conv.team_id:
            places = [(conv.service_url, conv.team_id)]
        else:
            places = [(self._route_url(t, conv.service_url), t) for t in self._teams()]
        for service_url, place in places:
            try:
                return self.gateway.member(service_url, place, user_id)
            except (errors.Gone, errors.Permanent, errors.Undeliverable):
                continue
        return None

    def _teams(self) -> list[str]:
        return list(self.gateway.routes.keys(TEAM))

    def _route_url(self, team_id: str, default: str) -> str:
        route = self.gateway.routes.get(TEAM, team_id)
        return route.service_url if route and route.service_url else default

    def send_file(self, note: str, data: bytes, filename: str, title: str, alt: str) -> None:
        _, conversation = self.gateway.dm_conversation(self.sender.id)
        if not data.startswith(PNG_MAGIC):  # a CSV export: its text in a card
            self.gateway.post_text_file(conversation, note, filename, data.decode("utf-8"))
            return
        view = views.SummaryView(title=title, headline=note, sections=(), fallback=note[:200])
        self.gateway.post_channel(conversation, view, views.Image(data, alt, filename, title))

    def workspace_name(self) -> str:
        route = self.gateway.routes.get(TEAM, self.conversation.team_id or "")
        return route.name if route and route.name else ""

    def mention(self, user_id: str) -> str | None:
        if user_id.startswith("29:") or _is_object_id(user_id):
            return f"`{user_id}`"
        return None

    def link_ids(self, text: str) -> str:
        return text

    def explain(self, exc: Exception) -> str | None:
        if isinstance(exc, errors.ChatError):
            return f"⚠️ Teams refused that ({exc.error}); nothing more was changed."
        return None
