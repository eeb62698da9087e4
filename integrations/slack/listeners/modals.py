"""Admin modals: the schedule form and the add-a-question form.

A modal can be opened from ``/pulse schedule`` / ``/pulse questions add`` or from an App Home
button; either way the submission is checked again here (authorisation in ``bot.people.authz``, values
in ``bot.admin.schedule`` / ``bot.admin.questions``), because a view payload is only what the client
sent. Field problems go back as ``response_action: errors`` against the field, so the admin
fixes them in place; a good submission is answered with a short confirmation view.
"""

from __future__ import annotations

import json
import logging

from slack_bolt import App

from bot.admin import questions as question_admin
from bot.admin import schedule as schedules
from bot.admin.operations import AdminError
from bot.core import Core
from bot.people import authz
from bot.rounds import slots
from questions.grades import GRADES
from questions.grades import LABELS as GRADE_LABELS
from questions.themes import LABELS as THEMES

log = logging.getLogger("medpulse.modals")

SCHEDULE_VIEW = "admin_schedule"
QUESTION_VIEW = "admin_add_question"

COMMON_ZONES = (
    "Europe/London",
    "Europe/Dublin",
    "Europe/Isle_of_Man",
    "Europe/Jersey",
    "Europe/Guernsey",
    "Atlantic/Stanley",
    "Europe/Gibraltar",
    "UTC",
)
SCALE_LABELS = {
    "agree5": "Agree / disagree (5 points)",
    "scale0_10": "0 to 10",
    "yes_no_unsure": "Yes / no / unsure",
}
CADENCE_LABELS = {"weekly": "Every week", "fortnightly": "Every other week", "monthly": "Monthly"}

# Modal block ids, one per schedule field, so errors land on the right input.
SCHEDULE_BLOCKS = {
    "cadence": "cadence",
    "weekday": "weekday",
    "local_time": "time",
    "timezone": "timezone",
    "questions_per_pulse": "questions",
    "reminder_after_hours": "reminder",
    "close_after_days": "close",
}
QUESTION_BLOCKS = {
    "text": "text",
    "scale": "scale",
    "theme": "theme",
    "audience": "audience",
    "help": "help",
}


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def _option(label: str, value: str) -> dict:
    return {"text": _plain(label[:75]), "value": value}


def _select(action_id: str, options: list[dict], initial: str | None) -> dict:
    el: dict = {"type": "static_select", "action_id": action_id, "options": options}
    chosen = [o for o in options if o["value"] == initial]
    if chosen:
        el["initial_option"] = chosen[0]
    return el


def _input(block_id: str, label: str, element: dict, hint: str | None = None, optional=False):
    block = {"type": "input", "block_id": block_id, "label": _plain(label), "element": element}
    if hint:
        block["hint"] = _plain(hint)
    if optional:
        block["optional"] = True
    return block


def _number(action_id: str, value: int, lo: int, hi: int) -> dict:
    return {
        "type": "number_input",
        "action_id": action_id,
        "is_decimal_allowed": False,
        "initial_value": str(value),
        "min_value": str(lo),
        "max_value": str(hi),
    }


def _meta(origin: str) -> str:
    return json.dumps({"from": origin})


def schedule_view(snap: schedules.Snapshot, origin: str = "command") -> dict:
    """The schedule form, filled in with the current values."""
    st = snap.settings
    zones = list(COMMON_ZONES) if st.timezone in COMMON_ZONES else [st.timezone, *COMMON_ZONES]
    blocks = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*Now:* {snap.description}\n*Next round:* {snap.next_round_text}",
            },
        },
        _input(
            "cadence",
            "How often",
            _select("cadence", [_option(v, k) for k, v in CADENCE_LABELS.items()], st.cadence),
            "Monthly means the first chosen weekday of each month.",
        ),
        _input(
            "weekday",
            "Day",
            _select(
                "weekday",
                [_option(n, str(i)) for i, n in enumerate(slots.WEEKDAY_NAMES)],
                str(st.weekday),
            ),
        ),
        _input(
            "time",
            "Time (in the time zone below)",
            {"type": "timepicker", "action_id": "time", "initial_time": st.local_time},
        ),
        _input(
            "timezone",
            "Time zone",
            _select("timezone", [_option(z, z) for z in zones], st.timezone),
        ),
        _input(
            "questions",
            "Questions per pulse",
            _select(
                "questions",
                [
                    _option(str(n), str(n))
                    for n in range(schedules.QUESTIONS_RANGE[0], schedules.QUESTIONS_RANGE[1] + 1)
                ],
                str(st.questions_per_pulse),
            ),
            "Plus the headline question. Fewer questions, more answers.",
        ),
        _input(
            "reminder",
            "Reminder after (hours, 0 = no reminder)",
            _number("reminder", st.reminder_after_hours, *schedules.REMINDER_RANGE),
        ),
        _input(
            "close",
            "Close the round after (days)",
            _number("close", st.close_after_days, *schedules.CLOSE_RANGE),
        ),
    ]
    return {
        "type": "modal",
        "callback_id": SCHEDULE_VIEW,
        "private_metadata": _meta(origin),
        "title": _plain("Pulse schedule"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def question_view(origin: str = "command") -> dict:
    """The add-a-question form (validated like the shipped bank on submit)."""
    blocks = [
        _input(
            "text",
            "Question",
            {
                "type": "plain_text_input",
                "action_id": "text",
                "max_length": 150,
                "placeholder": _plain("In my department, I have time to lead improvement."),
            },
            "One line a doctor can answer in five seconds, from their own experience.",
        ),
        _input(
            "scale",
            "Answer scale",
            _select("scale", [_option(v, k) for k, v in SCALE_LABELS.items()], "agree5"),
        ),
        _input(
            "theme",
            "Theme (for trends)",
            _select("theme", [_option(v, k) for k, v in THEMES.items()], None),
        ),
        _input(
            "audience",
            "Ask only (leave empty for all doctors)",
            {
                "type": "multi_static_select",
                "action_id": "audience",
                "options": [_option(GRADE_LABELS[g], g) for g in GRADES],
            },
            optional=True,
        ),
        _input(
            "help",
            "Help text (optional)",
            {"type": "plain_text_input", "action_id": "help", "max_length": 150},
            optional=True,
        ),
    ]
    return {
        "type": "modal",
        "callback_id": QUESTION_VIEW,
        "private_metadata": _meta(origin),
        "title": _plain("Add a question"),
        "submit": _plain("Add"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def done_view(title: str, text: str) -> dict:
    return {
        "type": "modal",
        "title": _plain(title[:24]),
        "close": _plain("Done"),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


# ------------------------------------------------------------------ reading a submission


def _state(view: dict, block: str) -> dict:
    return (view.get("state", {}).get("values", {}).get(block) or {}).get(block) or {}


def _selected(view: dict, block: str) -> str | None:
    opt = _state(view, block).get("selected_option")
    return opt.get("value") if opt else None


def _text(view: dict, block: str) -> str | None:
    value = _state(view, block).get("value")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _int(view: dict, block: str, errors: dict, what: str) -> int | None:
    raw = _text(view, block) or _selected(view, block)
    if raw is None:
        errors[block] = f"enter {what}"
        return None
    try:
        return int(raw)
    except ValueError:
        errors[block] = f"{what} must be a whole number"
        return None


def schedule_change(view: dict) -> tuple[schedules.Change, dict[str, str]]:
    """The form's values as a Change, plus any errors already visible (by block id)."""
    errors: dict[str, str] = {}
    weekday = _selected(view, "weekday")
    change = schedules.Change(
        cadence=_selected(view, "cadence"),
        weekday=int(weekday) if weekday is not None and weekday.isdigit() else None,
        local_time=_state(view, "time").get("selected_time") or _text(view, "time"),
        timezone=_selected(view, "timezone") or _text(view, "timezone"),
        questions_per_pulse=_int(view, "questions", errors, "questions per pulse"),
        reminder_after_hours=_int(view, "reminder", errors, "the reminder hours"),
        close_after_days=_int(view, "close", errors, "the days before closing"),
    )
    return change, errors


def _origin(view: dict) -> str:
    try:
        return json.loads(view.get("private_metadata") or "{}").get("from", "command")
    except ValueError:
        return "command"


def _allowed(core: Core, team: str, user: str, action: str) -> bool:
    return authz.permits(core, team, user, action)


def _refused(ack, action: str) -> None:
    ack(response_action="update", view=done_view("Not allowed", authz.refusal(action)))


def register(app: App, core: Core) -> None:
    @app.view(SCHEDULE_VIEW)
    def on_schedule(ack, body, view, client):
        team, user = body["team"]["id"], body["user"]["id"]
        if not _allowed(core, team, user, "schedule"):
            _refused(ack, "schedule")
            return
        change, errors = schedule_change(view)
        if errors:  # unreadable numbers: save nothing, point at the field
            ack(response_action="errors", errors=errors)
            return
        try:
            result = schedules.update(core, team, user, change)
        except schedules.ScheduleError as exc:
            errors = {SCHEDULE_BLOCKS.get(k, k): v for k, v in exc.errors.items()}
            ack(response_action="errors", errors=errors)
            return
        except AdminError as exc:
            ack(response_action="update", view=done_view("Schedule", f"⚠️ {exc}"))
            return
        after = result.after
        text = (
            f"✅ *Saved.* {after.description}\n*Next round:* {after.next_round_text}"
            if result.changed
            else f"Nothing changed. {after.description}\n*Next round:* {after.next_round_text}"
        )
        ack(response_action="update", view=done_view("Pulse schedule", text))
        _refresh_home(core, client, team, user, _origin(view))

    @app.view(QUESTION_VIEW)
    def on_question(ack, body, view, client):
        team, user = body["team"]["id"], body["user"]["id"]
        if not _allowed(core, team, user, "questions"):
            _refused(ack, "questions")
            return
        audience = [o["value"] for o in _state(view, "audience").get("selected_options") or []]
        try:
            key = question_admin.add_custom(
                core,
                team,
                user,
                text=_text(view, "text") or "",
                scale=_selected(view, "scale") or "",
                theme=_selected(view, "theme") or "",
                audience=audience,
                help_text=_text(view, "help"),
            )
        except question_admin.ItemError as exc:
            errors = {QUESTION_BLOCKS.get(k, "text"): v for k, v in exc.errors.items()}
            ack(response_action="errors", errors=errors)
            return
        except AdminError as exc:
            ack(response_action="update", view=done_view("Add a question", f"⚠️ {exc}"))
            return
        ack(
            response_action="update",
            view=done_view(
                "Question added",
                f"✅ Added as `{key}`. It joins the rotation from the next round.\n"
                f"Turn it off any time with `/pulse questions disable {key}`.",
            ),
        )
        _refresh_home(core, client, team, user, _origin(view))


def _refresh_home(core: Core, client, team: str, user: str, origin: str) -> None:
    """A modal opened from the App Home leaves the Home showing the new state."""
    if origin != "home":
        return
    from integrations.slack.listeners import home

    try:
        home.publish(core, client, team, user)
    except Exception:  # noqa: BLE001 - the change is saved; a stale Home is only cosmetic
        log.warning("could not refresh the App Home after a modal", exc_info=True)
