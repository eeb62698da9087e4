"""A region of trusts for end-to-end tests: one medpulse in multi-workspace (OAuth) mode, and three
workspaces in the fake Slack, each installed through /slack/install like a real trust would.

Also the scaffolding every multi-workspace test shares (tests/test_oauth.py, the grid): the OAuth
settings, the app served over HTTP, and the install flow through the browser's redirects."""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass, field

import pytest

from server.runtime import build_core, build_wsgi
from server.web import HttpServer
from simulator.fake_slack import FakeSlack
from simulator.slack_requests import SlackSender
from tests.conftest import SECRET, TOKEN_KEY, make_settings

TEAMS = ("T0AAA", "T0BBB", "T0CCC")
DOCTORS = 6


def installer(team: str) -> str:
    return "UADM" + team[-1]


def doctor_ids(team: str, n: int = DOCTORS) -> list[str]:
    return [f"U{team[-1]}{i:03d}" for i in range(n)]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, cookie: str | None = None):
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def oauth_settings(fake: FakeSlack, db_url: str, **extra):
    """Multi-workspace settings: no bot token of its own, an OAuth client, tokens encrypted."""
    values = {
        "SLACK_BOT_TOKEN": None,
        "SLACK_CLIENT_ID": "111.222",
        "SLACK_CLIENT_SECRET": "shh",
        "MEDPULSE_ADMINS": "",
        "MEDPULSE_TOKEN_KEY": TOKEN_KEY,
    }
    return make_settings(fake, db_url, **(values | extra))


def serve(fake: FakeSlack, db_url: str, clock, **settings_extra) -> tuple[object, HttpServer]:
    """The real app in OAuth mode, served over HTTP on 127.0.0.1."""
    core = build_core(oauth_settings(fake, db_url, **settings_extra), clock=clock)
    return core, HttpServer(build_wsgi(core), host="127.0.0.1", port=0, threads=8).start()


def complete_install(server_url: str, code: str) -> None:
    """What a browser does: /slack/install (state cookie), then Slack's redirect with ``code``."""
    status, headers, page = get(server_url + "/slack/install")
    assert status == 200 and "slack.com/oauth/v2/authorize" in page
    state = re.search(r"state=([\w-]+)", page).group(1)
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    status, _, page = get(f"{server_url}/slack/oauth_redirect?code={code}&state={state}", cookie)
    assert status == 200, page


def per_workspace(core, model) -> dict[str, int]:
    """How many rows of ``model`` (a table with workspace_id) each workspace holds, by team ID."""
    from sqlalchemy import func, select

    from storage.models import Workspace

    with core.db.Session() as s:
        query = (
            select(Workspace.team_id, func.count(model.id))
            .join(model, model.workspace_id == Workspace.id)
            .group_by(Workspace.team_id)
        )
        return dict(s.execute(query).all())


@dataclass
class Region:
    fake: FakeSlack
    core: object
    server: HttpServer
    senders: dict[str, SlackSender] = field(default_factory=dict)
    _codes: int = 0

    def sender(self, team: str) -> SlackSender:
        if team not in self.senders:
            self.senders[team] = SlackSender(
                self.server.url + "/slack/events",
                SECRET,
                team_id=team,
                response_url_base=self.fake.response_url_base,
                **self.sender_options(team),
            )
        return self.senders[team]

    def sender_options(self, team: str) -> dict:
        return {"bot_user_id": "UBOT" + team[-1]}

    def stop(self) -> None:
        self.server.stop()
        self.core.db.dispose()

    def install(self, team: str, by: str | None = None) -> None:
        """Run the OAuth install (``/slack/install`` then the redirect) as ``by``."""
        self._codes += 1
        code = f"code-{team}-{self._codes}"
        self.fake.add_oauth_code(
            code,
            team,
            team.lower(),
            "xoxb-" + team.lower(),
            by or installer(team),
            bot_user_id="UBOT" + team[-1],
        )
        complete_install(self.server.url, code)


def populate(fake: FakeSlack, team: str) -> None:
    """A workspace with its installer, six doctors in #doctors, and a leadership channel."""
    fake.add_team(team, "xoxb-" + team.lower(), bot_user_id="UBOT" + team[-1], name=team.lower())
    fake.add_user(installer(team), name="admin." + team.lower(), team_id=team)
    ids = doctor_ids(team)
    for uid in ids:
        fake.add_user(uid, team_id=team)
    fake.add_channel("C" + team, "doctors", members=ids, team_id=team)
    fake.add_channel("CL" + team, "leadership", members=[installer(team)], team_id=team)


def region_of(fake: FakeSlack, db_url: str, clock, **settings_extra) -> Region:
    for team in TEAMS:
        populate(fake, team)
    return Region(fake, *serve(fake, db_url, clock, **settings_extra))


@pytest.fixture
def region(fake, db_url, clock):
    """Three trusts, installed; nothing else set up."""
    r = region_of(fake, db_url, clock)
    for team in TEAMS:
        r.install(team)
    yield r
    r.stop()


ORG = "E0ORG"
GRID = ("T0GA", "T0GB")
SHARED = "WBOTH"  # one person, one ID, in both workspaces of the organisation


def grid_admin(team: str) -> str:
    return "WADM" + team[-1]


@dataclass
class Grid(Region):
    def sender_options(self, team: str) -> dict:
        return {"bot_user_id": "UBOTORG", "enterprise_id": ORG, "org_install": True}

    def install_org(self, by: str) -> None:
        self._codes += 1
        code = f"code-org-{self._codes}"
        self.fake.add_oauth_code(
            code, "", "", "xoxb-org", by, bot_user_id="UBOTORG", enterprise_id=ORG
        )
        complete_install(self.server.url, code)


@pytest.fixture
def grid(fake, db_url, clock):
    """An Enterprise Grid organisation of two trusts (workspaces), installed organisation-wide;
    each trust's first admin named in MEDPULSE_ADMINS as TEAM:USER."""
    for team in GRID:
        fake.add_team(team, "xoxb-unused-" + team.lower(), bot_user_id="UBOTORG", name=team.lower())
        fake.add_user(grid_admin(team), team_id=team, enterprise_id=ORG, enterprise_teams=[team])
        ids = doctor_ids(team)
        for uid in ids:
            fake.add_user(uid, team_id=team, enterprise_id=ORG, enterprise_teams=[team])
        fake.add_user(SHARED, team_id=team, enterprise_id=ORG, enterprise_teams=list(GRID))
        fake.add_channel("C" + team, "doctors", members=[*ids, SHARED], team_id=team)
    fake.add_enterprise(ORG, GRID, name="nhs-region")
    admins = ",".join(f"{t}:{grid_admin(t)}" for t in GRID)
    g = Grid(fake, *serve(fake, db_url, clock, MEDPULSE_ADMINS=admins))
    g.install_org(by=grid_admin(GRID[0]))
    yield g
    g.stop()
