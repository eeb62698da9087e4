"""The admin forms on Slack (schedule, add a question): submissions read and handed to the
core (``bot.admin.forms``), which checks the role and the values again; a form opened from the
App Home leaves the Home showing the new state."""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.admin import forms
from bot.core import Core
from integrations.slack import views
from integrations.slack.listeners.leadership import answer

log = logging.getLogger("medpulse.modals")

SCHEDULE_VIEW = forms.SCHEDULE_FORM
QUESTION_VIEW = forms.QUESTION_FORM


def on_schedule(ack, body, view, client, core: Core, team: str) -> None:
    user = body["user"]["id"]
    origin = forms.origin_of(view.get("private_metadata"))
    outcome = forms.submit_schedule(core, team, user, views.submitted(view), origin)
    answer(ack, outcome)
    if outcome.home_changed:
        _refresh_home(core, client, team, user)


def on_question(ack, body, view, client, core: Core, team: str) -> None:
    user = body["user"]["id"]
    origin = forms.origin_of(view.get("private_metadata"))
    outcome = forms.submit_question(core, team, user, views.submitted(view), origin)
    answer(ack, outcome)
    if outcome.home_changed:
        _refresh_home(core, client, team, user)


def _refresh_home(core: Core, client, team: str, user: str) -> None:
    from integrations.slack.listeners import home

    try:
        home.publish(core, client, team, user)
    except Exception:  # noqa: BLE001 - the change is saved; a stale Home is only cosmetic
        log.warning("could not refresh the App Home after a modal", exc_info=True)


def register(app: App, core: Core) -> None:
    app.view(SCHEDULE_VIEW)(on_schedule)
    app.view(QUESTION_VIEW)(on_question)
