"""The /pulse language without Slack: ``bot.admin.commands`` parses and runs a command through a
plain-text Conversation (what a Teams adapter would write), with the same words and the same
authorisation the Slack listener gets. Real core, real database; no Slack request at all."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.admin import commands
from bot.admin.command_table import UsageError
from bot.chat.gateway import Member
from bot.people import authz
from bot.people.workspaces import ensure_team
from tests.conftest import ADMIN


@dataclass
class TextConversation:
    """Replies as lines; channels and people looked up in dicts; no forms."""

    channels: dict[str, str] = field(default_factory=dict)  # name -> id
    said: list[str] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    forms: bool = False
    opened: list = field(default_factory=list)

    def say(self, text: str) -> None:
        self.said.append(text)

    def open_form(self, form) -> bool:
        if self.forms:
            self.opened.append(form)
        return self.forms

    def channel(self, token: str) -> tuple[str, str]:
        name = token.lstrip("#")
        if name not in self.channels:
            raise UsageError(f"{token!r} is not a channel")
        return self.channels[name], name

    def person(self, token: str) -> Member:
        return Member(token.lstrip("@"))

    def send_file(self, note, data, filename, title, alt) -> None:
        self.files.append((filename, title))

    def workspace_name(self) -> str:
        return "Test Trust"

    def mention(self, user_id: str) -> str | None:
        return f"@{user_id}"

    def link_ids(self, text: str) -> str:
        return text

    def explain(self, exc: Exception) -> str | None:
        return None


@pytest.fixture
def trust(core, fake):
    return fake.team_id, ensure_team(core, fake.team_id)


def run(core, trust, text: str, user: str = ADMIN, chat: TextConversation | None = None):
    chat = chat or TextConversation()
    team, ws = trust
    commands.run(core, team, user, ws, commands.parse(text), chat)
    return chat


def test_parse_lowercases_the_name_groups_quotes_and_defaults_to_help():
    assert commands.parse("") == commands.Command("help", [], "")
    cmd = commands.parse('Leaders #x "department:Emergency Medicine"')
    assert (cmd.name, cmd.args) == ("leaders", ["#x", "department:Emergency Medicine"])
    assert commands.parse("send now").args == []
    assert commands.parse('comments "unbalanced').args == ['"unbalanced']


def test_the_same_authorisation_refuses_a_doctor_and_changes_nothing(core, trust):
    chat = run(core, trust, "pause", user="UDOCTOR1")
    assert chat.said == [authz.refusal("pause")]
    assert run(core, trust, "status").said[0].startswith("*medpulse status*\nNo audience yet")


def test_help_lists_only_what_the_person_may_run(core, trust):
    doctor = run(core, trust, "help", user="UDOCTOR1").said[0]
    admin = run(core, trust, "help").said[0]
    assert "/pulse optout" in doctor and "/pulse pause" not in doctor
    assert "/pulse pause" in admin and "/pulse share" in admin


def test_an_unknown_command_suggests_the_nearest(core, trust):
    (reply,) = run(core, trust, "stauts").said
    assert reply.startswith("⚠️ I don't know `/pulse stauts`. Did you mean `/pulse status`?")


def test_usage_errors_and_forms_follow_what_the_platform_can_do(core, trust):
    (reply,) = run(core, trust, "questions add").said
    assert reply.startswith("⚠️ I can't open the form from here\n*Usage:* `/pulse questions")
    chat = run(core, trust, "questions add", chat=TextConversation(forms=True))
    assert chat.said == [] and chat.opened[0].form_id == "admin_add_question"
    (reply,) = run(core, trust, "audience #nowhere").said
    assert reply.startswith("⚠️ '#nowhere' is not a channel")


def test_opting_out_is_the_persons_own_and_says_so(core, trust, fake):
    fake.add_user("UDOCTOR1")
    assert run(core, trust, "optout", user="UDOCTOR1").said == [
        "You're opted out: medpulse won't DM you. `/pulse optin` any time to rejoin."
    ]
    assert run(core, trust, "optout", user="UDOCTOR1").said[0].startswith("Nothing changed.")
