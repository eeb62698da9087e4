"""Reading and changing an audience's schedule, with validation, audit and a "next round" line.

The Schedule row is the truth the scheduler reads on every tick, so a change here takes effect
within one tick, without a restart. Slot math lives in ``bot.rounds.slots``; this module only decides
which row values an admin may set and keeps ``anchor``/``updated_at`` honest:

* ``updated_at`` is set on every change, because ``slots.due_slot`` ignores slots at or before it,
  so editing a schedule never fires a slot that has already passed.
* ``anchor`` (fortnightly parity) is moved only when the *timing* changes (cadence, day, time or
  zone), to the Monday of the week of the next slot the new timing asks for: "fortnightly tue
  10:00" then means the coming Tuesday. Changing only, say, the reminder keeps the parity, so the
  fortnight already under way is not shifted by a week.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.admin import audit
from bot.admin.operations import AdminError, workspace
from bot.core import Core
from bot.rounds import slots
from storage.models import Audience, Schedule

QUESTIONS_RANGE = (1, 4)
REMINDER_RANGE = (0, 168)  # hours; 0 means no reminder
CLOSE_RANGE = (1, 28)  # days
CADENCE_WORDS = {
    "weekly": "weekly",
    "fortnightly": "fortnightly",
    "biweekly": "fortnightly",
    "monthly": "monthly",
}
_TIMING = ("cadence", "weekday", "local_time", "timezone")


@dataclass(frozen=True)
class Settings:
    """What an admin can set on a schedule (plain values, no ORM row)."""

    cadence: str
    weekday: int
    local_time: str
    timezone: str
    questions_per_pulse: int
    reminder_after_hours: int
    close_after_days: int
    paused: bool = False

    def cadence_obj(self, anchor: date) -> slots.Cadence:
        return slots.Cadence(
            self.cadence, self.weekday, slots.parse_time(self.local_time), self.timezone, anchor
        )

    def describe(self, anchor: date) -> str:
        """One line an admin reads, e.g. "Every other Tuesday at 10:00 (Europe/London) · 2 …"."""
        reminder = (
            "no reminder"
            if self.reminder_after_hours == 0
            else f"reminder after {self.reminder_after_hours} h"
        )
        return (
            f"{slots.describe(self.cadence_obj(anchor))} · {self.questions_per_pulse} "
            f"question{'s' if self.questions_per_pulse != 1 else ''} per pulse · {reminder} · "
            f"closes after {self.close_after_days} day{'s' if self.close_after_days != 1 else ''}"
        )


@dataclass(frozen=True)
class Change:
    """A partial update: ``None`` means "leave as it is"."""

    cadence: str | None = None
    weekday: int | None = None
    local_time: str | None = None
    timezone: str | None = None
    questions_per_pulse: int | None = None
    reminder_after_hours: int | None = None
    close_after_days: int | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


class ScheduleError(AdminError):
    """Invalid schedule values; ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors.values()))


@dataclass(frozen=True)
class Snapshot:
    """A schedule as read, with its next round, for status lines and the modal."""

    audience_id: int
    audience_name: str
    settings: Settings
    anchor: date
    next_round: datetime | None  # UTC; None while paused

    @property
    def description(self) -> str:
        return self.settings.describe(self.anchor)

    @property
    def next_round_text(self) -> str:
        if self.next_round is None:
            return "none: the schedule is paused"
        return local_when(self.next_round, self.settings.timezone)


def local_when(instant: datetime, tz: str) -> str:
    """A UTC instant as people in the trust read it: "Tuesday 8 December 2026, 10:00 (GMT)"."""
    if instant.tzinfo is None:  # SQLite hands back naive UTC
        instant = instant.replace(tzinfo=UTC)
    local = instant.astimezone(slots.zone(tz))
    return f"{local:%A} {local.day} {local:%B %Y}, {local:%H:%M} ({local.tzname()})"


def _settings_of(row: Schedule) -> Settings:
    return Settings(
        row.cadence,
        row.weekday,
        row.local_time,
        row.timezone,
        row.questions_per_pulse,
        row.reminder_after_hours,
        row.close_after_days,
        row.paused,
    )


def _row(s, team_id: str) -> tuple[Schedule, Audience]:
    ws = workspace(s, team_id)
    audience = s.scalar(select(Audience).where(Audience.workspace_id == ws.id))
    if audience is None:
        raise AdminError("there is no audience yet. Choose one first: `/pulse audience #channel`")
    row = s.scalar(select(Schedule).where(Schedule.audience_id == audience.id))
    if row is None:  # pragma: no cover - set_audience always writes one
        raise AdminError("this audience has no schedule; set the audience again")
    return row, audience


def next_round(settings: Settings, anchor: date, now: datetime) -> datetime | None:
    """The next scheduled slot after ``now`` (UTC), or None while paused."""
    if settings.paused:
        return None
    return slots.next_slot(settings.cadence_obj(anchor), now)


def read(core: Core, team_id: str) -> Snapshot:
    with core.db.Session() as s:
        row, audience = _row(s, team_id)
        settings = _settings_of(row)
        anchor = row.anchor
        name = audience.name or audience.channel_id
        aid = audience.id
    return Snapshot(aid, name, settings, anchor, next_round(settings, anchor, core.clock.now()))


def validate(settings: Settings) -> dict[str, str]:
    """Every problem with ``settings``, by field, in words an admin can act on."""
    errors: dict[str, str] = {}
    if settings.cadence not in slots.CADENCES:
        errors["cadence"] = (
            f"{settings.cadence!r} is not a cadence; use weekly, fortnightly or monthly"
        )
    if not (isinstance(settings.weekday, int) and 0 <= settings.weekday <= 6):
        errors["weekday"] = "choose a day of the week"
    try:
        slots.parse_time(settings.local_time)
    except ValueError as exc:
        errors["local_time"] = str(exc)
    try:
        slots.zone(settings.timezone)
    except ValueError as exc:
        errors["timezone"] = str(exc)
    for name, (lo, hi), what in (
        ("questions_per_pulse", QUESTIONS_RANGE, "questions per pulse"),
        ("reminder_after_hours", REMINDER_RANGE, "reminder hours (0 = no reminder)"),
        ("close_after_days", CLOSE_RANGE, "days before a round closes"),
    ):
        value = getattr(settings, name)
        if not (isinstance(value, int) and lo <= value <= hi):
            errors[name] = f"{what} must be a whole number from {lo} to {hi}"
    if (
        "reminder_after_hours" not in errors
        and "close_after_days" not in errors
        and settings.reminder_after_hours >= settings.close_after_days * 24
    ):
        errors["reminder_after_hours"] = (
            f"the reminder ({settings.reminder_after_hours} h) would come after the round closes "
            f"({settings.close_after_days} days); choose fewer hours, or 0 for none"
        )
    return errors


def anchor_for(settings: Settings, now: datetime) -> date:
    """The Monday of the week of the next slot the timing asks for (fortnightly parity).

    Weekly and fortnightly share a weekday rule, so the next *weekly* slot is the one a
    freshly-set fortnightly schedule should hit first.
    """
    weekly = replace(settings, cadence="weekly").cadence_obj(date(2000, 1, 3))
    first = slots.next_slot(weekly, now).astimezone(weekly.zone).date()
    return first - timedelta(days=first.weekday())


@dataclass(frozen=True)
class Updated:
    before: Snapshot
    after: Snapshot
    changed: bool


def update(core: Core, team_id: str, actor: str, change: Change) -> Updated:
    """Apply ``change`` to the audience's schedule, validated, audited, effective next tick."""
    before = read(core, team_id)
    proposed = replace(
        before.settings,
        **{f.name: v for f in fields(change) if (v := getattr(change, f.name)) is not None},
    )
    errors = validate(proposed)
    if errors:
        raise ScheduleError(errors)
    if proposed == before.settings:
        return Updated(before, before, changed=False)
    now = core.clock.now()
    timing_changed = any(getattr(proposed, f) != getattr(before.settings, f) for f in _TIMING)
    with core.db.Session() as s, s.begin():
        row, _ = _row(s, team_id)
        for f in fields(Change):
            setattr(row, f.name, getattr(proposed, f.name))
        if timing_changed:
            row.anchor = anchor_for(proposed, now)
        row.updated_at = now
        audit.record(
            s,
            row.workspace_id,
            actor,
            "schedule",
            before.description,
            proposed.describe(row.anchor),
            now,
        )
    return Updated(before, read(core, team_id), changed=True)


def set_paused(core: Core, team_id: str, actor: str, paused: bool) -> bool:
    """Pause or resume; False when it already was. Resuming never fires a slot missed while paused."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        row, _ = _row(s, team_id)
        if row.paused == paused:
            return False
        row.paused = paused
        row.updated_at = now
        audit.record(
            s,
            row.workspace_id,
            actor,
            "schedule paused" if paused else "schedule resumed",
            "paused" if not paused else "running",
            "paused" if paused else "running",
            now,
        )
    return True


def parse_text(args: list[str]) -> Change:
    """The text form: ``fortnightly tue 10:00 [Europe/London] [questions:2] [reminder:24]
    [close:5]``, in any order. Raises ValueError with a readable message on the first bad word."""
    found: dict[str, object] = {}
    for word in args:
        low = word.lower()
        key, _, value = low.partition(":")
        if key in ("questions", "reminder", "close") and value:
            field = {
                "questions": "questions_per_pulse",
                "reminder": "reminder_after_hours",
                "close": "close_after_days",
            }[key]
            if not value.isdigit():
                raise ValueError(f"{word} needs a whole number, like {key}:2")
            _put(found, field, int(value), word)
        elif low in CADENCE_WORDS:
            _put(found, "cadence", CADENCE_WORDS[low], word)
        elif ":" in low and low.replace(":", "").isdigit():
            _put(found, "local_time", slots.parse_time(low).strftime("%H:%M"), word)
        elif "/" in word or word.upper() in ("UTC", "GMT"):
            name = word.upper() if word.upper() in ("UTC", "GMT") else word
            _put(found, "timezone", slots.zone(name).key, word)
        else:
            try:
                _put(found, "weekday", slots.parse_weekday(low), word)
            except ValueError:
                raise ValueError(
                    f"I don't understand {word!r}: expected a cadence (weekly, fortnightly, "
                    "monthly), a day (tue), a time (10:00), a time zone (Europe/London) or "
                    "questions:N, reminder:N, close:N"
                ) from None
    return Change(**found)


def _put(found: dict[str, object], field: str, value: object, word: str) -> None:
    if field in found:
        raise ValueError(f"{word!r} sets the {field.replace('_', ' ')} a second time")
    found[field] = value
