"""Rota-aware delivery timing: when a pulse DM or reminder may actually go out.

Why: doctors work nights, on-calls and clinics. A pulse that pings at 03:00 after a night
shift costs more goodwill than it earns data, so nothing goes out between 21:00 and 08:00
local or at weekends unless the schedule explicitly allows out-of-hours delivery, and a
doctor who picked a preferred window (morning, lunchtime, evening) is only messaged in it.

Spans are half-open, ``[start, end)`` in local wall time: 08:00 is allowed, 21:00 is quiet;
the morning window includes 08:00 and excludes 10:00. Span edges are turned into UTC with
``bot.rounds.slots.local_to_utc`` (so DST days behave: 08:00 is 08:00 in GMT and in BST; a
non-existent edge moves to the end of the gap, an ambiguous one takes its first occurrence).
A local day whose span is empty (e.g. the day Samoa skipped in 2011) is simply skipped.

All functions take aware datetimes (naive raises ``ValueError``) and return UTC.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.rounds.slots import local_to_utc, require_aware, zone

WINDOWS: Final[dict[str, tuple[time, time]]] = {
    "morning": (time(8, 0), time(10, 0)),
    "lunchtime": (time(12, 0), time(14, 0)),
    "evening": (time(18, 0), time(21, 0)),
}
QUIET_START: Final = time(21, 0)
QUIET_END: Final = time(8, 0)
SPREAD_WIDTH: Final = timedelta(minutes=30)

_ONE_DAY: Final = timedelta(days=1)
_MAX_DAYS_AHEAD: Final = 14  # a weekend plus any skipped day is far less than this


def _span(window: str | None) -> tuple[time, time]:
    """Local (start, end) of the allowed span: the preferred window, else the working day."""
    if window is None:
        return QUIET_END, QUIET_START
    try:
        return WINDOWS[window]
    except KeyError:
        names = ", ".join(WINDOWS)
        raise ValueError(f"{window!r} is not a delivery window; choose one of {names}") from None


def _day_allowed(day: date, out_of_hours: bool) -> bool:
    """Weekdays only, unless the schedule opted in to out-of-hours delivery."""
    return out_of_hours or day.weekday() < 5


def _open_span(
    at: datetime, zi: ZoneInfo, window: str | None, out_of_hours: bool
) -> tuple[datetime, datetime]:
    """UTC (start, end) of the first allowed, non-empty span that ends after ``at``."""
    start_wall, end_wall = _span(window)
    day = at.astimezone(zi).date()
    for _ in range(_MAX_DAYS_AHEAD):
        if _day_allowed(day, out_of_hours):
            start = local_to_utc(day, start_wall, zi)
            end = local_to_utc(day, end_wall, zi)
            if start < end and at < end:
                return start, end
        day += _ONE_DAY
    raise RuntimeError(f"no delivery span within {_MAX_DAYS_AHEAD} days of {at} in {zi.key}")


def next_allowed(at: datetime, tz: str, window: str | None, out_of_hours: bool = False) -> datetime:
    """Earliest instant >= ``at`` (UTC) when a DM may go out.

    * ``out_of_hours`` and no window: ``at`` itself (the schedule allows any time).
    * a preferred window: the first moment inside it on a weekday (any day if
      ``out_of_hours``).
    * no window: the first moment within 08:00-21:00 local, Monday to Friday.

    If ``at`` is already inside the allowed span it is returned unchanged, so the
    function is idempotent.
    """
    at = require_aware(at, "at")
    zi = zone(tz)
    if out_of_hours and window is None:
        return at
    start, _ = _open_span(at, zi, window, out_of_hours)
    return max(at, start)


def is_quiet(at: datetime, tz: str) -> bool:
    """True between 21:00 and 08:00 local or at weekends: warn an admin who "sends now"."""
    at = require_aware(at, "at")
    return next_allowed(at, tz, None) != at


def tomorrow_in_window(
    at: datetime, tz: str, window: str | None, out_of_hours: bool = False
) -> datetime:
    """When to deliver "Not now, remind me tomorrow" pressed at ``at``.

    The start of the allowed span (the preferred window's start, else 08:00) on the
    next local calendar day after ``at``; a Saturday or Sunday is rolled on to Monday
    unless ``out_of_hours``. Always the span *start*, never "24 hours later", so a
    doctor who snoozes at 20:55 is not pinged at 20:55 the next evening.
    """
    at = require_aware(at, "at")
    zi = zone(tz)
    start_wall, end_wall = _span(window)
    day = at.astimezone(zi).date() + _ONE_DAY
    while not _day_allowed(day, out_of_hours):
        day += _ONE_DAY
    start = local_to_utc(day, start_wall, zi)
    if start < local_to_utc(day, end_wall, zi):
        return start
    return next_allowed(start, tz, window, out_of_hours)  # that day's span vanished


def spread(
    at: datetime,
    tz: str,
    window: str | None,
    key: str,
    out_of_hours: bool = False,
    width: timedelta = SPREAD_WIDTH,
) -> datetime:
    """A deterministic per-``key`` delivery time, so 2,000 doctors are not pinged at once.

    Takes ``next_allowed(at, ...)`` and adds an offset derived from a SHA-256 of ``key``
    (stable across processes, unlike ``hash()``), spread over the next 30 minutes. When
    ``at`` is at a span's start that is "the first 30 minutes of the span"; near the end
    of a span the width shrinks so the result never leaves the span (and is never quiet).
    """
    at = require_aware(at, "at")
    zi = zone(tz)
    if out_of_hours and window is None:
        base = at
    else:
        start, end = _open_span(at, zi, window, out_of_hours)
        base = max(at, start)
        width = min(width, end - base)
    if width <= timedelta(0):
        return base
    return base + timedelta(seconds=_key_offset(key, int(width.total_seconds())))


def _key_offset(key: str, width_seconds: int) -> int:
    """Map ``key`` evenly onto ``0 .. width_seconds - 1`` (0 if the width is under 1 s).

    Integer arithmetic on purpose: a float fraction can round up to 1.0 and land the
    delivery exactly on the span's (quiet) end.
    """
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") * max(width_seconds, 0) // 2**64
