"""A whole round on Microsoft Teams, end to end over HTTP: the real app (``build_core`` and
``build_wsgi`` from the TEAMS_* settings) receives signed activities at /api/messages from the
fake Bot Connector, and sends through it under injected faults.

Install in a team -> the team's roster is the audience -> an admin's ``send now`` -> one pulse
card to every member exactly once (throttling, refusals, an ambiguous 504, a doctor who
blocked the app) -> taps and a comment answered by toasts -> close: every card the same closed
card -> the summary with its chart inline in the leadership team. Non-admins are refused, and
forged, expired, wrong-audience, wrong-issuer and unendorsed tokens change nothing.
"""

from __future__ import annotations

import base64
import struct
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.settings import load_settings
from integrations.msteams.gateway import TeamsGateway
from server.runtime import build_core, build_wsgi
from storage.models import (
    Audience,
    ChatRoute,
    Comment,
    Delivery,
    Participant,
    Response,
    Role,
    Round,
    SentMessage,
    Workspace,
)
from tests.teams_helpers import (
    answer_buttons,
    card_action_data,
    card_of,
    counts,
    drain,
    teams_app,
    texts,
)


@pytest.fixture
def teams(db_url, clock):
    with teams_app(db_url, clock) as rig:
        yield rig.fake, rig.core, rig.url, rig.worker


def test_a_round_on_teams_end_to_end(teams, clock):
    fake, core, url, worker = teams
    admin = fake.add_user("Dr Admin")
    doctors = [fake.add_user() for _ in range(11)]
    team = fake.add_team("Trust doctors", [admin, *doctors])
    leader = fake.add_user("Dr Leader")
    leaders = fake.add_team("Medical leadership", [admin, leader])
    assert core.gateway(fake.tenant_id).platform == "teams"

    # Installed in the doctors' team: a workspace for the tenant, the installer its admin,
    # the team's roster the audience.
    fake.install(team)
    assert fake.post(url, fake.installed_activity(team, by=admin)).status_code == 200
    with core.db.Session() as s:
        ws = s.scalar(select(Workspace).where(Workspace.team_id == fake.tenant_id))
        assert ws is not None and ws.uninstalled_at is None and ws.platform == "teams"
        assert s.scalars(select(Role.user_id)).all() == [admin.aad_object_id]
        assert s.scalar(select(Audience.channel_id)) == team.id
        people = set(s.scalars(select(Participant.user_id).where(Participant.active)))
    assert people == {admin.id, *(d.id for d in doctors)}
    assert "installed in this team" in texts(fake.channel_messages(team))[0]

    # A doctor's "send now" is refused, in words; nothing happens.
    before = counts(core)
    fake.post(url, fake.message(doctors[0], "send now", team=team))
    assert "is for medpulse admins" in texts(fake.channel_messages(team))[-1]
    assert counts(core) == before and fake.ops("create_conversation") == []

    # The admin's "send now", then delivery through faults: throttling and refusals are
    # retried, a 504 after posting is not resent, a doctor who blocked the app is undeliverable.
    fake.post(url, fake.message(admin, "send now", team=team))
    assert "Round started: sending to 12 doctors" in texts(fake.channel_messages(team))[-1]
    fake.block(doctors[1])
    fake.fail_next("create_conversation", 502)
    for status in (429, 412, 503):
        fake.fail_next("send", status)
    fake.fail_next("send", 504, after_effect=True)
    drain(worker)
    reachable = [admin, doctors[0], *doctors[2:]]
    assert all(len(fake.messages_to(p)) == 1 for p in reachable)
    assert fake.messages_to(doctors[1]) == []
    with core.db.Session() as s:
        rows = s.execute(
            select(Participant.user_id, Delivery.status, Delivery.error).join(
                Participant, Participant.id == Delivery.participant_id
            )
        ).all()
    outcome = {user: status for user, status, _ in rows}
    assert outcome.pop(doctors[1].id) == "undeliverable"
    [uncertain] = [user for user, status, error in rows if status == "failed"]
    assert [e for _, st, e in rows if st == "failed"][0].startswith("uncertain")
    assert sorted(outcome.values()) == ["failed"] + ["sent"] * 10
    # 3 replies, 3 refused and retried, then one attempt per card (blocked and 504 included)
    assert len(fake.ops("send")) == 3 + 3 + 12
    closable = [p for p in reachable if p.id != uncertain]

    # Taps: each is answered by a toast and stored without a name; the card is untouched, and
    # no row that names a person is written (its update time would say who answered).
    clock.advance(timedelta(minutes=1))
    with core.db.Session() as s:
        identity_before = s.execute(
            select(ChatRoute.key, ChatRoute.updated_at, ChatRoute.conversation_id)
        ).all()
    tapped = [d for d in doctors[2:] if d.id != uncertain][:7]
    for n, doctor in enumerate(tapped):
        [sent] = fake.messages_to(doctor)
        firsts = {}
        for b in answer_buttons(card_of(sent)):
            firsts.setdefault(b["data"]["answer"].rsplit(":", 1)[0], []).append(b)
        for options in firsts.values():
            choice = options[n % len(options)]
            reply = fake.post(url, fake.card_action(doctor, "answer", choice["data"], sent.id))
            assert reply.status_code == 200
            assert reply.json()["value"].startswith("✅ Recorded anonymously")
    again = fake.post(url, fake.card_action(tapped[0], "answer", choice["data"], sent.id))
    assert again.status_code == 200  # a repeated tap changes nothing
    comment = {**card_action_data(card_of(sent), "comment"), "comment": "More rota notice"}
    reply = fake.post(url, fake.card_action(tapped[1], "comment", comment))
    assert "recorded anonymously" in reply.json()["value"]
    with core.db.Session() as s:
        n_questions = len(s.scalar(select(Delivery.version_ids).limit(1)))
        assert s.scalar(select(func.count(Response.id))) == len(tapped) * n_questions
        assert s.scalars(select(Comment.text)).all() == ["More rota notice"]
    assert all(m.edits == 0 for p in reachable for m in fake.messages_to(p))
    with core.db.Session() as s:
        assert (
            s.execute(select(ChatRoute.key, ChatRoute.updated_at, ChatRoute.conversation_id)).all()
            == identity_before
        )
    assert sent.payload == fake.messages_to(tapped[-1])[0].payload  # nobody's card differs

    # Close: every card becomes the same closed card, answered or not; the ledger is emptied.
    clock.advance(timedelta(days=6))
    from bot.rounds.lifecycle import close_due_rounds

    assert close_due_rounds(core)
    clock.advance(timedelta(minutes=6))
    drain(worker)
    cards_now = [card_of(fake.messages_to(p)[0]) for p in closable]
    assert all(c == cards_now[0] for c in cards_now)
    assert "actions" not in cards_now[0] and "closed" in cards_now[0]["body"][0]["text"]
    assert "my results" in cards_now[0]["body"][1]["text"]
    with core.db.Session() as s:
        assert s.scalar(select(func.count(SentMessage.id))) == 0
        assert s.scalar(select(func.count(Response.id)).where(Response.link_hash.is_not(None))) == 0

    # The leadership team: installed, chosen by the admin, the summary posted there with its
    # chart inline; a doctor may not post it.
    fake.install(leaders)
    fake.post(url, fake.installed_activity(leaders, by=admin))
    fake.post(url, fake.message(admin, "leaders", team=leaders))
    # The core's words (bot.admin.setup_commands), "this team" being the one typed in.
    assert "#Medical leadership will receive summaries" in texts(fake.channel_messages(leaders))[-1]
    fake.post(url, fake.message(doctors[0], "summary", team=team))
    assert "is for medpulse admins and leaders" in texts(fake.channel_messages(team))[-1]
    fake.post(url, fake.message(admin, "summary", team=leaders))
    [summary] = [m for m in fake.channel_messages(leaders) if m.payload.get("attachments")]
    body = card_of(summary)["body"]
    [image] = [b for b in body if b["type"] == "Image"]
    png = base64.b64decode(image["url"].split(",", 1)[1])
    width, height = struct.unpack(">II", png[16:24])
    assert max(width, height) <= 1024 and image["altText"]
    assert any("answered" in (b.get("text") or "") for b in body)

    # The weekly job posts there too (the next Monday 09:00 local), once however often it ticks.
    from bot.insights.posting import post_due_summaries

    now = clock.now()
    monday = (now + timedelta(days=7 - now.weekday())).replace(hour=9, minute=0)
    before = len(fake.channel_messages(leaders))
    assert post_due_summaries(core, monday) == 1
    assert post_due_summaries(core, monday + timedelta(minutes=15)) == 0
    [weekly] = fake.channel_messages(leaders)[before:]
    assert [b for b in card_of(weekly)["body"] if b["type"] == "Image"]

    # The perception gap for leaders, with its one-page chart inline; refused to a doctor.
    fake.post(url, fake.message(doctors[0], "gap", team=team))
    assert "is for medpulse admins and leaders" in texts(fake.channel_messages(team))[-1]
    fake.post(url, fake.message(admin, "gap", team=leaders))
    gap_text = texts(fake.channel_messages(leaders))[-1]
    assert "Perception gap" in gap_text and "`checklist export`" in gap_text
    # Its one-page chart: a card with the image inline, in the asker's 1:1.
    fake.install_personal(admin)
    fake.post(url, fake.message(admin, "checklist export", team=leaders))
    assert "is in your DMs" in texts(fake.channel_messages(leaders))[-1]
    page = card_of(fake.messages_to(admin)[-1])
    assert [b for b in page["body"] if b["type"] == "Image" and b["altText"]]

    # A doctor's home card, on request: privacy, settings, results, "you said, we did".
    fake.post(url, fake.message(doctors[3], "my results"))
    home = card_of(fake.messages_to(doctors[3])[-1])
    home_text = " ".join(b.get("text", "") for b in home["body"])
    for part in ("Privacy", "You said, we did", "What the answers add up to", "Your settings"):
        assert part in home_text
    assert "Teams ID" in home_text

    # "medpulse forget" for a Teams doctor: their pulse card deleted, their route gone.
    from bot.admin.retention import forget

    # (one whose card is known to be out: which doctor's send met the 504 depends on the pool)
    gone = next(d for d in doctors[4:] if d.id != uncertain)
    done = forget(core, fake.tenant_id, gone.id)
    assert (done.participants, done.messages) == (1, 1)
    assert fake.messages_to(gone) == []
    with core.db.Session() as s:
        keys = set(s.scalars(select(ChatRoute.key).where(ChatRoute.kind == "dm")))
        assert s.scalar(select(func.count(SentMessage.id))) == 0
    assert gone.id not in keys and doctors[3].id in keys

    # Removed from the leadership team, then from the doctors' team: uninstalled.
    fake.post(url, fake.uninstalled_activity(leaders, by=admin))
    with core.db.Session() as s:
        assert s.scalar(select(Workspace.uninstalled_at)) is None
    fake.post(url, fake.uninstalled_activity(team, by=admin))
    with core.db.Session() as s:
        assert s.scalar(select(Workspace.uninstalled_at)) is not None


@pytest.mark.parametrize(
    "forgery",
    [
        {"key": "forged"},
        {"expires_in": -600},
        {"aud": "another-app"},
        {"iss": "https://evil.example"},
        {"key": "webchat"},
        {"alg": "HS256"},
        {"serviceurl": "https://attacker.example/"},
        {"authorization": ""},
    ],
    ids=["forged", "expired", "audience", "issuer", "unendorsed", "hs256", "serviceurl", "none"],
)
def test_forged_activities_are_refused_and_change_nothing(teams, forgery):
    fake, core, url, _worker = teams
    admin = fake.add_user("Dr Admin")
    doctors = [fake.add_user() for _ in range(6)]
    team = fake.add_team("Trust doctors", [admin, *doctors], installed=True)
    for activity in (
        fake.installed_activity(team, by=admin),
        fake.message(admin, "send now", team=team),
        fake.card_action(doctors[0], "answer", {"answer": "1:1:1"}),
    ):
        resp = fake.post(url, activity, **forgery)
        assert resp.status_code in (401, 403)
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Workspace.id))) == 0
        assert s.scalar(select(func.count(ChatRoute.id))) == 0
    assert [c for c in fake.calls if c.op not in ("openid", "keys")] == []


def test_teams_is_served_without_any_slack_setting(teams):
    _fake, core, _url, _worker = teams
    router = build_wsgi(core)
    assert set(router.routes) == {"/api/messages"}
    assert isinstance(core.gateway_for.teams, TeamsGateway)


def test_the_process_serves_teams_alone_slack_alone_or_both(db_url):
    from bot.operator_errors import OperatorError
    from server import cli

    teams_only = load_settings(
        _env_file=None,
        DATABASE_URL=db_url,
        TEAMS_APP_ID="app",
        TEAMS_APP_PASSWORD="pw",
        TEAMS_TENANT_ID="tenant",
    )
    cli._require_slack(teams_only)  # no Slack setting at all: Slack is simply not served
    assert cli._listener_desc(teams_only) == "HTTP on port 3000, /api/messages (Teams)"
    both = load_settings(
        _env_file=None,
        DATABASE_URL=db_url,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        TEAMS_APP_ID="app",
        TEAMS_APP_PASSWORD="pw",
        TEAMS_TENANT_ID="tenant",
    )
    assert cli._listener_desc(both) == "HTTP on port 3000, /slack/events, /api/messages (Teams)"
    half = load_settings(_env_file=None, DATABASE_URL=db_url, TEAMS_APP_ID="app")
    with pytest.raises(OperatorError, match="TEAMS_APP_PASSWORD"):
        cli._require_slack(half)
    core = build_core(both)
    try:
        assert {"/api/messages", "/slack/events"} <= set(build_wsgi(core).routes)
        assert core.gateway("tenant").platform == "teams"
        assert core.gateway("T0SLACK").__class__.__name__ == "SlackGateway"
    finally:
        core.db.dispose()


def test_schedule_commands_in_a_channel_for_admins_only(teams):
    fake, core, url, _worker = teams
    admin = fake.add_user("Dr Admin")
    doctors = [fake.add_user() for _ in range(6)]
    team = fake.add_team("Trust doctors", [admin, *doctors], installed=True)
    fake.post(url, fake.installed_activity(team, by=admin))
    again = fake.installed_activity(team, by=admin)  # Teams' installationUpdate for the same
    again.update({"type": "installationUpdate", "action": "add"})
    fake.post(url, again)
    assert len(fake.channel_messages(team)) == 1  # one welcome
    fake.post(url, fake.message(doctors[0], "pause", team=team))
    assert "is for medpulse admins" in texts(fake.channel_messages(team))[-1]
    fake.post(url, fake.message(admin, "pause", team=team))
    assert texts(fake.channel_messages(team))[-1].startswith("⏸️ Paused")
    fake.post(url, fake.message(admin, "schedule weekly thu 13:30", team=team))
    assert "Schedule changed" in texts(fake.channel_messages(team))[-1]
    fake.post(url, fake.message(admin, "help", team=team))
    assert "`send now`" in texts(fake.channel_messages(team))[-1]
    fake.post(url, fake.message(doctors[1], "help", team=team))
    doctor_help = texts(fake.channel_messages(team))[-1]
    assert "`optout`" in doctor_help and "`send now`" not in doctor_help
    fake.post(url, fake.message(doctors[1], "frobnicate", team=team))
    assert "I don't know `frobnicate`" in texts(fake.channel_messages(team))[-1]


def test_the_app_added_to_a_personal_chat_sends_the_home_card(teams):
    fake, core, url, _worker = teams
    admin = fake.add_user("Dr Admin")
    doctor = fake.add_user()
    team = fake.add_team("Trust doctors", [admin, doctor], installed=True)
    fake.post(url, fake.installed_activity(team, by=admin))
    fake.install_personal(doctor)
    conversation = core.gateway(fake.tenant_id).dm_conversation(doctor.id)[1]
    added = fake.message(doctor, "")
    added.update({"type": "installationUpdate", "action": "add"})
    added["conversation"]["id"] = conversation
    assert fake.post(url, added).status_code == 200
    [home] = fake.messages_to(doctor)
    body = " ".join(b.get("text", "") for b in home.payload["attachments"][0]["content"]["body"])
    assert "Privacy" in body and "You said, we did" in body


def installed_and_sent(fake, url):
    """An admin and five doctors in a team with the app installed, and a round sent now (not
    yet delivered): (admin, doctors, team)."""
    admin = fake.add_user("Dr Admin")
    doctors = [fake.add_user() for _ in range(5)]
    team = fake.add_team("Trust doctors", [admin, *doctors])
    fake.install(team)
    fake.post(url, fake.installed_activity(team, by=admin))
    fake.post(url, fake.message(admin, "send now", team=team))
    return admin, doctors, team


def test_forget_on_teams_survives_a_refused_delete_and_purges_the_ledger(teams):
    """``medpulse forget`` where Teams will not delete the card: reported as kept, never an
    exception, and the person's rows and send-ledger rows go all the same."""
    fake, core, url, worker = teams
    admin, doctors, team = installed_and_sent(fake, url)
    drain(worker)
    assert len(fake.messages_to(doctors[0])) == 1
    fake.fail_next("delete", 403)
    from bot.admin.retention import forget

    done = forget(core, fake.tenant_id, doctors[0].id)
    assert (done.participants, done.messages, done.kept) == (1, 0, 1)
    with core.db.Session() as s:
        assert (
            s.scalar(select(func.count(Participant.id)).where(Participant.user_id == doctors[0].id))
            == 0
        )
        tags = set(s.scalars(select(SentMessage.tag)))
    assert len(tags) == 5  # the other doctors' cards; the forgotten one's row went


def test_core_commands_answer_in_teams_terms(teams):
    """The core's command language through ``TeamsConversation``: "this team" needs a team,
    a person typed as a plain word is asked for as an @mention, and a form's command answers
    with the card that opens it (``test_teams_dialogs`` follows both further)."""
    fake, core, url, _worker = teams
    admin = fake.add_user("Dr Admin")
    doctors = [fake.add_user() for _ in range(5)]
    team = fake.add_team("Trust doctors", [admin, *doctors], installed=True)
    fake.post(url, fake.installed_activity(team, by=admin))
    fake.install_personal(admin)
    in_dm = fake.message(admin, "leaders")  # in the 1:1: no team to mean
    in_dm["conversation"]["id"] = core.gateway(fake.tenant_id).dm_conversation(admin.id)[1]
    fake.post(url, in_dm)
    assert "mention me in the team's channel" in texts(fake.messages_to(admin))[-1]
    fake.post(url, fake.message(admin, "admins add @DrLeader", team=team))
    assert "@mention the person" in texts(fake.channel_messages(team))[-1]
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Role.id))) == 1
    fake.post(url, fake.message(admin, "action", team=team))
    [button] = card_of(fake.channel_messages(team)[-1])["actions"]
    assert button["data"] == {"msteams": {"type": "task/fetch"}, "form": "leadership_action"}


def test_a_round_whose_every_send_was_uncertain_leaves_no_ledger_rows(teams, clock):
    """Every card's send got a 504 after Teams posted it: no card is ever closed (none is
    known), so no close clears the ledger; the next send after the round closed sweeps it, and
    nothing is left saying whose sends they were."""
    fake, core, url, worker = teams
    admin, doctors, team = installed_and_sent(fake, url)
    fake.fail_next("send", 504, count=6, after_effect=True)
    drain(worker)
    with core.db.Session() as s:
        assert set(s.scalars(select(SentMessage.state))) == {"uncertain"}
        assert s.scalar(select(func.count(SentMessage.id))) == 6

    clock.advance(timedelta(days=6))
    from bot.rounds.lifecycle import close_due_rounds

    assert close_due_rounds(core)
    drain(worker)
    with core.db.Session() as s:
        assert s.scalar(select(func.count(SentMessage.id))) == 6  # no card to close

    clock.advance(timedelta(minutes=11))
    fake.post(url, fake.message(admin, "send now", team=team))
    drain(worker)
    with core.db.Session() as s:
        open_round = s.scalar(select(Round.id).where(Round.status == "open"))
        tags = set(s.scalars(select(SentMessage.tag)))
        live = set(s.scalars(select(Delivery.id).where(Delivery.round_id == open_round)))
    assert tags and {int(t.partition(":")[2]) for t in tags} <= live


def test_a_doctor_changes_their_settings_on_the_home_card(teams):
    """The home card's inputs and buttons: a time of day and a grade saved, then opting out and
    back in; each tap answered by the card redrawn from what is stored."""
    fake, core, url, worker = teams
    admin = fake.add_user("Dr Admin")
    doctor = fake.add_user("Dr Home")
    team = fake.add_team("Trust doctors", [admin, doctor, *(fake.add_user() for _ in range(4))])
    fake.install(team)
    fake.post(url, fake.installed_activity(team, by=admin))
    fake.post(url, fake.message(doctor, "home"))
    home = card_of(fake.messages_to(doctor)[-1])
    inputs = {b["id"]: b for b in home["body"] if b["type"] == "Input.ChoiceSet"}
    assert set(inputs) == {"home_window", "home_grade"}
    assert {c["value"] for c in inputs["home_window"]["choices"]} >= {"morning", "evening"}

    reply = fake.post(
        url,
        fake.card_action(doctor, "home_save", {"home_window": "evening", "home_grade": "sas"}),
    )
    redrawn = reply.json()["value"]
    again = {b["id"]: b for b in redrawn["body"] if b["type"] == "Input.ChoiceSet"}
    assert again["home_window"]["value"] == "evening" and again["home_grade"]["value"] == "sas"
    with core.db.Session() as s:
        me = s.scalar(select(Participant).where(Participant.user_id == doctor.id))
        assert (me.preferred_window, me.grade, me.opted_out) == ("evening", "sas", False)

    # Values the card never offered are not stored.
    fake.post(url, fake.card_action(doctor, "home_save", {"home_window": "midnight"}))
    with core.db.Session() as s:
        me = s.scalar(select(Participant).where(Participant.user_id == doctor.id))
        assert me.preferred_window is None  # an unknown window means "any time"

    out = fake.post(url, fake.card_action(doctor, "home_optout", {})).json()["value"]
    assert "opted out" in " ".join(b.get("text", "") for b in out["body"])
    with core.db.Session() as s:
        assert s.scalar(select(Participant.opted_out).where(Participant.user_id == doctor.id))
    fake.post(url, fake.card_action(doctor, "home_optin", {}))
    with core.db.Session() as s:
        assert not s.scalar(select(Participant.opted_out).where(Participant.user_id == doctor.id))
