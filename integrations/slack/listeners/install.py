"""Slack telling us a trust has gone: ``app_uninstalled`` and ``tokens_revoked`` (bot tokens).

Both are sent by Slack itself (signature-checked, no person acts, so no role applies: see
``bot.people.authz.LISTENERS``); ``bot.people.uninstall`` deletes the tokens and stops the trust's rounds.
"""

from __future__ import annotations

from slack_bolt import App

from bot.core import Core
from bot.people import uninstall


def register(app: App, core: Core) -> None:
    def stop(context) -> None:
        uninstall.uninstalled(
            core,
            context.team_id,
            context.enterprise_id,
            org_wide=bool(context.is_enterprise_install),
        )

    @app.event("app_uninstalled")
    def on_uninstalled(context):
        stop(context)

    @app.event("tokens_revoked")
    def on_tokens_revoked(event, context):
        if (event.get("tokens") or {}).get("bot"):  # user tokens alone: we hold none
            stop(context)
