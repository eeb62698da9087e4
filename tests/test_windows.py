"""Tests for bot.rounds.windows: quiet hours, weekends, preferred windows, DST and spreading."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rounds.windows import WINDOWS, is_quiet, next_allowed, spread, tomorrow_in_window

LONDON = "Europe/London"
NEW_YORK = "America/New_York"


def at_local(tz: str, *args: int) -> datetime:
    """An aware instant given as local wall time (fold=0)."""
    return datetime(*args, tzinfo=ZoneInfo(tz))


def wall(dt: datetime, tz: str = LONDON) -> datetime:
    return dt.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


# Week of Mon 23 Nov 2026 (GMT): Fri 27, Sat 28, Sun 29, Mon 30.


@pytest.mark.parametrize(
    ("local_args", "expected_wall"),
    [
        ((2026, 11, 24, 7, 59), datetime(2026, 11, 24, 8, 0)),  # before 08:00
        ((2026, 11, 24, 8, 0), datetime(2026, 11, 24, 8, 0)),  # 08:00 is allowed
        ((2026, 11, 24, 20, 59), datetime(2026, 11, 24, 20, 59)),
        ((2026, 11, 24, 21, 0), datetime(2026, 11, 25, 8, 0)),  # 21:00 is quiet
        ((2026, 11, 24, 3, 0), datetime(2026, 11, 24, 8, 0)),  # after a night shift
        ((2026, 11, 27, 21, 0), datetime(2026, 11, 30, 8, 0)),  # Friday night -> Monday
        ((2026, 11, 28, 12, 0), datetime(2026, 11, 30, 8, 0)),  # Saturday
        ((2026, 11, 29, 23, 59), datetime(2026, 11, 30, 8, 0)),  # Sunday night
    ],
)
def test_quiet_hours_and_weekends(local_args: tuple[int, ...], expected_wall: datetime) -> None:
    result = next_allowed(at_local(LONDON, *local_args), LONDON, None)
    assert wall(result) == expected_wall
    assert result.tzinfo is UTC


def test_inside_span_returns_at_unchanged() -> None:
    at = at_local(LONDON, 2026, 11, 24, 12, 34, 56)
    assert next_allowed(at, LONDON, None) == at
    assert next_allowed(at, LONDON, "lunchtime") == at


@pytest.mark.parametrize(
    ("window", "local_args", "expected_wall"),
    [
        ("morning", (2026, 11, 24, 6, 0), datetime(2026, 11, 24, 8, 0)),
        ("morning", (2026, 11, 24, 9, 59), datetime(2026, 11, 24, 9, 59)),
        ("morning", (2026, 11, 24, 10, 0), datetime(2026, 11, 25, 8, 0)),  # end excluded
        ("lunchtime", (2026, 11, 24, 9, 0), datetime(2026, 11, 24, 12, 0)),
        ("lunchtime", (2026, 11, 24, 14, 0), datetime(2026, 11, 25, 12, 0)),
        ("evening", (2026, 11, 24, 17, 0), datetime(2026, 11, 24, 18, 0)),
        ("evening", (2026, 11, 24, 20, 30), datetime(2026, 11, 24, 20, 30)),
        ("evening", (2026, 11, 27, 21, 0), datetime(2026, 11, 30, 18, 0)),  # Fri -> Mon
        ("morning", (2026, 11, 28, 9, 0), datetime(2026, 11, 30, 8, 0)),  # Sat -> Mon
    ],
)
def test_each_window(window: str, local_args: tuple[int, ...], expected_wall: datetime) -> None:
    assert wall(next_allowed(at_local(LONDON, *local_args), LONDON, window)) == expected_wall


def test_out_of_hours_without_window_is_immediate() -> None:
    at = at_local(LONDON, 2026, 11, 28, 3, 0)  # Saturday 03:00
    assert next_allowed(at, LONDON, None, out_of_hours=True) == at


def test_out_of_hours_with_window_allows_weekends_but_keeps_window() -> None:
    saturday_night = at_local(LONDON, 2026, 11, 28, 3, 0)
    got = next_allowed(saturday_night, LONDON, "morning", out_of_hours=True)
    assert wall(got) == datetime(2026, 11, 28, 8, 0)
    got = next_allowed(at_local(LONDON, 2026, 11, 28, 22, 0), LONDON, "evening", out_of_hours=True)
    assert wall(got) == datetime(2026, 11, 29, 18, 0)


def test_dst_days_keep_local_hours() -> None:
    # UK spring forward Sun 29 Mar 2026: Friday night -> Monday 08:00 BST = 07:00 UTC
    got = next_allowed(datetime(2026, 3, 27, 22, 0, tzinfo=UTC), LONDON, None)
    assert got == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    # UK fall back Sun 25 Oct 2026: Friday 21:30 BST -> Monday 08:00 GMT = 08:00 UTC
    got = next_allowed(at_local(LONDON, 2026, 10, 23, 21, 30), LONDON, None)
    assert got == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    # on the change days themselves, with weekend delivery allowed
    got = next_allowed(datetime(2026, 3, 29, 0, 0, tzinfo=UTC), LONDON, "morning", True)
    assert got == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    got = next_allowed(datetime(2026, 10, 25, 0, 0, tzinfo=UTC), LONDON, "morning", True)
    assert got == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    # New York changes two weeks earlier (Sun 8 Mar 2026)
    got = next_allowed(datetime(2026, 3, 9, 11, 0, tzinfo=UTC), NEW_YORK, None)
    assert got == datetime(2026, 3, 9, 12, 0, tzinfo=UTC)  # 08:00 EDT


def test_skipped_day_is_skipped() -> None:
    """Samoa had no Friday 30 Dec 2011; Thursday evening rolls to Monday 2 Jan 2012."""
    apia = "Pacific/Apia"
    got = next_allowed(at_local(apia, 2011, 12, 29, 22, 0), apia, None)
    assert wall(got, apia) == datetime(2012, 1, 2, 8, 0)


def test_is_quiet() -> None:
    assert is_quiet(at_local(LONDON, 2026, 11, 24, 7, 59), LONDON)
    assert not is_quiet(at_local(LONDON, 2026, 11, 24, 8, 0), LONDON)
    assert not is_quiet(at_local(LONDON, 2026, 11, 24, 20, 59, 59), LONDON)
    assert is_quiet(at_local(LONDON, 2026, 11, 24, 21, 0), LONDON)
    assert is_quiet(at_local(LONDON, 2026, 11, 28, 12, 0), LONDON)  # Saturday
    # 12:30 UTC on a Tuesday is daytime in London but 04:30 in Los Angeles
    noonish = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    assert not is_quiet(noonish, LONDON)
    assert is_quiet(noonish, "America/Los_Angeles")


def test_tomorrow_in_window() -> None:
    tue_evening = at_local(LONDON, 2026, 11, 24, 20, 55)
    assert wall(tomorrow_in_window(tue_evening, LONDON, None)) == datetime(2026, 11, 25, 8, 0)
    assert wall(tomorrow_in_window(tue_evening, LONDON, "evening")) == datetime(2026, 11, 25, 18, 0)
    tue_small_hours = at_local(LONDON, 2026, 11, 24, 1, 0)  # "tomorrow" is the next date
    assert wall(tomorrow_in_window(tue_small_hours, LONDON, "lunchtime")) == datetime(
        2026, 11, 25, 12, 0
    )
    friday = at_local(LONDON, 2026, 11, 27, 9, 0)
    assert wall(tomorrow_in_window(friday, LONDON, "morning")) == datetime(2026, 11, 30, 8, 0)
    assert wall(tomorrow_in_window(friday, LONDON, None, out_of_hours=True)) == datetime(
        2026, 11, 28, 8, 0
    )
    saturday = at_local(LONDON, 2026, 11, 28, 9, 0)
    assert wall(tomorrow_in_window(saturday, LONDON, None)) == datetime(2026, 11, 30, 8, 0)
    # across the spring change: Saturday -> Sunday 12:00 BST
    got = tomorrow_in_window(at_local(LONDON, 2026, 3, 28, 12, 0), LONDON, "lunchtime", True)
    assert got == datetime(2026, 3, 29, 11, 0, tzinfo=UTC)


def test_spread_is_stable_bounded_and_actually_spreads() -> None:
    start = at_local(LONDON, 2026, 11, 24, 8, 0)
    results = [spread(start, LONDON, None, f"U{i:05d}") for i in range(2000)]
    assert spread(start, LONDON, None, "U00042") == results[42]
    assert all(start <= r < start + timedelta(minutes=30) for r in results)
    assert len(set(results)) > 1000  # not everyone in the same second
    assert max(results) - min(results) > timedelta(minutes=29)
    # from a quiet time, spread starts at the next span's start
    night = at_local(LONDON, 2026, 11, 24, 2, 0)
    assert spread(night, LONDON, "morning", "U1") == spread(start, LONDON, "morning", "U1")


def test_spread_near_span_end_stays_inside() -> None:
    late = at_local(LONDON, 2026, 11, 24, 9, 58)
    for i in range(200):
        r = spread(late, LONDON, "morning", f"doc-{i}")
        assert late <= r < at_local(LONDON, 2026, 11, 24, 10, 0)
    sat = at_local(LONDON, 2026, 11, 28, 3, 0)
    r = spread(sat, LONDON, None, "doc", out_of_hours=True)
    assert sat <= r < sat + timedelta(minutes=30)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_allowed(datetime(2026, 11, 24, 9, 0), LONDON, None)
    with pytest.raises(ValueError, match="not a delivery window"):
        next_allowed(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), LONDON, "brunch")
    with pytest.raises(ValueError, match="time zone"):
        is_quiet(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), "Mars/Olympus")


# ---------------------------------------------------------------- properties

ZONES = [LONDON, NEW_YORK, "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago", "UTC"]
instants = st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC))
windows = st.sampled_from([None, *WINDOWS])


def wall_quiet(at: datetime, tz: str) -> bool:
    """Independent oracle: quiet by plain wall-clock reading."""
    local = at.astimezone(ZoneInfo(tz))
    return local.weekday() >= 5 or not time(8, 0) <= local.time() < time(21, 0)


@settings(max_examples=250, deadline=None)
@given(x=instants, tz=st.sampled_from(ZONES), window=windows, ooh=st.booleans())
def test_next_allowed_properties(x: datetime, tz: str, window: str | None, ooh: bool) -> None:
    got = next_allowed(x, tz, window, ooh)
    assert got >= x
    assert got.tzinfo is UTC
    assert next_allowed(got, tz, window, ooh) == got  # idempotent
    if not ooh:
        assert not is_quiet(got, tz)
        assert not wall_quiet(got, tz)
    if window is not None:
        local = got.astimezone(ZoneInfo(tz)).time()
        start, end = WINDOWS[window]
        assert start <= local < end
    # minimal: either nothing had to move, or we landed exactly on a span start
    if got != x:
        start_wall = WINDOWS[window][0] if window else time(8, 0)
        assert got.astimezone(ZoneInfo(tz)).time() == start_wall


@settings(max_examples=200, deadline=None)
@given(x=instants, tz=st.sampled_from(ZONES))
def test_is_quiet_matches_wall_clock(x: datetime, tz: str) -> None:
    assert is_quiet(x, tz) == wall_quiet(x, tz)


@settings(max_examples=200, deadline=None)
@given(
    x=instants,
    tz=st.sampled_from(ZONES),
    window=windows,
    ooh=st.booleans(),
    key=st.text(max_size=20),
)
def test_spread_properties(x: datetime, tz: str, window: str | None, ooh: bool, key: str) -> None:
    base = next_allowed(x, tz, window, ooh)
    got = spread(x, tz, window, key, ooh)
    assert base <= got < base + timedelta(minutes=30)
    assert got == spread(x, tz, window, key, ooh)
    if not (ooh and window is None):
        assert next_allowed(got, tz, window, ooh) == got  # still inside the span


@settings(max_examples=200, deadline=None)
@given(x=instants, tz=st.sampled_from(ZONES), window=windows, ooh=st.booleans())
def test_tomorrow_is_a_later_day_and_allowed(
    x: datetime, tz: str, window: str | None, ooh: bool
) -> None:
    got = tomorrow_in_window(x, tz, window, ooh)
    zi = ZoneInfo(tz)
    assert got.astimezone(zi).date() > x.astimezone(zi).date()
    assert got.astimezone(zi).date() - x.astimezone(zi).date() <= timedelta(days=3)
    if not ooh:
        assert not is_quiet(got, tz)
    if window is not None or not ooh:
        assert next_allowed(got, tz, window, ooh) == got
