"""The Teams listener: verified events in (``events``), the core's functions called, views out.

Thin by design: it parses, asks the core, and renders. What it does per event:

* **Installed in a team** (``conversationUpdate`` with the bot among ``membersAdded``): the
  tenant's workspace is made or reopened (``bot.people.workspaces.installed``; the installer,
  by Entra ID object ID, becomes its first admin), the team's route is kept, and the first team
  becomes the audience (``bot.admin.operations.set_audience``, which syncs its roster).
* **Removed from a team**: the route goes; removed from the last one, the trust is uninstalled
  (``bot.people.uninstall``).
* **Members joined or left** the audience team: the audience is synced again.
* **A tap** (``adaptiveCard/action``): ``answer`` records through ``bot.rounds.answers`` and is
  answered by a toast (the card is never redrawn per person); ``comment`` records the card's
  ``Input.Text`` as the round's comment; ``not_now`` moves the reminder; ``why`` explains.
* **A message**: a command, in the same words as ``/pulse`` (``help`` first). In channels only
  @mentions arrive. Authorised by ``aadObjectId`` through ``bot.people.authz``.
* **A form's dialog** (``task/fetch``, ``task/submit``): the command answered with a card whose
  button opens the form (``TeamsConversation.open_form``); the click is authorised again for
  whoever clicked (in a channel, not necessarily who typed the command), and the form built
  afresh, by ``bot.admin.form_table``; the submission goes to the form's own submit, which
  checks the role once more. Problems come back in the dialog against their fields.

Activities from another tenant are ignored: the app is single-tenant, and a workspace is a
tenant. People are identified on the answer path by their per-bot ``29:`` ID (the ID the
roster and 1:1s use) and on the admin path by their Entra ID object ID; neither ever reaches an
answer or a comment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import select

from bot.admin import commands, form_table, operations
from bot.admin.operations import AdminError
from bot.chat import errors, views
from bot.core import Core
from bot.people import home as homes
from bot.people import preferences, uninstall, workspaces
from bot.people.audience import sync_audience
from bot.rounds import doctor
from bot.rounds.answers import (
    MAX_COMMENT,
    clean_comment,
    current_answers,
    record_answer,
    record_comment,
)
from bot.rounds.facts import questions as round_questions
from bot.rounds.pulse_view import parse_answer_value
from integrations.msteams import cards, dialogs, events
from integrations.msteams import home as home_cards
from integrations.msteams.conversation import TeamsConversation, notice_in_teams_words, teams_words
from integrations.msteams.routes import DM, TEAM
from integrations.msteams.web import CardReply, DialogReply, Reply, TextReply
from questions import scales
from storage.models import Audience, Workspace

log = logging.getLogger("medpulse.msteams.app")

NOT_INSTALLED = (
    "medpulse is not set up for your organisation yet: an admin adds the medpulse app to the "
    "trust's doctors' team first."
)
CLOSED = "Sorry, this pulse has closed. Look out for the next one."
NOT_YOURS = "Sorry, I could not find this pulse for you, so nothing was stored."


def privacy_notice(k: int) -> str:
    """The privacy notice in Teams' terms (chat retention and eDiscovery, not Slack history)."""
    return (
        "**What medpulse stores**\n\n"
        "- Your answers and comments are stored **without your name, Teams ID or Entra ID**, "
        "without a time finer than the round, and in random order.\n"
        "- While a round is open, a one-way code (its key is kept outside the database) lets "
        "you change your answer. It is erased when the round closes; after that nobody, "
        "including admins, can tell which answers were yours.\n"
        "- A tap is confirmed by a short note Teams shows and does not keep. The pulse card in "
        "your chat never shows your answer, and at close every card reads the same closed "
        "note, so your organisation's chat retention and eDiscovery hold nothing that says "
        "whether or how you answered.\n"
        f"- Your department and grade go with an answer only where at least {k} people in "
        "that group were asked the same question.\n\n"
        "**Who sees what**\n\n"
        f"- Leaders see totals, trends and comments only for groups of **{k} or more**.\n"
        "- Admins see who was *sent* a pulse (to deliver it), never who answered what.\n\n"
        "**Your choices**: send me `optout` to stop the pulses, `optin` to get them again."
    )


WHY = (
    "Your trust uses medpulse to ask doctors, every week or two, a few questions drawn from "
    "The King's Fund medical engagement checklist, so leaders can see what is changing and act "
    "on it. You get it because you are in the trust's doctors' team."
)


# Teams' own words: a person's home and the privacy notice (Slack shows both in its Home tab).
HOME_WORDS = ("home", "my results", "privacy")
# Commands about the person as someone asked: they name them by their chat (29:) ID, the ID of
# the audience; every other command by their Entra ID object ID, the ID roles are kept under.
AS_DOCTOR = ("optout", "optin")
# Typed in a team with no channel: the command is about that team.
THIS_TEAM = ("audience", "leaders")


class TeamsApp:
    """The handler ``web.TeamsEndpoint`` calls with each verified event."""

    def __init__(self, core: Core, tenant_id: str) -> None:
        self.core = core
        self.tenant_id = tenant_id

    @property
    def gateway(self):
        return self.core.gateway(self.tenant_id)

    def __call__(self, event: events.Event) -> Reply:
        if event.conversation.tenant_id != self.tenant_id:
            log.warning("msteams: ignored an activity from another tenant")
            if isinstance(event, events.DialogFetch | events.DialogSubmit):
                return DialogReply(dialogs.message(NOT_INSTALLED))
            return TextReply(NOT_INSTALLED) if isinstance(event, events.CardAction) else None
        handler: Callable[[events.Event], Reply] = {
            events.Installed: self._installed,
            events.Uninstalled: self._uninstalled,
            events.MembersChanged: self._members_changed,
            events.Message: self._message,
            events.CardAction: self._tap,
            events.DialogFetch: self._open_dialog,
            events.DialogSubmit: self._submit_dialog,
        }[type(event)]
        return handler(event)

    # ------------------------------------------------------------ install and roster

    def _workspace_id(self) -> int | None:
        with self.core.db.Session() as s:
            return s.scalar(
                select(Workspace.id).where(
                    Workspace.team_id == self.tenant_id, Workspace.uninstalled_at.is_(None)
                )
            )

    def _installed(self, event: events.Installed) -> Reply:
        conv = event.conversation
        if conv.team_id is None:  # personal scope: keep the 1:1's route, send the home card
            ws_id = self._workspace_id()
            if event.by is not None and ws_id is not None:
                self._remember_dm(event.by, conv)
                self.send_home(conv, event.by)
            return None
        installer = event.by.aad_object_id if event.by else None
        workspaces.installed(self.core, self.tenant_id, installer, platform="teams")
        routes = self.gateway.routes
        known = routes.get(TEAM, conv.team_id) is not None
        routes.save(TEAM, conv.team_id, conv.service_url, name=conv.team_name)
        if known:  # Teams says it twice (conversationUpdate and installationUpdate): once is enough
            return None
        with self.core.db.Session() as s:
            has_audience = s.scalar(
                select(Audience.id)
                .join(Workspace, Workspace.id == Audience.workspace_id)
                .where(Workspace.team_id == self.tenant_id)
            )
        text = "👋 medpulse is installed in this team. Mention me with `help` to see what I do."
        if has_audience is None:
            result = operations.set_audience(
                self.core, self.tenant_id, installer or "teams", conv.team_id, conv.team_name or ""
            )
            text += (
                f" Its {result.sync.humans} members are the doctors medpulse asks "
                "(an admin can change that with `audience` in another team)."
            )
        self.gateway.reply(conv.service_url, conv.team_id, views.TextView(text))
        return None

    def _uninstalled(self, event: events.Uninstalled) -> Reply:
        conv = event.conversation
        if conv.team_id is None or self._workspace_id() is None:
            return None
        routes = self.gateway.routes
        routes.forget(TEAM, conv.team_id)
        if routes.any_service_url() is None:  # removed from its last team
            uninstall.uninstalled(self.core, self.tenant_id)
        return None

    def _members_changed(self, event: events.MembersChanged) -> Reply:
        conv = event.conversation
        if conv.team_id is None or self._workspace_id() is None:
            return None
        with self.core.db.Session() as s:
            audience = s.scalar(
                select(Audience.id)
                .join(Workspace, Workspace.id == Audience.workspace_id)
                .where(Workspace.team_id == self.tenant_id, Audience.channel_id == conv.team_id)
            )
        if audience is not None:
            sync_audience(self.core, self.tenant_id, audience)
        return None

    def _remember_dm(self, person: events.Person, conv: events.Conversation) -> None:
        """The 1:1 an activity came from (and its latest service URL), for later sends."""
        if conv.kind == "personal":
            self.gateway.routes.save(DM, person.id, conv.service_url, conv.id)

    # ------------------------------------------------------------ taps

    def _tap(self, event: events.CardAction) -> Reply:
        if self._workspace_id() is None:
            return TextReply(NOT_INSTALLED)
        # No route is refreshed here: a tap writes only the anonymous answer, never a row that
        # names the tapper (whose update time would say who answered, and when).
        if event.verb == "answer":
            return TextReply(self._answer(event))
        if event.verb in home_cards.VERBS:
            return self._home_tap(event)
        round_id = _int(event.data.get("pulse"))
        if round_id is None:
            return TextReply("Sorry, I could not read that. Nothing was stored.")
        if event.verb == "comment":
            return TextReply(self._comment(event, round_id))
        if event.verb == "not_now":
            when = doctor.snooze(self.core, self.tenant_id, event.sender.id, round_id)
            return TextReply(
                f"No problem. I'll remind you {when}."
                if when
                else "This pulse closes before tomorrow, so there's no reminder. No worries."
            )
        if event.verb == "why":
            return TextReply(WHY)
        return TextReply("Sorry, I don't know that button. Nothing was stored.")

    def _answer(self, event: events.CardAction) -> str:
        parsed = parse_answer_value(str(event.data.get("answer", "")))
        if parsed is None:
            return "Sorry, I could not read that answer. Nothing was stored."
        round_id, version_id, value = parsed
        user = event.sender.id
        outcome = record_answer(self.core, self.tenant_id, user, round_id, version_id, value)
        if outcome.status == "closed":
            return CLOSED
        if outcome.status != "recorded":
            return NOT_YOURS
        with self.core.db.reading() as s:
            asked = outcome.delivery.version_ids
            mine = current_answers(self.core, s, self.tenant_id, user, round_id, asked)
            scale = round_questions(self.core.facts, s, [version_id])[0].scale
        return cards.recorded(scales.label(scale, value), len(mine), len(asked))

    def _comment(self, event: events.CardAction, round_id: int) -> str:
        text = clean_comment(str(event.data.get("comment") or ""))
        if not text:
            return "Type your comment in the box first, then tap “Send comment”."
        if len(text) > MAX_COMMENT:
            return f"Sorry, that is {len(text)} characters; comments can be up to {MAX_COMMENT}."
        user = event.sender.id
        outcome = record_comment(self.core, self.tenant_id, user, round_id, text, None)
        if outcome.status == "closed":
            return CLOSED
        if outcome.status != "recorded":
            return NOT_YOURS
        return "🙏 Thank you: your comment is recorded anonymously. Send another to replace it."

    # ------------------------------------------------------------ forms as dialogs

    def _open_dialog(self, event: events.DialogFetch) -> Reply:
        """The form for whoever clicked, if their role allows it, drawn as it is now."""
        ws_id = self._workspace_id()
        if ws_id is None:
            return DialogReply(dialogs.message(NOT_INSTALLED))
        user = event.sender.aad_object_id or event.sender.id
        opened = form_table.build(self.core, self.tenant_id, ws_id, user, event.form_id)
        if opened.form is None:
            return DialogReply(dialogs.message(teams_words(opened.refusal or form_table.UNKNOWN)))
        return DialogReply(dialogs.dialog(opened.form))

    def _submit_dialog(self, event: events.DialogSubmit) -> Reply:
        """The dialog's values to the form's own submit (which checks the role again): its
        problems back in the dialog, its notice in the dialog's place, or one line."""
        ws_id = self._workspace_id()
        if ws_id is None:
            return DialogReply(dialogs.message(NOT_INSTALLED))
        try:
            form = form_table.shape(self.core, self.tenant_id, ws_id, event.form_id)
        except AdminError as exc:
            return DialogReply(dialogs.message(teams_words(f"⚠️ {exc}")))
        if form is None:
            return DialogReply(dialogs.message(form_table.UNKNOWN))
        values = dialogs.submitted(form, event.data)
        user = event.sender.aad_object_id or event.sender.id
        outcome = form_table.submit(self.core, self.tenant_id, ws_id, user, event.form_id, values)
        if outcome is None:
            return DialogReply(dialogs.message(form_table.UNKNOWN))
        if outcome.errors:
            return DialogReply(dialogs.dialog(dialogs.with_values(form, values, outcome.errors)))
        if outcome.notice is not None:
            return DialogReply(dialogs.notice_dialog(notice_in_teams_words(outcome.notice)))
        return DialogReply(dialogs.message(teams_words(form_table.saved_line(event.form_id))))

    # ------------------------------------------------------------ commands

    def _message(self, event: events.Message) -> Reply:
        """A command: the core's (``bot.admin.commands``), answered through a
        ``TeamsConversation``; or a home word, answered here."""
        conv = event.conversation
        ws_id = self._workspace_id()
        if ws_id is None:
            self.gateway_reply_safe(conv, views.TextView(NOT_INSTALLED))
            return None
        self._remember_dm(event.sender, conv)
        said = " ".join(event.text.lower().split())
        if said == "privacy":
            self.gateway_reply_safe(conv, views.TextView(privacy_notice(self.core.k)))
            return None
        if said in HOME_WORDS:
            self.send_home(conv, event.sender)
            return None
        cmd = commands.parse(event.text)
        if cmd.name in THIS_TEAM and (not cmd.args or ":" in cmd.args[0]):
            cmd = replace(cmd, args=["here", *cmd.args])
        user = event.sender.id if cmd.name in AS_DOCTOR else event.sender.aad_object_id
        chat = TeamsConversation(self.gateway, conv, event.sender)
        try:
            if not user:  # no Entra ID object ID (a guest): not an admin or a leader
                user = event.sender.id
            commands.run(self.core, self.tenant_id, user, ws_id, cmd, chat)
        except errors.ChatError as exc:
            log.warning("msteams: could not reply in %s: %s", conv.kind, exc.error)
        return None

    def gateway_reply_safe(self, conv: events.Conversation, view: views.View) -> None:
        try:
            self.gateway.reply(conv.service_url, conv.id, view)
        except errors.ChatError as exc:
            log.warning("msteams: could not reply in %s: %s", conv.kind, exc.error)

    # ------------------------------------------------------------ home

    def home(self, person: events.Person, notice: str | None = None) -> dict:
        """A person's home card (``integrations.msteams.home``), from the core's ``Home``: their
        settings by their chat ID, the admin part by their Entra object ID."""
        home = homes.home(
            self.core, self.tenant_id, person.id, notice, role_user=person.aad_object_id
        )
        return home_cards.home_card(home, privacy_notice(self.core.k))

    def send_home(self, conv: events.Conversation, person: events.Person) -> None:
        try:
            self.gateway.reply_card(
                conv.service_url, conv.id, self.home(person), "medpulse · your home"
            )
        except errors.ChatError as exc:
            log.warning("msteams: could not send a home card: %s", exc.error)

    def _home_tap(self, event: events.CardAction) -> Reply:
        """Settings saved, or opted out or in, from the home card: stored, then the card
        redrawn from what is now stored."""
        user = event.sender.id
        if event.verb == home_cards.SAVE:
            offered = homes.choices(preferences.me(self.core, self.tenant_id, user))
            for name, value in home_cards.chosen(offered, event.data).items():
                homes.choose(self.core, self.tenant_id, user, name, value)
            notice = "✅ Saved."
        else:
            homes.choose(self.core, self.tenant_id, user, event.verb, None)
            notice = (
                "You are opted out: no more pulses until you opt back in."
                if event.verb == "home_optout"
                else "✅ You will get pulses again."
            )
        return CardReply(self.home(event.sender, notice))


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
