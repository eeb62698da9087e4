"""Every form's submission on Slack (the schedule, a new question, the leadership checklist,
"you said, we did"): read from the modal and handed to the core's form table
(``bot.admin.form_table``), whose submit for each form checks the role and the values again. A
form opened from the App Home leaves the Home showing the new state."""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.admin import form_table, forms
from bot.admin.forms import Outcome
from bot.core import Core
from bot.insights import leadership_commands as leadership
from integrations.slack import views

log = logging.getLogger("medpulse.modals")


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


def on_submit(ack, body, view, client, core: Core, team: str, workspace_id: int) -> None:
    user = body["user"]["id"]
    origin = forms.origin_of(view.get("private_metadata"))
    values = views.submitted(view)
    outcome = form_table.submit(core, team, workspace_id, user, view["callback_id"], values, origin)
    answer(ack, outcome or Outcome(notice=forms.done("Form", form_table.UNKNOWN)))
    if outcome is not None and outcome.home_changed:
        _refresh_home(core, client, team, user)


def _refresh_home(core: Core, client, team: str, user: str) -> None:
    from integrations.slack.listeners import home

    try:
        home.publish(core, client, team, user)
    except Exception:  # noqa: BLE001 - the change is saved; a stale Home is only cosmetic
        log.warning("could not refresh the App Home after a modal", exc_info=True)


def register(app: App, core: Core) -> None:
    for form_id in form_table.FORMS:
        app.view(form_id)(on_submit)
