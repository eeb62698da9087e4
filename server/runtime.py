"""Wiring: build the core, the HTTP app and the worker from settings. No globals."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import inspect, select

from bot.clock import Clock, SystemClock
from bot.core import Core
from bot.settings import Settings
from server.link_key import answer_link_key
from server.web import Router, SlackGuard
from storage.db import Database
from storage.models import Workspace

log = logging.getLogger("medpulse")


class GatewayCache:
    """One Slack gateway per workspace (and its token), shared across threads."""

    def __init__(self, settings: Settings, token_for=None) -> None:
        self.settings = settings
        self.token_for = token_for
        self._lock = threading.Lock()
        self._by_token: dict[tuple[str, str | None, str], object] = {}

    def __call__(self, team_id: str):
        from integrations.slack.gateway import SlackGateway

        token = self.token_for(team_id) if self.token_for else self.settings.slack_bot_token
        # An org-wide (Enterprise Grid) token comes with the workspace its calls must name.
        token, scope = token if isinstance(token, tuple) else (token, None)
        if not token:
            raise RuntimeError(f"no bot token for workspace {team_id}")
        with self._lock:
            gw = self._by_token.get((token, scope, team_id))
            if gw is None:
                gw = self._by_token[(token, scope, team_id)] = SlackGateway(
                    token, self.settings.slack_api_url, team_id=scope, tenant=team_id
                )
            return gw


class Gateways:
    """Which platform serves a workspace: what its row says (``workspaces.platform``, set by
    the install). A tenant with no row yet (its install activity is being handled) is Teams if
    it is the configured Teams tenant (the Teams app is single-tenant), Slack otherwise.
    """

    def __init__(self, slack: GatewayCache, teams=None, db: Database | None = None) -> None:
        self.slack = slack
        self.teams = teams
        self.db = db
        self._known: dict[str, str] = {}  # a row's platform never changes

    def platform(self, team_id: str) -> str:
        found = self._known.get(team_id)
        if found is None and self.db is not None:
            with self.db.Session() as s:
                found = s.scalar(select(Workspace.platform).where(Workspace.team_id == team_id))
            if found is not None:
                self._known[team_id] = found
        if found is not None:
            return found
        if self.teams is not None and team_id == self.teams.routes.tenant_id:
            return "teams"
        return "slack"

    def __call__(self, team_id: str):
        if self.platform(team_id) == "teams":
            if self.teams is None:
                raise RuntimeError(f"workspace {team_id} is on Teams; TEAMS_* are not set")
            return self.teams
        return self.slack(team_id)


def _teams_gateway(settings: Settings, db: Database, clock: Clock):
    from integrations.msteams import gateway
    from integrations.msteams.config import TeamsConfig

    config = TeamsConfig.from_settings(settings)
    if config is None:
        return None
    return gateway.build(config, db, clock, settings.teams_rate)


def build_core(settings: Settings, clock: Clock | None = None, db: Database | None = None) -> Core:
    """Single-workspace mode uses SLACK_BOT_TOKEN; with SLACK_CLIENT_ID/SECRET, tokens come from
    the installations made through OAuth, refreshed when they rotate. With the TEAMS_* settings
    the configured Teams tenant is served too (``Gateways``)."""
    db = db or Database.connect(settings.database_url)
    installations = None
    token_for = None
    if settings.multi_workspace:
        from integrations.slack.gateway import InstallationTokens

        installations = InstallationTokens(
            settings.slack_client_id,
            settings.slack_client_secret,
            db.engine,
            settings.slack_api_url,
            settings.token_key,
        )
        if inspect(db.engine).has_table(installations.store.bots.name):
            installations.store.encrypt_plain()  # installs made before tokens were encrypted
        token_for = installations.gateway_token
    clock = clock or SystemClock()
    teams = _teams_gateway(settings, db, clock)
    gateways = Gateways(GatewayCache(settings, token_for), teams, db)
    return Core(
        settings=settings,
        db=db,
        clock=clock,
        gateway_for=gateways,
        platform_of=gateways.platform,
        installations=installations,
        link_key=answer_link_key(settings),
    )


def build_wsgi(core: Core):
    """The whole HTTP surface: health checks, Slack events behind the guard when Slack is
    configured, and Teams activities at /api/messages when Teams is."""
    from storage.migrate import head_revisions, schema_problem

    heads = head_revisions()
    router = Router(ready=lambda: schema_problem(core.db.engine, heads))
    if core.settings.has_teams:
        router.mount("/api/messages", teams_endpoint(core))
    if core.settings.any_slack or not core.settings.has_teams:
        _mount_slack(core, router)
    return router


def teams_endpoint(core: Core):
    """``/api/messages``: Teams' signed activities, verified, then handed to the listener."""
    from integrations.msteams.app import TeamsApp
    from integrations.msteams.config import TeamsConfig
    from integrations.msteams.web import TeamsEndpoint

    config = TeamsConfig.from_settings(core.settings)
    return TeamsEndpoint.from_config(config, TeamsApp(core, config.tenant_id))


def _mount_slack(core: Core, router: Router) -> None:
    from integrations.slack.listeners.app import build_app, wsgi

    bolt = build_app(core)
    handler = wsgi(bolt)
    router.mount("/slack/events", SlackGuard(handler, core.settings.slack_signing_secret or ""))
    if core.installations is not None:
        router.mount("/slack/install", handler)
        router.mount("/slack/oauth_redirect", handler)
