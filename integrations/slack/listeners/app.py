"""Build the Bolt app and mount every listener module (one module per listener kind)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.context import BoltContext
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

from bot.core import Core
from bot.people.workspaces import ensure_team, installed, note_enterprise
from integrations.slack.gateway import BOT_SCOPES
from integrations.slack.listeners import (
    admin_home,
    commands,
    home,
    install,
    modals,
    outage,
    pulse,
    reports,
)
from server.web import PARSED_BODY


def build_app(core: Core) -> App:
    """A Bolt app for HTTP mode (or Socket Mode), with our WebClient pointed at SLACK_API_URL.

    ``process_before_response`` stays off: Bolt acks from the request thread and runs the rest
    of a listener in its worker pool, which is what keeps acks well inside Slack's 3 seconds.
    """
    settings = core.settings
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    extra = _oauth(core) if core.installations is not None else {}
    app = App(
        signing_secret=settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
        client=client,
        token_verification_enabled=False,
        process_before_response=False,
        # Bolt's default is 5 threads; slash commands and taps share them.
        listener_executor=ThreadPoolExecutor(
            max_workers=max(16, 2 * settings.web_threads), thread_name_prefix="bolt-listener"
        ),
        logger=_bolt_logger(),
        **extra,
    )
    app.use(workspace_context(core))  # first: every listener below relies on it
    commands.register(app, core)
    reports.register(app, core)
    pulse.register(app, core)
    home.register(app, core)
    modals.register(app, core)
    admin_home.register(app, core)
    install.register(app, core)
    outage.register(app)
    return app


GONE = ("app_uninstalled", "tokens_revoked")  # a trust leaving is not a trust arriving


def team_of(body: dict, context: BoltContext) -> str | None:
    """The workspace a request acts in: a command's team, an action's or form's team (else
    the user's), an event's team."""
    team = body.get("team")
    user = body.get("user")
    return (
        body.get("team_id")
        or (team.get("id") if isinstance(team, dict) else None)
        or (user.get("team_id") if isinstance(user, dict) else None)
        or context.team_id
    )


def workspace_context(core: Core):
    """A global middleware: every listener gets ``core``, ``team`` and ``workspace_id`` as
    arguments (Bolt injects context keys by name), the workspace created on its first request
    (``ensure_team``, cached per process) rather than by each listener."""

    def attach_workspace(context: BoltContext, body: dict, next) -> None:
        context["core"] = core
        team = team_of(body, context)
        event = body.get("event")
        kind = event.get("type") if isinstance(event, dict) else None
        if team and kind not in GONE:
            context["team"] = team
            context["workspace_id"] = ensure_team(core, team)
        return next()

    return attach_workspace


class TokensAuthorize(Authorize):
    """Bolt's authorize backed by our InstallationTokens, so listeners and the worker share one
    token-rotation path (with its locking) instead of two."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.noted: set[tuple[str, str]] = set()

    def __call__(self, *, context, enterprise_id, team_id, user_id) -> AuthorizeResult | None:
        from integrations.slack.gateway import NotInstalled

        try:
            bot = self.core.installations.bot(team_id, enterprise_id)
        except NotInstalled:
            return None
        if enterprise_id and team_id and (enterprise_id, team_id) not in self.noted:
            note_enterprise(self.core, team_id, enterprise_id)  # the worker looks tokens up by it
            self.noted.add((enterprise_id, team_id))
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=bot.bot_token,
            bot_user_id=bot.bot_user_id,
            bot_id=bot.bot_id,
            user_id=user_id,
        )


def _oauth(core: Core) -> dict:
    """Multi-workspace mode: /slack/install and /slack/oauth_redirect, stores on our database."""
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    settings = core.settings
    state_store = SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=core.db.engine)
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        installation_store=core.installations.store,
        state_store=state_store,
        install_path="/slack/install",
        redirect_uri_path="/slack/oauth_redirect",
        installation_store_bot_only=True,
        callback_options=CallbackOptions(success=_installed(core), failure=_install_failed),
    )
    return {"oauth_settings": oauth, "authorize": TokensAuthorize(core)}


def _installed(core: Core):
    """After an install: create the workspace; the installer becomes its first admin only if it
    has none (bot.people.workspaces.installed), so re-installing grants nothing."""

    def success(args: SuccessArgs) -> BoltResponse:
        inst = args.installation
        for team_id in install_teams(core, inst):
            installed(core, team_id, inst.user_id, inst.enterprise_id)
        return args.default.success(args)

    return success


def install_teams(core: Core, inst) -> list[str]:
    """The workspaces an install covers: its own team (an org-wide Grid install names none;
    its workspaces appear as their first requests arrive, see ``TokensAuthorize``)."""
    return [inst.team_id] if inst.team_id else []


def _install_failed(args: FailureArgs) -> BoltResponse:
    return args.default.failure(args)


def _bolt_logger() -> logging.Logger:
    """Bolt's logger, minus its note that SLACK_BOT_TOKEN in the environment is unused: we hand
    it a client that already carries the token (and our SLACK_API_URL)."""
    logger = logging.getLogger("medpulse.bolt")
    if not logger.filters:
        logger.addFilter(lambda record: "will be unused" not in record.getMessage())
    return logger


def wsgi(app: App) -> SlackRequestHandler:
    return _GuardedHandler(app, path="/slack/events")


class _ParsedRequest(BoltRequest):
    """A BoltRequest over a body the guard (server.web) has already verified and parsed.

    ``raw_body`` stays the exact bytes Slack signed, so Bolt's own signature check still runs.
    """

    def __init__(self, raw: str, parsed: dict, query: str, headers: dict) -> None:
        super().__init__(body="", query=query, headers=headers)
        self.raw_body = raw
        self.body = parsed
        self.context = build_context(BoltContext({}), parsed)


class _GuardedHandler(SlackRequestHandler):
    """Bolt's WSGI adapter, taking the guard's parse instead of parsing the body again."""

    def dispatch(self, request) -> BoltResponse:
        parsed = request.environ.get(PARSED_BODY)
        if parsed is None:  # not through the guard (the OAuth pages)
            return super().dispatch(request)
        req = _ParsedRequest(
            request.get_body(), parsed, request.query_string, request.get_headers()
        )
        return self.app.dispatch(req)


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
