"""Many trusts on one deployment (multi-workspace OAuth), end to end over HTTP against the fake
Slack: admins belong to one trust, re-installing grants nothing, data never goes into a channel
shared outside the trust, roles only for the trust's own people, and an uninstall stops
everything at once and removes identities after the grace period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.people import uninstall
from bot.rounds.scheduler import Scheduler
from bot.settings import SettingsError, load_settings
from storage.models import (
    AuditEntry,
    Delivery,
    LeaderChannel,
    Participant,
    Response,
    Role,
    Round,
    Workspace,
)
from tests.conftest import TOKEN_KEY
from tests.helpers import answer_buttons, deliver_all, pulse_message, wait_for
from tests.multi import TEAMS, doctor_ids, installer
from tests.test_admin_commands import say

A, B, C = TEAMS


def admins(core, team: str) -> set[str]:
    with core.db.Session() as s:
        return set(
            s.scalars(
                select(Role.user_id)
                .join(Workspace, Workspace.id == Role.workspace_id)
                .where(Workspace.team_id == team, Role.role == "admin")
            )
        )


def start_round(r, team: str) -> None:
    slack = r.sender(team)
    assert "6 doctors" in say(r.fake, slack, f"audience <#C{team}|doctors>", installer(team))
    assert "Round started" in say(r.fake, slack, "send now", installer(team))


# ------------------------------------------------------------------------------ admins per trust


def test_each_installer_is_admin_of_their_own_trust_only(region):
    for team in TEAMS:
        assert admins(region.core, team) == {installer(team)}
    refused = say(region.fake, region.sender(B), "audience <#CT0BBB|doctors>", installer(A))
    assert "is for medpulse admins" in refused


def test_reinstalling_grants_nothing(region):
    region.fake.add_user("UMEMBERA", name="member", team_id=A)
    region.install(A, by="UMEMBERA")  # any member allowed to install apps
    assert admins(region.core, A) == {installer(A)}
    assert "is for medpulse admins" in say(region.fake, region.sender(A), "send now", "UMEMBERA")


def test_admins_setting_names_each_trust(fake, db_url, clock):
    from tests.multi import region_of

    r = region_of(fake, db_url, clock, MEDPULSE_ADMINS=f"{A}:USEED")
    try:
        r.install(A)
        r.install(B)
        fake.add_user("USEED", team_id=A)
        fake.add_user("USEED", team_id=B)  # one person, one ID in two workspaces (a Grid org)
        assert admins(r.core, A) == {installer(A), "USEED"}
        assert admins(r.core, B) == {installer(B)}
        assert "is for medpulse admins" in say(fake, r.sender(B), "audit", "USEED")
        assert "Audit log" in say(fake, r.sender(A), "audit", "USEED")
    finally:
        r.server.stop()
        r.core.db.dispose()


def test_plain_admin_ids_are_refused_with_many_workspaces(fake, db_url):
    with pytest.raises(SettingsError) as err:
        load_settings(
            _env_file=None,
            SLACK_CLIENT_ID="1.2",
            SLACK_CLIENT_SECRET="x",
            MEDPULSE_TOKEN_KEY=TOKEN_KEY,
            MEDPULSE_ADMINS="U012ABCDEF",
            DATABASE_URL=db_url,
        )
    line = str(err.value)
    assert "\n" not in line and line.startswith("MEDPULSE_ADMINS: expected TEAM:USER pairs")
    single = load_settings(_env_file=None, MEDPULSE_ADMINS="U012ABCDEF,T0X:U0Y")
    assert single.admin_ids_for("T0Z") == ["U012ABCDEF"]
    assert single.admin_ids_for("T0X") == ["U012ABCDEF", "U0Y"]


# ------------------------------------------------------------------ roles only for the trust


def test_roles_only_for_people_of_the_trust(region):
    fake, slack = region.fake, region.sender(A)
    # A Slack Connect guest from trust B, visible in A's workspace.
    fake.add_user("UGUEST", name="guest", team_id=A, home_team=B)
    # A Grid colleague of another trust of the same organisation.
    fake.add_user(
        "WOTHER", name="other", team_id=A, home_team=C, enterprise_id="E0ORG", enterprise_teams=[C]
    )
    fake.add_user(
        "WMINE", name="mine", team_id=A, home_team=C, enterprise_id="E0ORG", enterprise_teams=[C, A]
    )
    for who in ("UGUEST", "WOTHER"):
        for cmd in ("admins", "leaders-role"):
            shown = say(fake, slack, f"{cmd} add <@{who}>", installer(A))
            assert "not a member of this workspace" in shown
    assert "is now a medpulse leader" in say(fake, slack, "leaders-role add <@WMINE>", installer(A))
    with region.core.db.Session() as s:
        holders = set(s.scalars(select(Role.user_id)))
    assert holders == {installer(t) for t in TEAMS} | {"WMINE"}


# -------------------------------------------------------------------- shared channels


def test_a_channel_shared_outside_the_trust_is_refused_when_set(region):
    fake, slack = region.fake, region.sender(A)
    fake.share_channel("CLT0AAA", B, external=True, members=["UB000"], team_id=A)
    shown = say(fake, slack, "leaders <#CLT0AAA|leadership>", installer(A))
    assert "can't receive medpulse summaries" in shown and "Slack Connect" in shown
    fake.add_channel("CORG", "org-wide", members=[installer(A)], team_id=A)
    fake.share_channel("CORG", C, external=False, team_id=A)  # another trust of the Grid org
    shown = say(fake, slack, "leaders <#CORG|org-wide>", installer(A))
    assert "other workspaces of the organisation" in shown
    with region.core.db.Session() as s:
        assert s.scalar(select(func.count(LeaderChannel.id))) == 0


def test_a_channel_that_becomes_shared_stops_receiving_and_admins_are_told(region):
    from bot.insights.posting import post_summary

    fake, slack = region.fake, region.sender(A)
    assert "will receive summaries" in say(
        fake, slack, "leaders <#CLT0AAA|leadership>", installer(A)
    )
    assert "Summary posted" in say(fake, slack, "summary", installer(A))
    posts = [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == "CLT0AAA"]
    assert len(posts) == 1

    fake.share_channel("CLT0AAA", B, external=True, members=["UB000"], team_id=A)
    shown = say(fake, slack, "summary", installer(A))
    assert "nothing was posted to <#CLT0AAA>" in shown
    assert not post_summary(region.core, A, "CLT0AAA", slot_key="weekly:2026-11-23")
    posts = [c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == "CLT0AAA"]
    assert len(posts) == 1  # nothing more reached the shared channel
    told = fake.dms_to(installer(A), team_id=A)
    assert len(told) == 2 and all(
        "can't receive medpulse summaries" in c.params["text"] for c in told
    )
    with region.core.db.Session() as s:
        refused = s.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action.like("post refused%"))
        )
    assert refused == 2


# -------------------------------------------------------------------------------- uninstall


def gone(core, team: str) -> bool:
    """The trust's token is deleted and the workspace marked (the listener runs after the ack)."""
    if core.installations.store.find_bot(enterprise_id=None, team_id=team) is not None:
        return False
    with core.db.Session() as s:
        return (
            s.scalar(select(Workspace.uninstalled_at).where(Workspace.team_id == team)) is not None
        )


def _send_all(core) -> None:
    deliver_all(core)


def test_uninstall_deletes_tokens_stops_rounds_and_purges_identities_after_grace(region, clock):
    core, fake = region.core, region.fake
    for team in (A, B):
        start_round(region, team)
    # A doctor of A answers before the uninstall: the anonymous answer must outlive it.
    _send_all(core)
    with core.db.Session() as s:
        a_round = s.scalar(select(Round.id).join(Workspace).where(Workspace.team_id == A))
    msg = pulse_message(fake, doctor_ids(A)[0])
    btn = answer_buttons(msg)[0][0]
    region.sender(A).block_action(
        doctor_ids(A)[0], btn["action_id"], btn["value"], message=msg.to_api()
    )

    reply = region.sender(A).event({"type": "app_uninstalled"})
    assert reply.status == 200
    wait_for(lambda: gone(core, A), what="A's token deleted")
    assert core.installations.store.find_bot(enterprise_id=None, team_id=B) is not None
    with core.db.Session() as s:
        ws = s.scalar(select(Workspace).where(Workspace.team_id == A))
        assert ws.uninstalled_at is not None
        assert s.get(Round, a_round).closes_at <= clock.now()

    # The next slot: B gets a round, A none; A's open round closes through the ordinary path.
    scheduler = Scheduler(core, sync_audience=False)
    clock.advance(timedelta(days=14))
    report = scheduler.tick()
    with core.db.Session() as s:
        teams_of_new = set(
            s.scalars(select(Workspace.team_id).join(Round).where(Round.id.in_(report.created)))
        )
        assert s.get(Round, a_round).status == "closed"
        # No token is left to tidy A's DMs in Slack, but the rows end the same for everyone:
        # no tidy-up waits for ever, and no reminder_message_id says who was reminded.
        states = set(
            s.execute(
                select(Delivery.tidy, Delivery.reminder, Delivery.reminder_message_id).where(
                    Delivery.round_id == a_round
                )
            ).all()
        )
    assert states == {("done", "none", None)}
    assert teams_of_new == {B}

    # Before the grace period ends identities stay (a reinstall would pick up); after, they go.
    clock.advance(timedelta(days=core.settings.uninstall_grace_days - 14 - 1))
    assert uninstall.purge_expired(core) == []
    clock.advance(timedelta(days=2))
    Scheduler(core, sync_audience=False).tick()
    with core.db.Session() as s:
        a_id = s.scalar(select(Workspace.id).where(Workspace.team_id == A))
        b_id = s.scalar(select(Workspace.id).where(Workspace.team_id == B))

        def count(model, ws):
            return s.scalar(select(func.count(model.id)).where(model.workspace_id == ws))

        for model in (Participant, Delivery, Role, AuditEntry):
            assert count(model, a_id) == 0, model.__name__
            assert count(model, b_id) > 0, model.__name__
        assert count(Response, a_id) == 1  # anonymous: follows the retention setting


def test_tokens_revoked_stops_the_trust_and_a_reinstall_resumes_it(region, clock):
    core = region.core
    start_round(region, A)
    region.sender(A).event({"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOTA"]}})
    wait_for(lambda: gone(core, A), what="A's token deleted")
    with core.db.Session() as s:
        statuses = set(s.scalars(select(Delivery.status)))
    assert statuses == {"skipped"}  # nothing waiting goes out
    region.fake.add_user("UMEMBERA", team_id=A)
    region.install(A, by="UMEMBERA")  # back within the grace period
    with core.db.Session() as s:
        assert s.scalar(select(Workspace.uninstalled_at).where(Workspace.team_id == A)) is None
    assert admins(core, A) == {installer(A)}  # the reinstaller gains nothing
    clock.advance(timedelta(days=core.settings.uninstall_grace_days + 1))
    assert uninstall.purge_expired(core) == []
    assert "Round started" in say(region.fake, region.sender(A), "send now", installer(A))


def test_user_tokens_revoked_alone_change_nothing(region):
    region.sender(A).event({"type": "tokens_revoked", "tokens": {"oauth": ["UADMA"], "bot": []}})
    region.sender(B).event({"type": "app_uninstalled"})  # a real uninstall, for contrast
    wait_for(lambda: gone(region.core, B), what="B's token deleted")
    assert region.core.installations.store.find_bot(enterprise_id=None, team_id=A) is not None
    with region.core.db.Session() as s:
        stopped = set(
            s.scalars(select(Workspace.team_id).where(Workspace.uninstalled_at.is_not(None)))
        )
    assert stopped == {B}


def test_a_channel_slack_cannot_describe_gets_nothing_and_admins_are_told(region):
    fake, slack = region.fake, region.sender(A)
    assert "will receive summaries" in say(
        fake, slack, "leaders <#CLT0AAA|leadership>", installer(A)
    )
    del fake.team(A).channels["CLT0AAA"]  # archived and gone, say
    assert "nothing was posted to <#CLT0AAA>" in say(fake, slack, "summary", installer(A))
    assert not [
        c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == "CLT0AAA"
    ]
    told = fake.dms_to(installer(A), team_id=A)
    assert len(told) == 1 and "could not check <#CLT0AAA>" in told[0].params["text"]


def test_single_workspace_mode_stops_on_uninstall_and_resumes_when_slack_talks_again(
    core, fake, slack
):
    say(fake, slack, "audit 1")  # the workspace exists
    slack.event({"type": "app_uninstalled"})

    def stopped():
        with core.db.Session() as s:
            return s.scalar(select(Workspace.uninstalled_at)) is not None

    wait_for(stopped, what="the workspace stopped")
    say(fake, slack, "audit")  # a reinstalled app's first request
    assert not stopped()
