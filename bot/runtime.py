"""Wiring: build the core, the HTTP app and the worker from settings. No globals."""

from __future__ import annotations

import logging
import threading

from bot.clock import Clock, SystemClock
from bot.core import Core
from bot.settings import Settings
from bot.web import Router, SlackGuard
from storage.db import Database

log = logging.getLogger("medpulse")


class GatewayCache:
    """One Slack gateway per workspace token, shared across threads."""

    def __init__(self, settings: Settings, token_for=None) -> None:
        self.settings = settings
        self.token_for = token_for
        self._lock = threading.Lock()
        self._by_token: dict[str, object] = {}

    def __call__(self, team_id: str):
        from bot.slack_client import SlackGateway

        token = self.token_for(team_id) if self.token_for else self.settings.slack_bot_token
        if not token:
            raise RuntimeError(f"no bot token for workspace {team_id}")
        with self._lock:
            gw = self._by_token.get(token)
            if gw is None:
                gw = self._by_token[token] = SlackGateway(token, self.settings.slack_api_url)
            return gw


def build_core(settings: Settings, clock: Clock | None = None, db: Database | None = None) -> Core:
    db = db or Database.connect(settings.database_url)
    return Core(
        settings=settings, db=db, clock=clock or SystemClock(), gateway_for=GatewayCache(settings)
    )


def build_wsgi(core: Core):
    """The whole HTTP surface: health checks, and Slack events behind the guard."""
    from handlers.app import build_app, wsgi

    router = Router(ready=lambda: core.db.ping())
    bolt = build_app(core)
    router.mount("/slack/events", SlackGuard(wsgi(bolt), core.settings.slack_signing_secret or ""))
    return router
