"""The admin part of a home: status at a glance, and buttons for the common actions.

Shown only to those ``bot.people.authz`` lets see it ("admin-home"). Every button asks again
before acting (``press``): a home can outlive the role of the person looking at it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.admin import forms, status
from bot.admin import operations as admin
from bot.admin import schedule as schedules
from bot.admin.operations import AdminError
from bot.admin.setup_commands import pause_reply
from bot.chat.forms import Button, Confirm, Form
from bot.core import Core
from bot.people import authz

HOME_ACTION = "admin-home"  # the authz entry for seeing this part
ACTIONS = {
    "admin_send_now": "send",
    "admin_pause": "pause",
    "admin_resume": "resume",
    "admin_edit_schedule": "schedule",
    "admin_add_question": "questions",
}
MORE = "More: `/pulse help` · `/pulse questions` · `/pulse audit`"
SEND_CONFIRM = Confirm(
    "Send a pulse now?",
    "Every doctor in the audience gets a pulse DM straight away, even outside usual hours.",
    "Send now",
)


@dataclass(frozen=True)
class AdminPart:
    lines: tuple[str, ...]
    buttons: tuple[Button, ...]  # none until an audience is set
    more: str = MORE


def part(core: Core, team: str, user: str) -> AdminPart | None:
    """The admin part for an admin; None for anyone else."""
    if not authz.permits(core, team, user, HOME_ACTION):
        return None
    st = status.status(core, team)
    buttons: tuple[Button, ...] = ()
    if st.configured:
        toggle = (
            Button("admin_resume", "Resume", primary=True)
            if st.paused
            else Button("admin_pause", "Pause")
        )
        buttons = (
            Button("admin_send_now", "Send now", primary=True, confirm=SEND_CONFIRM),
            toggle,
            Button("admin_edit_schedule", "Edit schedule"),
            Button("admin_add_question", "Add a question"),
        )
    return AdminPart(tuple(status.lines(st)), buttons)


@dataclass(frozen=True)
class Pressed:
    """What pressing an admin button led to: a notice for the home, or a form to open."""

    notice: str | None = None
    form: Form | None = None


def press(core: Core, team: str, user: str, action_id: str) -> Pressed:
    """Check the role for this button, then act. Platform refusals are the caller's to word."""
    need = ACTIONS[action_id]
    if not authz.permits(core, team, user, need):
        return Pressed(authz.refusal(need))
    try:
        return _press(core, team, user, action_id)
    except AdminError as exc:
        return Pressed(f"⚠️ {exc}")


def _press(core: Core, team: str, user: str, action_id: str) -> Pressed:
    if action_id == "admin_send_now":
        res = admin.send_now(core, team, user)
        if not res.round.created:
            return Pressed(f"⚠️ No round was started: {res.round.reason}.")
        return Pressed(f"✅ Round started: sending to {res.round.invited} doctors now.")
    if action_id in ("admin_pause", "admin_resume"):
        return Pressed(pause_reply(core, team, user, action_id == "admin_pause", home=True))
    if action_id == "admin_edit_schedule":
        return Pressed(form=forms.schedule_form(schedules.read(core, team), origin="home"))
    return Pressed(form=forms.question_form(origin="home"))
