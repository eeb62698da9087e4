"""Wiring: build the core, the HTTP app and the worker from settings. No globals."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import inspect

from bot.clock import Clock, SystemClock
from bot.core import Core
from bot.settings import Settings
from server.link_key import answer_link_key
from server.web import Router, SlackGuard
from storage.db import Database

log = logging.getLogger("medpulse")


class GatewayCache:
    """One Slack gateway per workspace token, shared across threads."""

    def __init__(self, settings: Settings, token_for=None) -> None:
        self.settings = settings
        self.token_for = token_for
        self._lock = threading.Lock()
        self._by_token: dict[tuple[str, str | None], object] = {}

    def __call__(self, team_id: str):
        from integrations.slack.gateway import SlackGateway

        token = self.token_for(team_id) if self.token_for else self.settings.slack_bot_token
        # An org-wide (Enterprise Grid) token comes with the workspace its calls must name.
        token, scope = token if isinstance(token, tuple) else (token, None)
        if not token:
            raise RuntimeError(f"no bot token for workspace {team_id}")
        with self._lock:
            gw = self._by_token.get((token, scope))
            if gw is None:
                gw = self._by_token[(token, scope)] = SlackGateway(
                    token, self.settings.slack_api_url, team_id=scope
                )
            return gw


def build_core(settings: Settings, clock: Clock | None = None, db: Database | None = None) -> Core:
    """Single-workspace mode uses SLACK_BOT_TOKEN; with SLACK_CLIENT_ID/SECRET, tokens come from
    the installations made through OAuth, refreshed when they rotate."""
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
    return Core(
        settings=settings,
        db=db,
        clock=clock or SystemClock(),
        gateway_for=GatewayCache(settings, token_for),
        installations=installations,
        link_key=answer_link_key(settings),
    )


def build_wsgi(core: Core):
    """The whole HTTP surface: health checks, and Slack events behind the guard."""
    from integrations.slack.listeners.app import build_app, wsgi
    from storage.migrate import head_revisions, schema_problem

    heads = head_revisions()
    router = Router(ready=lambda: schema_problem(core.db.engine, heads))
    bolt = build_app(core)
    handler = wsgi(bolt)
    router.mount("/slack/events", SlackGuard(handler, core.settings.slack_signing_secret or ""))
    if core.installations is not None:
        router.mount("/slack/install", handler)
        router.mount("/slack/oauth_redirect", handler)
    return router
