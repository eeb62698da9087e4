"""Every form a command can open, by its form ID: how to build it and how to take it back.

A platform that cannot keep a form open between the command and the click (a Teams dialog is
opened later, by whoever clicks the card's button, perhaps not the person who typed the
command) asks here: ``build`` draws the form afresh for the person opening it (today's
schedule, today's departments), after checking their role; ``submit`` hands the values to the
form's own submit in ``bot.admin.forms`` or ``bot.insights.leadership_commands``, which checks
the role again. One table, so a new form cannot be added to a command and forgotten here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.admin import forms
from bot.admin import schedule as schedules
from bot.admin.forms import Outcome, Values
from bot.admin.operations import AdminError
from bot.chat.forms import Form
from bot.core import Core
from bot.insights import leadership_commands as leadership
from bot.people import authz

UNKNOWN = "Sorry, I don't know that form (it may be from an older version of medpulse). Nothing was changed."


@dataclass(frozen=True)
class Opened:
    """``build``'s answer: the form, or one line saying why it cannot be opened."""

    form: Form | None = None
    refusal: str | None = None


@dataclass(frozen=True)
class FormSpec:
    """``action``: the authz entry opening and submitting it needs; ``saved``: the line a
    submission that returns neither errors nor a notice is answered with."""

    action: str
    draw: Callable[[Core, str, int], Form]
    take: Callable[[Core, str, int, str, Values, str], Outcome]  # ..., values, origin
    saved: str = "✅ Saved."


def _schedule(core: Core, team: str, _workspace_id: int) -> Form:
    return forms.schedule_form(schedules.read(core, team))


def _question(_core: Core, _team: str, _workspace_id: int) -> Form:
    return forms.question_form()


def _checklist(_core: Core, _team: str, _workspace_id: int) -> Form:
    return leadership.checklist_form()


def _action(core: Core, _team: str, workspace_id: int) -> Form:
    return leadership.action_form(leadership.department_names(core, workspace_id))


FORMS: dict[str, FormSpec] = {
    forms.SCHEDULE_FORM: FormSpec(
        "schedule",
        _schedule,
        lambda core, team, _ws, user, values, origin: forms.submit_schedule(
            core, team, user, values, origin
        ),
    ),
    forms.QUESTION_FORM: FormSpec(
        "questions",
        _question,
        lambda core, team, _ws, user, values, origin: forms.submit_question(
            core, team, user, values, origin
        ),
    ),
    leadership.CHECKLIST_FORM: FormSpec(
        "checklist",
        _checklist,
        lambda core, team, ws, user, values, _origin: leadership.submit_checklist(
            core, team, ws, user, values
        ),
        saved="✅ Your checklist ratings are saved. `gap` shows them beside doctors' scores.",
    ),
    leadership.ACTION_FORM: FormSpec(
        "action",
        _action,
        lambda core, team, ws, user, values, _origin: leadership.submit_action(
            core, team, ws, user, values
        ),
        saved="✅ Recorded. Doctors see it under “You said, we did”.",
    ),
}


def known(form_id: str) -> bool:
    return form_id in FORMS


def build(core: Core, team: str, workspace_id: int, user: str, form_id: str) -> Opened:
    """The form for ``user`` to fill in now, or why not (an unknown form, their role, a
    trust not set up yet)."""
    spec = FORMS.get(form_id)
    if spec is None:
        return Opened(refusal=UNKNOWN)
    if not authz.permits(core, team, user, spec.action):
        return Opened(refusal=authz.refusal(spec.action))
    try:
        return Opened(form=spec.draw(core, team, workspace_id))
    except AdminError as exc:
        return Opened(refusal=f"⚠️ {exc}")


def shape(core: Core, team: str, workspace_id: int, form_id: str) -> Form | None:
    """The form as it is now, to read a submission by and to draw it again with its errors.
    No role check: nothing is shown from it until the form's own submit has checked the role."""
    spec = FORMS.get(form_id)
    return None if spec is None else spec.draw(core, team, workspace_id)


def submit(
    core: Core,
    team: str,
    workspace_id: int,
    user: str,
    form_id: str,
    values: Values,
    origin: str = "command",
) -> Outcome | None:
    """The form's own submit (which checks the role again); None for an unknown form.
    ``origin`` is where the form was opened ("command" or "home": a Home showing the old
    state is then redrawn)."""
    spec = FORMS.get(form_id)
    if spec is None:
        return None
    return spec.take(core, team, workspace_id, user, values, origin)


def saved_line(form_id: str) -> str:
    spec = FORMS.get(form_id)
    return spec.saved if spec else "✅ Saved."
