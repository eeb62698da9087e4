"""Build the Bolt app and mount every listener module (one module per listener kind)."""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from bot.core import Core
from handlers import commands, home, pulse


def build_app(core: Core) -> App:
    """A Bolt app for HTTP mode (or Socket Mode), with our WebClient pointed at SLACK_API_URL.

    ``process_before_response`` stays off: Bolt acks from the request thread and runs the rest
    of a listener in its worker pool, which is what keeps acks well inside Slack's 3 seconds.
    """
    settings = core.settings
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    app = App(
        signing_secret=settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
        client=client,
        token_verification_enabled=False,
        process_before_response=False,
        logger=logging.getLogger("medpulse.bolt"),
    )
    commands.register(app, core)
    pulse.register(app, core)
    home.register(app, core)
    return app


def wsgi(app: App) -> SlackRequestHandler:
    return SlackRequestHandler(app, path="/slack/events")


class SocketModeListener:
    """Socket Mode (SLACK_APP_TOKEN set): no public URL needed; same listeners as HTTP."""

    def __init__(self, core: Core) -> None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        self.handler = SocketModeHandler(build_app(core), core.settings.slack_app_token)

    def start(self) -> SocketModeListener:
        self.handler.connect()
        return self

    def stop(self) -> None:
        self.handler.close()


def socket_mode(core: Core) -> SocketModeListener:
    return SocketModeListener(core).start()
