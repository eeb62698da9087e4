"""Authorisation is decided in bot.people.authz alone, and holds for every /pulse command over HTTP:
someone without the role gets the refusal, and nothing changes, in the database or in Slack."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import integrations.slack.listeners.app  # noqa: F401 - registers every listener module, so COMMANDS is complete
from bot.people import authz, roles
from integrations.slack.listeners.commands import COMMANDS
from storage.models import Base, Schedule
from tests.blockkit import find_block, find_element
from tests.conftest import ADMIN
from tests.helpers import wait_for
from tests.test_admin_commands import say, set_audience

# Arguments that would change something if the command ran: a refusal must stop them all.
SAMPLE_ARGS = {
    "schedule": "weekly thu 14:00",
    "send": "now",
    "audience": "<#C0DOCTORS|doctors>",
    "leaders": "<#C0LEADS|leadership>",
    "questions": "disable {key}",
    "admins": "add <@UNOBODY>",
    "leaders-role": "add <@UNOBODY>",
    "audit": "5",
    "summary": "",
    "export": "",
}
WRITES = ("chat.postMessage", "views.open", "views.publish", "files.completeUploadExternal")

RESTRICTED = sorted(n for n in COMMANDS if authz.REQUIRED.get(n, authz.ADMIN) != authz.EVERYONE)
ADMIN_ONLY = sorted(n for n in COMMANDS if authz.REQUIRED.get(n, authz.ADMIN) == authz.ADMIN)
OPEN = sorted(n for n in COMMANDS if authz.REQUIRED.get(n) == authz.EVERYONE)


def dump(core) -> dict[str, list[tuple]]:
    """Every row of every table: 'nothing changed' means exactly this is equal."""
    with core.db.Session() as s:
        return {
            t.name: sorted((tuple(map(str, r)) for r in s.execute(select(t))), key=str)
            for t in Base.metadata.sorted_tables
        }


def slack_writes(fake) -> int:
    return sum(len(fake.calls_to(m)) for m in WRITES)


@pytest.fixture
def trust(core, fake, slack):
    """An audience, a leadership channel, a leader, and an ordinary doctor (UNOBODY)."""
    set_audience(fake, slack, 6)
    fake.add_channel("C0LEADS", "leadership", members=[ADMIN])
    fake.add_user("UNOBODY", name="nobody")
    fake.add_user("ULEAD1", name="lead.one")
    roles.grant(core, fake.team_id, ADMIN, "ULEAD1", authz.LEADER)
    return core


def _args(name: str, core) -> str:
    from sqlalchemy import select as sel

    from storage.models import QuestionItem

    with core.db.Session() as s:
        key = s.scalar(sel(QuestionItem.key).limit(1))
    return SAMPLE_ARGS.get(name, "").format(key=key)


def test_every_command_is_in_the_one_table():
    """A command without an entry would silently need admin; say what each needs, explicitly."""
    assert set(COMMANDS) <= set(authz.REQUIRED)
    assert {"help", "optout", "optin"} <= set(OPEN)
    assert {"schedule", "pause", "resume", "send", "questions", "admins", "audit"} <= set(
        ADMIN_ONLY
    )


@pytest.mark.parametrize("name", RESTRICTED)
def test_a_doctor_is_refused_and_nothing_changes(name, trust, fake, slack):
    before, writes = dump(trust), slack_writes(fake)
    text = f"{name} {_args(name, trust)}".strip()
    assert say(fake, slack, text, "UNOBODY") == authz.refusal(name)
    assert dump(trust) == before
    assert slack_writes(fake) == writes


@pytest.mark.parametrize("name", ADMIN_ONLY)
def test_a_leader_is_refused_admin_commands(name, trust, fake, slack):
    before = dump(trust)
    text = f"{name} {_args(name, trust)}".strip()
    assert say(fake, slack, text, "ULEAD1") == authz.refusal(name)
    assert dump(trust) == before


@pytest.mark.parametrize("name", OPEN)
def test_open_commands_are_not_refused(name, trust, fake, slack):
    assert say(fake, slack, name, "UNOBODY") != authz.refusal(name)


def test_refusal_says_who_can_and_how_to_get_access():
    text = authz.refusal("schedule")
    assert "medpulse admins" in text and "Nothing was changed" in text
    assert "/pulse admins add" in text
    assert "admins and leaders" in authz.refusal("status")


def test_unknown_actions_fail_closed(core, fake):
    from bot.people.workspaces import ensure_team

    ws = ensure_team(core, fake.team_id)
    with core.db.Session() as s:
        assert not authz.allowed(s, ws, "UNOBODY", "no-such-action")
        assert authz.allowed(s, ws, ADMIN, "no-such-action")


# ------------------------------------------------------------------------------- App Home
def test_admin_home_shows_status_and_buttons_only_to_admins(trust, fake, slack):
    slack.app_home_opened(ADMIN)
    view = wait_for(lambda: fake.home_views.get(ADMIN), what="admin home")
    text = str(view["blocks"])
    assert "Admin" in text and "#doctors · 6 doctors" in text
    actions = find_block(view["blocks"], "admin-actions")
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids == ["admin_send_now", "admin_pause", "admin_edit_schedule", "admin_add_question"]
    assert "confirm" in find_element(view["blocks"], "admin_send_now", block_id="admin-actions")

    slack.app_home_opened("UNOBODY")
    view = wait_for(lambda: fake.home_views.get("UNOBODY"), what="doctor home")
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert "Admin" not in headers and "admin-actions" not in str(view["blocks"])
    assert "6 doctors" not in str(view["blocks"])


def test_admin_home_buttons_pause_resume_and_send(trust, fake, slack, worker):
    slack.block_action(ADMIN, "admin_pause", "")
    wait_for(lambda: "Paused" in str(fake.home_views.get(ADMIN)), what="paused notice")
    with trust.db.Session() as s:
        assert s.scalars(select(Schedule)).one().paused
    assert "admin_resume" in str(fake.home_views[ADMIN]["blocks"])
    slack.block_action(ADMIN, "admin_resume", "")
    wait_for(lambda: "Resumed" in str(fake.home_views.get(ADMIN)), what="resumed notice")
    with trust.db.Session() as s:
        assert not s.scalars(select(Schedule)).one().paused
    slack.block_action(ADMIN, "admin_send_now", "")
    wait_for(lambda: "sending to 6 doctors" in str(fake.home_views.get(ADMIN)), what="send notice")
    assert "schedule resumed" in say(fake, slack, "audit 3")


def test_admin_home_edit_schedule_opens_the_form(trust, fake, slack):
    reply = slack.block_action(ADMIN, "admin_edit_schedule", "", trigger_id="T-HOME-1")
    assert reply.ok
    call = wait_for(lambda: fake.calls_to("views.open"), what="views.open")[-1]
    assert call.params["trigger_id"] == "T-HOME-1"
    assert call.params["view"]["callback_id"] == "admin_schedule"
    assert '"home"' in call.params["view"]["private_metadata"]


@pytest.mark.parametrize(
    ("action", "command"),
    [
        ("admin_send_now", "send"),
        ("admin_pause", "pause"),
        ("admin_edit_schedule", "schedule"),
        ("admin_add_question", "questions"),
    ],
)
def test_admin_home_buttons_refuse_non_admins(action, command, trust, fake, slack):
    slack.app_home_opened("ULEAD1")  # opening the Home records the viewer; do that first
    first = wait_for(lambda: fake.home_views.get("ULEAD1"), what="leader home")
    before = dump(trust)
    opened = len(fake.calls_to("views.open"))
    slack.block_action("ULEAD1", action, "")
    view = wait_for(
        lambda: (v := fake.home_views.get("ULEAD1")) and v["hash"] != first["hash"] and v,
        what="refusal on home",
    )
    assert authz.refusal(command) in str(view["blocks"])
    assert dump(trust) == before
    assert len(fake.calls_to("views.open")) == opened
