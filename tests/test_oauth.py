"""Multi-workspace mode: OAuth installs of two workspaces through the fake Slack, each running its
own round with its own (rotating) token, and nothing crossing between them."""

from __future__ import annotations

import threading

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.delivery.outbox import DeliveryWorker
from bot.settings import SettingsError
from storage.models import Response, Round, Workspace
from tests.conftest import TOKEN_KEY, make_settings
from tests.helpers import answer_buttons, wait_for
from tests.multi import Region, complete_install, per_workspace, serve

TEAMS = {
    # team: (token, installer, refresh_token, expires_in)
    "T0AAA": ("xoxe.xoxb-a-1", "UADMA", "xoxe-1-refresh-a", 60),  # expiring: rotated on first use
    "T0BBB": ("xoxb-b-1", "UADMB", None, None),
}


@pytest.fixture
def multi(fake, db_url, clock):
    for team, (token, installer, refresh, expires) in TEAMS.items():
        fake.add_team(team, token, bot_user_id="UBOT" + team[-1], name=team.lower())
        fake.add_user(installer, name=installer.lower(), team_id=team)
        fake.add_oauth_code(
            "code-" + team,
            team,
            team.lower(),
            token,
            installer,
            refresh_token=refresh,
            expires_in=expires,
        )
        ids = [f"U{team[-1]}{i:03d}" for i in range(6)]
        for uid in ids:
            fake.add_user(uid, team_id=team)
        fake.add_channel("C" + team, "doctors", members=ids, team_id=team)
    region = Region(fake, *serve(fake, db_url, clock))
    yield region
    region.stop()


def _install(region: Region, team: str) -> None:
    complete_install(region.server.url, "code-" + team)


def test_two_workspaces_install_and_run_their_own_rounds(multi, fake):
    core = multi.core
    for team in TEAMS:
        _install(multi, team)
    with core.db.Session() as s:
        assert set(s.scalars(select(Workspace.team_id))) == set(TEAMS)

    senders = {t: multi.sender(t) for t in TEAMS}
    for team, (_, installer, _, _) in TEAMS.items():
        r = senders[team].slash(f"audience <#C{team}|doctors>", installer)
        wait_for(lambda r=r: fake.response_posts(r.response_key), what=f"audience {team}")
        assert "6 doctors" in fake.response_posts(r.response_key)[0].body["text"]
    # The installer of A is nobody in B.
    refused = senders["T0BBB"].slash("send now", "UADMA")
    assert "is for medpulse admins" in refused.json()["text"]
    for team, (_, installer, _, _) in TEAMS.items():
        r = senders[team].slash("send now", installer)
        wait_for(lambda r=r: fake.response_posts(r.response_key), what=f"send {team}")

    worker = DeliveryWorker(core, concurrency=8, backoff=0.01)
    threads = [threading.Thread(target=worker.run_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    while worker.run_once():
        pass
    worker.shutdown()

    for team in TEAMS:
        for i in range(6):
            uid = f"U{team[-1]}{i:03d}"
            dms = fake.dms_to(uid, team_id=team)
            assert len(dms) == 1 and dms[0].team_id == team
    refreshes = [
        c for c in fake.calls_to("oauth.v2.access") if c.params.get("grant_type") == "refresh_token"
    ]
    assert len(refreshes) == 1  # A's expiring token rotated once, not once per thread
    a_token = core.installations.bot_token("T0AAA")
    assert a_token != TEAMS["T0AAA"][0]

    # A doctor of B tapping with a round id of A stores nothing; their own round works.
    with core.db.Session() as s:
        rounds = dict(s.execute(select(Workspace.team_id, Round.id).join(Round)).all())
    b_user = "UB000"
    b_msg_call = fake.dms_to(b_user, team_id="T0BBB")[0]
    b_msg = fake.message(b_msg_call.response["channel"], b_msg_call.response["ts"])
    btn = answer_buttons(b_msg)[0][2]
    _, vid, value = btn["value"].split(":")
    forged = f"{rounds['T0AAA']}:{vid}:{value}"
    senders["T0BBB"].block_action(b_user, btn["action_id"], forged, message=b_msg.to_api())
    senders["T0BBB"].block_action(b_user, btn["action_id"], btn["value"], message=b_msg.to_api())
    assert per_workspace(core, Response) == {"T0BBB": 1}


def _every_stored_value(core) -> str:
    from sqlalchemy import inspect, text

    with core.db.engine.connect() as conn:
        return " ".join(
            str(row)
            for table in inspect(conn).get_table_names()
            for row in conn.execute(text(f'SELECT * FROM "{table}"'))
        )


def test_slack_tokens_are_encrypted_at_rest(multi, fake):
    """A copy of the database holds no usable token: every bot, refresh and rotated token is
    stored under the Fernet key from configuration (which is not in the database either)."""
    from integrations.slack.oauth_store import KeyMismatch

    core = multi.core
    for team in TEAMS:
        _install(multi, team)
    rotated = core.installations.bot_token("T0AAA")  # rotates A's expiring token and saves it
    assert rotated != TEAMS["T0AAA"][0] and core.installations.bot_token("T0BBB") == "xoxb-b-1"
    stored = _every_stored_value(core)
    secrets = [rotated, TOKEN_KEY, "xoxb-b-1", "xoxe-1-refresh-a", "xoxe.xoxb-a-1"]
    assert "gAAAAA" in stored  # Fernet tokens are there...
    assert not [x for x in secrets if x in stored]  # ...and nothing in plain text
    # Plain text written before encryption is encrypted at the next start-up.
    with core.db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE slack_bots SET bot_refresh_token = 'xoxe-1-plain'")
    assert "xoxe-1-plain" in _every_stored_value(core)
    assert core.installations.store.encrypt_plain() >= 1
    assert "xoxe-1-plain" not in _every_stored_value(core)
    # A different key cannot open them: one clear error, not a token.
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore

    from integrations.slack.oauth_store import EncryptedInstallationStore

    other = EncryptedInstallationStore("111.222", core.db.engine, Fernet.generate_key().decode())
    with pytest.raises(KeyMismatch, match="MEDPULSE_TOKEN_KEY"):
        other.find_bot(enterprise_id=None, team_id="T0BBB")
    plain = SQLAlchemyInstallationStore("111.222", core.db.engine)
    assert plain.find_bot(enterprise_id=None, team_id="T0BBB").bot_token.startswith("gAAAAA")


def test_multi_workspace_mode_will_not_start_without_a_token_key(fake, db_url):
    with pytest.raises(SettingsError) as err:
        make_settings(
            fake,
            db_url,
            SLACK_BOT_TOKEN=None,
            SLACK_CLIENT_ID="1.2",
            SLACK_CLIENT_SECRET="s",
            MEDPULSE_ADMINS="",
        )
    line = str(err.value)
    assert line.startswith("MEDPULSE_TOKEN_KEY: expected a key") and "\n" not in line
    with pytest.raises(SettingsError, match="MEDPULSE_TOKEN_KEY: expected a Fernet key"):
        make_settings(fake, db_url, MEDPULSE_TOKEN_KEY="not-a-key")
