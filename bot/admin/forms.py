"""The admin forms: the schedule and add-a-question, built and checked here.

A form can be opened from ``/pulse schedule`` / ``/pulse questions add`` or from a Home button;
either way its submission is checked again here (the role in ``bot.people.authz``, the values
in ``bot.admin.schedule`` / ``bot.admin.questions``), because a submitted form is only what the
client sent. Field problems go back against the field, so the admin fixes them in place; a good
submission is answered with a short notice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot.admin import questions as question_admin
from bot.admin import schedule as schedules
from bot.admin.operations import AdminError
from bot.chat.forms import Form, Input, Notice
from bot.core import Core
from bot.people import authz
from bot.rounds import slots
from questions.grades import GRADES
from questions.grades import LABELS as GRADE_LABELS
from questions.themes import LABELS as THEME_LABELS

SCHEDULE_FORM = "admin_schedule"
QUESTION_FORM = "admin_add_question"

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

# The schedule form's field for each schedule setting, so errors land on the right input.
SCHEDULE_FIELDS = {
    "cadence": "cadence",
    "weekday": "weekday",
    "local_time": "time",
    "timezone": "timezone",
    "questions_per_pulse": "questions",
    "reminder_after_hours": "reminder",
    "close_after_days": "close",
}
QUESTION_FIELDS = ("text", "scale", "theme", "audience", "help")

Values = dict[str, "str | list[str] | None"]


@dataclass(frozen=True)
class Outcome:
    """What a submitted form becomes: problems against fields (nothing saved), or a notice
    (saved, or refused); ``home_changed`` when a Home showing the old state should be redrawn."""

    errors: dict[str, str] = field(default_factory=dict)
    notice: Notice | None = None
    home_changed: bool = False


def origin_of(private_metadata: str | None) -> str:
    """Where the form was opened from ("home" or "command")."""
    try:
        return json.loads(private_metadata or "{}").get("from", "command")
    except (ValueError, AttributeError):
        return "command"


def refused(action: str) -> Outcome:
    return Outcome(notice=done("Not allowed", authz.refusal(action)))


def done(title: str, text: str) -> Notice:
    return Notice(title, (text,), close="Done")


def schedule_form(snap: schedules.Snapshot, origin: str = "command") -> Form:
    """The schedule form, filled in with the current values."""
    st = snap.settings
    zones = list(COMMON_ZONES) if st.timezone in COMMON_ZONES else [st.timezone, *COMMON_ZONES]
    lo, hi = schedules.QUESTIONS_RANGE
    fields = (
        Input(
            "cadence",
            "How often",
            kind="choice",
            options=tuple(CADENCE_LABELS.items()),
            value=st.cadence,
            hint="Monthly means the first chosen weekday of each month.",
        ),
        Input(
            "weekday",
            "Day",
            kind="choice",
            options=tuple((str(i), n) for i, n in enumerate(slots.WEEKDAY_NAMES)),
            value=str(st.weekday),
        ),
        Input("time", "Time (in the time zone below)", kind="time", value=st.local_time),
        Input(
            "timezone",
            "Time zone",
            kind="choice",
            options=tuple((z, z) for z in zones),
            value=st.timezone,
        ),
        Input(
            "questions",
            "Questions per pulse",
            kind="choice",
            options=tuple((str(n), str(n)) for n in range(lo, hi + 1)),
            value=str(st.questions_per_pulse),
            hint="Plus the headline question. Fewer questions, more answers.",
        ),
        Input(
            "reminder",
            "Reminder after (hours, 0 = no reminder)",
            kind="number",
            value=str(st.reminder_after_hours),
            lo=schedules.REMINDER_RANGE[0],
            hi=schedules.REMINDER_RANGE[1],
        ),
        Input(
            "close",
            "Close the round after (days)",
            kind="number",
            value=str(st.close_after_days),
            lo=schedules.CLOSE_RANGE[0],
            hi=schedules.CLOSE_RANGE[1],
        ),
    )
    return Form(
        form_id=SCHEDULE_FORM,
        title="Pulse schedule",
        fields=fields,
        submit="Save",
        intro=f"*Now:* {snap.description}\n*Next round:* {snap.next_round_text}",
        private_metadata=json.dumps({"from": origin}),
    )


def question_form(origin: str = "command") -> Form:
    """The add-a-question form (validated like the shipped bank on submit)."""
    fields = (
        Input(
            "text",
            "Question",
            max_length=150,
            placeholder="In my department, I have time to lead improvement.",
            hint="One line a doctor can answer in five seconds, from their own experience.",
        ),
        Input(
            "scale",
            "Answer scale",
            kind="choice",
            options=tuple(SCALE_LABELS.items()),
            value="agree5",
        ),
        Input("theme", "Theme (for trends)", kind="choice", options=tuple(THEME_LABELS.items())),
        Input(
            "audience",
            "Ask only (leave empty for all doctors)",
            kind="choices",
            options=tuple((g, GRADE_LABELS[g]) for g in GRADES),
            optional=True,
        ),
        Input("help", "Help text (optional)", max_length=150, optional=True),
    )
    return Form(
        form_id=QUESTION_FORM,
        title="Add a question",
        fields=fields,
        submit="Add",
        private_metadata=json.dumps({"from": origin}),
    )


# ------------------------------------------------------------------ reading a submission


def _text(values: Values, name: str) -> str | None:
    value = values.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _int(values: Values, name: str, errors: dict, what: str) -> int | None:
    raw = _text(values, name)
    if raw is None:
        errors[name] = f"enter {what}"
        return None
    try:
        return int(raw)
    except ValueError:
        errors[name] = f"{what} must be a whole number"
        return None


def schedule_change(values: Values) -> tuple[schedules.Change, dict[str, str]]:
    """The form's values as a Change, plus any errors already visible (by field)."""
    errors: dict[str, str] = {}
    weekday = _text(values, "weekday")
    change = schedules.Change(
        cadence=_text(values, "cadence"),
        weekday=int(weekday) if weekday is not None and weekday.isdigit() else None,
        local_time=_text(values, "time"),
        timezone=_text(values, "timezone"),
        questions_per_pulse=_int(values, "questions", errors, "questions per pulse"),
        reminder_after_hours=_int(values, "reminder", errors, "the reminder hours"),
        close_after_days=_int(values, "close", errors, "the days before closing"),
    )
    return change, errors


def submit_schedule(core: Core, team: str, user: str, values: Values, origin: str) -> Outcome:
    if not authz.permits(core, team, user, "schedule"):
        return refused("schedule")
    change, errors = schedule_change(values)
    if errors:  # unreadable numbers: save nothing, point at the field
        return Outcome(errors=errors)
    try:
        result = schedules.update(core, team, user, change)
    except schedules.ScheduleError as exc:
        return Outcome(errors={SCHEDULE_FIELDS.get(k, k): v for k, v in exc.errors.items()})
    except AdminError as exc:
        return Outcome(notice=done("Schedule", f"⚠️ {exc}"))
    after = result.after
    text = (
        f"✅ *Saved.* {after.description}\n*Next round:* {after.next_round_text}"
        if result.changed
        else f"Nothing changed. {after.description}\n*Next round:* {after.next_round_text}"
    )
    return Outcome(notice=done("Pulse schedule", text), home_changed=origin == "home")


def submit_question(core: Core, team: str, user: str, values: Values, origin: str) -> Outcome:
    if not authz.permits(core, team, user, "questions"):
        return refused("questions")
    audience = values.get("audience")
    try:
        key = question_admin.add_custom(
            core,
            team,
            user,
            text=_text(values, "text") or "",
            scale=_text(values, "scale") or "",
            theme=_text(values, "theme") or "",
            audience=[a for a in audience if a] if isinstance(audience, list) else [],
            help_text=_text(values, "help"),
        )
    except question_admin.ItemError as exc:
        return Outcome(
            errors={(k if k in QUESTION_FIELDS else "text"): v for k, v in exc.errors.items()}
        )
    except AdminError as exc:
        return Outcome(notice=done("Add a question", f"⚠️ {exc}"))
    text = (
        f"✅ Added as `{key}`. It joins the rotation from the next round.\n"
        f"Turn it off any time with `/pulse questions disable {key}`."
    )
    return Outcome(notice=done("Question added", text), home_changed=origin == "home")
