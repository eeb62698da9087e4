"""The App Home on Slack: drawn from the core's ``bot.people.home.Home`` and published; the
doctor's choices on it handed to the core, then the Home redrawn."""

from __future__ import annotations

from slack_bolt import App

from bot.core import Core
from bot.people import home as homes
from integrations.slack import views


def publish(core: Core, client, team: str, user: str, notice: str | None = None) -> None:
    """Draw and publish one person's Home (the admin part only for admins)."""
    client.views_publish(user_id=user, view=views.home(homes.home(core, team, user, notice)))


def on_home(event, client, core: Core, team: str) -> None:
    if event.get("tab", "home") != "home":
        return
    publish(core, client, team, event["user"])


def on_choice(ack, body, action, client, core: Core, team: str) -> None:
    """Opt out or in, or a time, department or grade chosen: stored, then the Home redrawn."""
    ack()
    user = body["user"]["id"]
    chosen = (action.get("selected_option") or {}).get("value")
    homes.choose(core, team, user, action["action_id"], chosen)
    publish(core, client, team, user)


def register(app: App, core: Core) -> None:
    app.event("app_home_opened")(on_home)
    for action_id in ("home_optout", "home_optin", "home_window", "home_department", "home_grade"):
        app.action(action_id)(on_choice)
