"""The leadership checklist and "you said, we did" forms on Slack: drawn from the core's forms
(``bot.insights.leadership_commands``), their submissions read and handed back to it."""

from __future__ import annotations

from slack_bolt import App

from bot.admin.forms import Outcome
from bot.core import Core
from bot.insights import leadership_commands as leadership
from integrations.slack import views

CHECKLIST_VIEW = leadership.CHECKLIST_FORM
ACTION_VIEW = leadership.ACTION_FORM


def checklist_modal() -> dict:
    return views.modal(leadership.checklist_form())


def action_modal(departments: list[str]) -> dict:
    return views.modal(leadership.action_form(departments))


def answer(ack, outcome: Outcome) -> None:
    """Ack a form submission with what the core decided: errors against fields, a notice in
    the form's place, or (neither) close it."""
    if outcome.errors:
        ack(**views.errors(outcome.errors))
    elif outcome.notice is not None:
        ack(response_action="update", view=views.modal(outcome.notice))
    else:
        ack()


def on_checklist(ack, body, view, core: Core, team: str, workspace_id: int) -> None:
    values = views.submitted(view)
    answer(ack, leadership.submit_checklist(core, team, workspace_id, body["user"]["id"], values))


def on_action(ack, body, view, core: Core, team: str, workspace_id: int) -> None:
    values = views.submitted(view)
    answer(ack, leadership.submit_action(core, team, workspace_id, body["user"]["id"], values))


def register(app: App, core: Core) -> None:
    app.view(CHECKLIST_VIEW)(on_checklist)
    app.view(ACTION_VIEW)(on_action)
