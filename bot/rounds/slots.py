"""Pure schedule math: which instants are pulse "slots", and what each slot is called.

Why this module is pure (no DB, no APScheduler, no clock): the scheduler, the web UI and
crash recovery must all agree on exactly which instants are slots and on each slot's key.
Recomputing from a plain ``Cadence`` plus a clock reading makes that agreement trivial
and makes the rules testable in isolation.

Rules, all in the schedule's own time zone ("local time is the truth"):

* ``weekly``      every week on ``weekday`` at ``local_time``.
* ``fortnightly`` every other week on ``weekday`` at ``local_time``; the slot weeks are
  those whose Monday is an even number of weeks from the Monday of ``anchor``'s week.
  The anchor only fixes parity: it is not a start date (``due_slot``'s ``not_before``
  is what stops slots before a schedule existed from firing).
* ``monthly``     the first ``weekday`` of each calendar month (day 1-7) at ``local_time``;
  ``anchor`` is ignored.

DST moves nothing in local time: a 10:00 Europe/London slot is 10:00 in both GMT and BST,
so its UTC instant shifts by an hour twice a year. Two edge cases, resolved by
``local_to_utc``:

* Non-existent local time (spring-forward gap, e.g. 01:30 on the last Sunday of March in
  London): the slot moves forward to the first instant that exists, i.e. the moment the
  clocks change (02:00 BST). Its key still says 01:30, the time the schedule asked for.
* Ambiguous local time (autumn fold, e.g. 01:30 on the last Sunday of October in London):
  the first occurrence is used (``fold=0``, 01:30 BST), so a slot never fires twice.

Every function takes aware datetimes (naive ones raise ``ValueError``: guessing a zone is
how doctors get 3 a.m. DMs) and returns aware datetimes in UTC.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CADENCES: Final[tuple[str, ...]] = ("weekly", "fortnightly", "monthly")
WEEKDAY_NAMES: Final[tuple[str, ...]] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)

_ONE_DAY: Final = timedelta(days=1)
_TIME_RE: Final = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_TIME_HINT: Final = "use 24-hour HH:MM, e.g. 10:00"


@dataclass(frozen=True)
class Cadence:
    """A plain description of a schedule, built by the caller from the DB row.

    Validated on construction so a bad row fails loudly when loaded, not silently at
    03:00 when the scheduler first asks for a slot.
    """

    cadence: str  # "weekly" | "fortnightly" | "monthly"
    weekday: int  # Monday=0 .. Sunday=6
    local_time: time  # wall-clock time in ``timezone``, e.g. time(10, 0)
    timezone: str  # IANA name, e.g. "Europe/London"
    anchor: date  # fortnightly parity reference; ignored for weekly/monthly

    def __post_init__(self) -> None:
        if self.cadence not in CADENCES:
            raise ValueError(f"{self.cadence!r} is not a cadence; use one of {', '.join(CADENCES)}")
        _check_weekday(self.weekday)
        if not isinstance(self.local_time, time) or self.local_time.tzinfo is not None:
            raise ValueError("local_time must be a naive datetime.time (the zone is `timezone`)")
        if not isinstance(self.anchor, date):
            raise ValueError("anchor must be a date")
        zone(self.timezone)

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's zone (ZoneInfo caches instances, so this is cheap)."""
        return zone(self.timezone)


# --------------------------------------------------------------------------- helpers
# Public because bot/rounds/windows.py applies the same DST policy to delivery windows.


def zone(tz: str | ZoneInfo) -> ZoneInfo:
    """Look up an IANA zone, turning every flavour of lookup failure into ValueError."""
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError) as exc:
        raise ValueError(
            f"{tz!r} is not a known time zone; use an IANA name, e.g. Europe/London"
        ) from exc


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` in UTC, refusing naive datetimes rather than guessing a zone."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def local_to_utc(day: date, wall: time, tz: str | ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``wall`` on ``day`` in ``tz``.

    Ambiguous (fold) times give the first occurrence; non-existent (gap) times give the
    first instant after the gap, i.e. the moment the clocks jumped.
    """
    zi = zone(tz)
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    instant = naive.replace(tzinfo=zi).astimezone(UTC)
    if instant.astimezone(zi).replace(tzinfo=None) == naive:
        return instant
    return _end_of_gap(naive, zi)


def _end_of_gap(naive: datetime, zi: ZoneInfo) -> datetime:
    """First instant whose local wall time is past ``naive``, which lies in a gap.

    Across a gap, fold=0 and fold=1 read ``naive`` with the offsets before and after the
    jump; the transition lies between those two readings, so a binary search over whole
    seconds (tz transitions are whole seconds) finds it in ~log2(gap) steps.
    """
    readings = [naive.replace(tzinfo=zi, fold=f).timestamp() for f in (0, 1)]
    lo, hi = math.floor(min(readings)), math.ceil(max(readings))

    def past(ts: int) -> bool:
        return datetime.fromtimestamp(ts, zi).replace(tzinfo=None) > naive

    if past(lo) or not past(hi):  # pragma: no cover - would mean zoneinfo broke PEP 495
        raise RuntimeError(f"cannot resolve non-existent local time {naive} in {zi.key}")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if past(mid):
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def _check_weekday(weekday: int) -> None:
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise ValueError(f"{weekday!r} is not a weekday; use 0 (Monday) to 6 (Sunday)")


# ------------------------------------------------------------------ date arithmetic
# O(1) jumps to the nearest slot date; no day-by-day loops.


def _in_slot_week(c: Cadence, day: date) -> bool:
    """Fortnightly parity: is ``day``'s week an even number of weeks from the anchor's?"""
    monday = day.toordinal() - day.weekday()
    anchor_monday = c.anchor.toordinal() - c.anchor.weekday()
    return (monday - anchor_monday) // 7 % 2 == 0


def _first_weekday_of_month(year: int, month: int, weekday: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7)


def _month_after(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _month_before(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _slot_date_on_or_after(c: Cadence, day: date) -> date:
    """Earliest slot date >= ``day``."""
    if c.cadence == "monthly":
        candidate = _first_weekday_of_month(day.year, day.month, c.weekday)
        if candidate >= day:
            return candidate
        return _first_weekday_of_month(*_month_after(day.year, day.month), c.weekday)
    candidate = day + timedelta(days=(c.weekday - day.weekday()) % 7)
    if c.cadence == "fortnightly" and not _in_slot_week(c, candidate):
        candidate += timedelta(weeks=1)
    return candidate


def _slot_date_on_or_before(c: Cadence, day: date) -> date:
    """Latest slot date <= ``day``."""
    if c.cadence == "monthly":
        candidate = _first_weekday_of_month(day.year, day.month, c.weekday)
        if candidate <= day:
            return candidate
        return _first_weekday_of_month(*_month_before(day.year, day.month), c.weekday)
    candidate = day - timedelta(days=(day.weekday() - c.weekday) % 7)
    if c.cadence == "fortnightly" and not _in_slot_week(c, candidate):
        candidate -= timedelta(weeks=1)
    return candidate


def _is_slot_date(c: Cadence, day: date) -> bool:
    return _slot_date_on_or_after(c, day) == day


def _slot_instant(c: Cadence, day: date) -> datetime:
    return local_to_utc(day, c.local_time, c.zone)


# ------------------------------------------------------------------------ public API


def next_slot(c: Cadence, after: datetime) -> datetime:
    """The first slot strictly after ``after`` (UTC).

    Starts one local day early because a gap-shifted slot can land on the next local
    date; the loop then runs at most a couple of times.
    """
    after = require_aware(after, "after")
    day = _slot_date_on_or_after(c, after.astimezone(c.zone).date() - _ONE_DAY)
    while (slot := _slot_instant(c, day)) <= after:
        day = _slot_date_on_or_after(c, day + _ONE_DAY)
    return slot


def latest_slot(c: Cadence, at_or_before: datetime) -> datetime | None:
    """The last slot at or before ``at_or_before`` (UTC).

    Schedules are open-ended in the past, so ``None`` only happens at the very start of
    the calendar; callers should still handle it.
    """
    at = require_aware(at_or_before, "at_or_before")
    try:
        day = _slot_date_on_or_before(c, at.astimezone(c.zone).date() + _ONE_DAY)
        while (slot := _slot_instant(c, day)) > at:
            day = _slot_date_on_or_before(c, day - _ONE_DAY)
    except (OverflowError, ValueError):
        return None
    return slot


def slots_between(c: Cadence, start: datetime, end: datetime) -> list[datetime]:
    """All slots in ``(start, end]`` (UTC), oldest first: start exclusive, end inclusive."""
    start = require_aware(start, "start")
    end = require_aware(end, "end")
    slots: list[datetime] = []
    slot = next_slot(c, start)
    while slot <= end:
        slots.append(slot)
        slot = next_slot(c, slot)
    return slots


def due_slot(
    c: Cadence, now: datetime, grace: timedelta, not_before: datetime
) -> tuple[datetime | None, datetime | None]:
    """What the scheduler should do at ``now``: ``(slot_to_run, skipped_slot)``.

    Looks only at the latest slot <= ``now`` that is also > ``not_before`` (e.g. when the
    schedule was created or last changed, so editing a schedule never fires a past slot).
    If that slot is at most ``grace`` old it is to run; if older, the bot was down too long
    and a late pulse would be noise, so it is reported as skipped. Otherwise (None, None).
    """
    now = require_aware(now, "now")
    not_before = require_aware(not_before, "not_before")
    if grace < timedelta(0):
        raise ValueError("grace must not be negative")
    slot = latest_slot(c, now)
    if slot is None or slot <= not_before:
        return None, None
    if now - slot <= grace:
        return slot, None
    return None, slot


def slot_key(c: Cadence, local_dt: datetime) -> str:
    """A stable unique key for the slot at ``local_dt``, e.g. ``"2026-11-24T10:00"``.

    The key is the slot's scheduled local wall time (date + ``local_time``), so the same
    slot always gets the same key however it was computed; a gap-shifted slot keeps the
    time the schedule asked for (01:30, not 02:00). ``local_dt`` may be in any zone.
    An instant that is not a slot of ``c`` gets its own local wall time, to the minute.
    """
    instant = require_aware(local_dt, "local_dt")
    local = instant.astimezone(c.zone)
    for day in (local.date(), local.date() - _ONE_DAY):
        if _is_slot_date(c, day) and _slot_instant(c, day) == instant:
            return _format_key(day, c.local_time)
    return _format_key(local.date(), local.time())


def _format_key(day: date, wall: time) -> str:
    return f"{day.isoformat()}T{wall:%H:%M}"


def parse_time(text: str) -> time:
    """Parse strict 24-hour ``HH:MM`` (surrounding spaces ignored), with a readable error.

    Strict because the text comes from admins in Slack: "9" or "10.30" are more likely
    typos than intentions, and a wrong pulse time is worse than asking again.
    """
    cleaned = text.strip() if isinstance(text, str) else ""
    match = _TIME_RE.fullmatch(cleaned)
    if match is None:
        shown = cleaned or "An empty value"
        raise ValueError(f"{shown} is not a time; {_TIME_HINT}")
    return time(int(match.group(1)), int(match.group(2)))


def parse_weekday(text: str) -> int:
    """Day name -> 0..6, case-insensitive: full names or any prefix of 3+ letters (tue, thurs)."""
    cleaned = text.strip().lower() if isinstance(text, str) else ""
    if len(cleaned) >= 3:
        for index, name in enumerate(WEEKDAY_NAMES):
            if name.lower().startswith(cleaned):
                return index
    shown = cleaned or "An empty value"
    raise ValueError(f"{shown} is not a day of the week; use e.g. Tuesday or tue")


def weekday_name(weekday: int) -> str:
    """0..6 -> "Monday".."Sunday"."""
    _check_weekday(weekday)
    return WEEKDAY_NAMES[weekday]


def describe(c: Cadence) -> str:
    """Human summary for admins, e.g. "Every other Tuesday at 10:00 (Europe/London)"."""
    day = weekday_name(c.weekday)
    when = f"at {c.local_time:%H:%M} ({c.timezone})"
    if c.cadence == "weekly":
        return f"Every {day} {when}"
    if c.cadence == "fortnightly":
        return f"Every other {day} {when}"
    return f"First {day} of every month {when}"
