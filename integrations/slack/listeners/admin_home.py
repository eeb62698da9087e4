"""The admin part of the App Home on Slack: its buttons handed to the core (``bot.admin.home``
checks the role again and acts), then the Home redrawn with what happened, or a form opened."""

from __future__ import annotations

from slack_bolt import App

from bot.admin import home as admin_home
from bot.core import Core
from integrations.slack import views
from integrations.slack.gateway import ChatError

ACTIONS = admin_home.ACTIONS


def on_button(ack, body, action, client, core: Core, team: str) -> None:
    """Ack at once, let the core check the role and act, then show the outcome."""
    from integrations.slack.listeners import home

    ack()
    user = body["user"]["id"]
    try:
        pressed = admin_home.press(core, team, user, action["action_id"])
        if pressed.form is not None:
            core.gateway(team).open_view(body["trigger_id"], views.modal(pressed.form))
            return
        notice = pressed.notice
    except ChatError as exc:
        notice = f"⚠️ Slack refused that ({exc.error})."
    home.publish(core, client, team, user, notice=notice)


def register(app: App, core: Core) -> None:
    for action_id in ACTIONS:
        app.action(action_id)(on_button)
