"""Tests for bot.rounds.slots: slot placement across DST, parity, consistency and parsing."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rounds.slots import (
    Cadence,
    describe,
    due_slot,
    latest_slot,
    local_to_utc,
    next_slot,
    parse_time,
    parse_weekday,
    slot_key,
    slots_between,
    weekday_name,
)

LONDON = "Europe/London"
NEW_YORK = "America/New_York"
ANCHOR = date(2026, 1, 6)  # a Tuesday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly(weekday: int = 1, at: time = time(10, 0), tz: str = LONDON) -> Cadence:
    return Cadence("weekly", weekday, at, tz, ANCHOR)


def local(dt: datetime, tz: str) -> datetime:
    return dt.astimezone(ZoneInfo(tz))


# ---------------------------------------------------------------- DST, UK and US


def test_weekly_slots_stay_at_10_local_across_uk_spring_change() -> None:
    slots = slots_between(weekly(), utc(2026, 3, 16), utc(2026, 4, 8))
    assert slots == [
        utc(2026, 3, 17, 10),
        utc(2026, 3, 24, 10),
        utc(2026, 3, 31, 9),
        utc(2026, 4, 7, 9),
    ]
    assert {local(s, LONDON).time() for s in slots} == {time(10, 0)}
    assert [local(s, LONDON).utcoffset() for s in slots] == [timedelta(0)] * 2 + [
        timedelta(hours=1)
    ] * 2


def test_weekly_slots_stay_at_10_local_across_uk_autumn_change() -> None:
    slots = slots_between(weekly(), utc(2026, 10, 12), utc(2026, 11, 4))
    assert slots == [
        utc(2026, 10, 13, 9),
        utc(2026, 10, 20, 9),
        utc(2026, 10, 27, 10),
        utc(2026, 11, 3, 10),
    ]
    assert {local(s, LONDON).time() for s in slots} == {time(10, 0)}


def test_slot_on_the_change_day_itself() -> None:
    sunday = weekly(weekday=6)
    assert next_slot(sunday, utc(2026, 3, 28)) == utc(2026, 3, 29, 9)  # 10:00 BST
    assert next_slot(sunday, utc(2026, 10, 24)) == utc(2026, 10, 25, 10)  # 10:00 GMT


def test_spring_gap_moves_forward_to_first_valid_instant() -> None:
    c = weekly(weekday=6, at=time(1, 30))
    slot = next_slot(c, utc(2026, 3, 28))
    assert slot == utc(2026, 3, 29, 1)  # the instant the clocks jump: 02:00 BST
    assert local(slot, LONDON).time() == time(2, 0)
    assert slot_key(c, slot) == "2026-03-29T01:30"  # key keeps the requested wall time
    assert local_to_utc(date(2026, 3, 29), time(1, 30), LONDON) == slot


def test_autumn_fold_takes_first_occurrence() -> None:
    c = weekly(weekday=6, at=time(1, 30))
    slots = slots_between(c, utc(2026, 10, 24), utc(2026, 10, 26))
    assert slots == [utc(2026, 10, 25, 0, 30)]  # 01:30 BST, fires once, not again at 01:30 GMT
    assert local(slots[0], LONDON).fold == 0


def test_new_york_dst_dates_differ_from_uk() -> None:
    c = weekly(weekday=0, at=time(9, 0), tz=NEW_YORK)
    slots = slots_between(c, utc(2026, 3, 1), utc(2026, 3, 17))
    assert slots == [
        utc(2026, 3, 2, 14),
        utc(2026, 3, 9, 13),
        utc(2026, 3, 16, 13),
    ]  # DST from 8 Mar
    autumn = slots_between(c, utc(2026, 10, 25), utc(2026, 11, 10))
    assert autumn == [utc(2026, 10, 26, 13), utc(2026, 11, 2, 14), utc(2026, 11, 9, 14)]
    assert {local(s, NEW_YORK).time() for s in slots + autumn} == {time(9, 0)}


def test_new_york_spring_gap() -> None:
    c = weekly(weekday=6, at=time(2, 30), tz=NEW_YORK)
    slot = next_slot(c, utc(2026, 3, 7))
    assert local(slot, NEW_YORK).replace(tzinfo=None) == datetime(2026, 3, 8, 3, 0)


def test_day_that_never_happened() -> None:
    """Samoa skipped Friday 30 Dec 2011: the slot moves to the first instant after the gap."""
    c = weekly(weekday=4, tz="Pacific/Apia")
    slot = next_slot(c, utc(2011, 12, 25))
    assert local(slot, "Pacific/Apia").replace(tzinfo=None) == datetime(2011, 12, 31, 0, 0)
    assert slot_key(c, slot) == "2011-12-30T10:00"
    assert latest_slot(c, slot) == slot


# ---------------------------------------------------------- fortnightly & monthly


def test_fortnightly_parity_from_anchor() -> None:
    c = Cadence("fortnightly", 1, time(10, 0), LONDON, date(2026, 1, 6))
    dates = [local(s, LONDON).date() for s in slots_between(c, utc(2026, 1, 1), utc(2026, 2, 28))]
    assert dates == [date(2026, 1, 6), date(2026, 1, 20), date(2026, 2, 3), date(2026, 2, 17)]


def test_fortnightly_anchor_weekday_does_not_matter_only_its_week() -> None:
    sunday_same_week = Cadence("fortnightly", 1, time(10, 0), LONDON, date(2026, 1, 11))
    next_week = Cadence("fortnightly", 1, time(10, 0), LONDON, date(2026, 1, 12))
    assert next_slot(sunday_same_week, utc(2026, 1, 1)) == utc(2026, 1, 6, 10)
    assert next_slot(next_week, utc(2026, 1, 1)) == utc(2026, 1, 13, 10)


def test_fortnightly_parity_holds_before_anchor_and_across_dst() -> None:
    c = Cadence("fortnightly", 1, time(10, 0), LONDON, date(2026, 6, 2))
    slots = slots_between(c, utc(2026, 3, 1), utc(2026, 4, 30))
    assert [local(s, LONDON).date() for s in slots] == [
        date(2026, 3, 10),
        date(2026, 3, 24),
        date(2026, 4, 7),
        date(2026, 4, 21),
    ]
    assert {local(s, LONDON).time() for s in slots} == {time(10, 0)}


def test_monthly_is_first_weekday_of_each_month() -> None:
    c = Cadence("monthly", 6, time(10, 0), LONDON, date(1999, 9, 9))  # anchor ignored
    dates = [local(s, LONDON).date() for s in slots_between(c, utc(2026, 1, 1), utc(2026, 6, 1))]
    assert dates == [
        date(2026, 1, 4),
        date(2026, 2, 1),
        date(2026, 3, 1),
        date(2026, 4, 5),
        date(2026, 5, 3),
    ]
    tuesday = Cadence("monthly", 1, time(10, 0), LONDON, ANCHOR)
    assert next_slot(tuesday, utc(2026, 12, 2)) == utc(2027, 1, 5, 10)  # crosses the year
    assert latest_slot(tuesday, utc(2026, 1, 5)) == utc(2025, 12, 2, 10)


# ------------------------------------------------------------ boundaries & misc


def test_next_is_strict_and_latest_is_inclusive() -> None:
    c = weekly()
    slot = utc(2026, 11, 24, 10)
    assert next_slot(c, slot) == utc(2026, 12, 1, 10)
    assert next_slot(c, slot - timedelta(microseconds=1)) == slot
    assert latest_slot(c, slot) == slot
    assert latest_slot(c, slot - timedelta(microseconds=1)) == utc(2026, 11, 17, 10)
    assert slots_between(c, slot, slot + timedelta(weeks=1)) == [utc(2026, 12, 1, 10)]
    assert slots_between(c, slot + timedelta(days=1), slot) == []


def test_inputs_in_other_zones_are_fine_and_outputs_are_utc() -> None:
    after = datetime(2026, 11, 24, 4, 59, tzinfo=ZoneInfo(NEW_YORK))  # 09:59 UTC
    slot = next_slot(weekly(), after)
    assert slot == utc(2026, 11, 24, 10)
    assert slot.tzinfo is UTC


@pytest.mark.parametrize(
    "call",
    [
        lambda c, naive: next_slot(c, naive),
        lambda c, naive: latest_slot(c, naive),
        lambda c, naive: slots_between(c, naive, utc(2027, 1, 1)),
        lambda c, naive: slot_key(c, naive),
        lambda c, naive: due_slot(c, naive, timedelta(hours=1), utc(2020, 1, 1)),
        lambda c, naive: due_slot(c, utc(2026, 1, 1), timedelta(hours=1), naive),
    ],
)
def test_naive_datetimes_are_rejected(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="timezone-aware"):
        call(weekly(), datetime(2026, 11, 24, 10, 0))


def test_slot_key_is_stable_and_zone_independent() -> None:
    c = weekly()
    slot = next_slot(c, utc(2026, 11, 20))
    assert slot_key(c, slot) == "2026-11-24T10:00"
    assert slot_key(c, slot.astimezone(ZoneInfo(LONDON))) == "2026-11-24T10:00"
    assert slot_key(c, slot.astimezone(ZoneInfo("Asia/Tokyo"))) == "2026-11-24T10:00"
    assert slot_key(c, latest_slot(c, utc(2026, 11, 25))) == "2026-11-24T10:00"  # type: ignore[arg-type]
    summer = next_slot(c, utc(2026, 6, 1))
    assert slot_key(c, summer) == "2026-06-02T10:00"


def test_due_slot_grace_and_not_before() -> None:
    c = weekly()
    slot = utc(2026, 11, 24, 10)
    grace = timedelta(hours=2)
    changed = utc(2026, 11, 1)
    assert due_slot(c, slot, grace, changed) == (slot, None)
    assert due_slot(c, slot + grace, grace, changed) == (slot, None)
    late = slot + grace + timedelta(seconds=1)
    assert due_slot(c, late, grace, changed) == (None, slot)
    # schedule changed after the slot: nothing to run and nothing "skipped"
    assert due_slot(c, slot + timedelta(minutes=5), grace, slot) == (None, None)
    assert due_slot(c, slot + timedelta(minutes=5), grace, slot + timedelta(minutes=1)) == (
        None,
        None,
    )
    # just before the slot, the previous week's slot is long past grace
    assert due_slot(c, slot - timedelta(seconds=1), grace, changed) == (None, utc(2026, 11, 17, 10))
    with pytest.raises(ValueError):
        due_slot(c, slot, -grace, changed)


# ------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10:00", time(10)), ("00:00", time(0)), ("23:59", time(23, 59)), (" 07:05 ", time(7, 5))],
)
def test_parse_time_accepts_hh_mm(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    ["25:99", "9", "10:60", "", "24:00", "9:30", "10:00:00", "10.00", "1000", "١٠:٠٠", "10:00pm"],
)
def test_parse_time_rejects_with_readable_message(text: str) -> None:
    with pytest.raises(ValueError, match="is not a time; use 24-hour HH:MM, e.g. 10:00"):
        parse_time(text)


def test_parse_time_message_names_the_input() -> None:
    with pytest.raises(ValueError) as info:
        parse_time("25:99")
    assert str(info.value) == "25:99 is not a time; use 24-hour HH:MM, e.g. 10:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("tue", 1), ("Tuesday", 1), ("TUE", 1), (" thurs ", 3), ("sun", 6), ("monday", 0)],
)
def test_parse_weekday(text: str, expected: int) -> None:
    assert parse_weekday(text) == expected


@pytest.mark.parametrize("text", ["", "t", "tu", "funday", "tuesdays"])
def test_parse_weekday_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a day of the week"):
        parse_weekday(text)


def test_weekday_name_and_describe() -> None:
    assert [weekday_name(i) for i in (0, 1, 6)] == ["Monday", "Tuesday", "Sunday"]
    with pytest.raises(ValueError):
        weekday_name(7)
    assert describe(Cadence("fortnightly", 1, time(10), LONDON, ANCHOR)) == (
        "Every other Tuesday at 10:00 (Europe/London)"
    )
    assert describe(weekly()) == "Every Tuesday at 10:00 (Europe/London)"
    assert describe(Cadence("monthly", 0, time(9, 5), NEW_YORK, ANCHOR)) == (
        "First Monday of every month at 09:05 (America/New_York)"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cadence": "daily"},
        {"weekday": 7},
        {"weekday": -1},
        {"timezone": "Mars/Olympus"},
        {"timezone": "Europe"},
        {"local_time": time(10, tzinfo=UTC)},
    ],
)
def test_cadence_rejects_bad_rows(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "cadence": "weekly",
        "weekday": 1,
        "local_time": time(10),
        "timezone": LONDON,
        "anchor": ANCHOR,
    }
    with pytest.raises(ValueError):
        Cadence(**{**fields, **kwargs})  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties

ZONES = [LONDON, NEW_YORK, "Australia/Lord_Howe", "Asia/Kolkata", "America/Santiago", "UTC"]

cadences = st.builds(
    Cadence,
    cadence=st.sampled_from(["weekly", "fortnightly", "monthly"]),
    weekday=st.integers(0, 6),
    # bias towards the small hours, where the DST gaps and folds are
    local_time=st.one_of(
        st.times(), st.sampled_from([time(0, 0), time(1, 30), time(2, 30), time(10, 0)])
    ),
    timezone=st.sampled_from(ZONES),
    anchor=st.dates(date(2000, 1, 1), date(2040, 1, 1)),
)
instants = st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(c=cadences, x=instants)
def test_next_latest_between_are_consistent(c: Cadence, x: datetime) -> None:
    nxt = next_slot(c, x)
    assert nxt > x
    assert nxt.tzinfo is UTC
    assert slots_between(c, x, nxt) == [nxt]  # nothing between x and the next slot
    assert latest_slot(c, nxt) == nxt
    prev = latest_slot(c, x)
    assert prev is not None and prev <= x
    assert next_slot(c, prev) == nxt
    assert slots_between(c, prev, x) == []
    assert slots_between(c, prev - timedelta(microseconds=1), nxt) == [prev, nxt]


@settings(max_examples=200, deadline=None)
@given(c=cadences, x=instants)
def test_slots_are_at_local_time_on_the_right_day(c: Cadence, x: datetime) -> None:
    slot = next_slot(c, x)
    key = slot_key(c, slot)
    nominal = datetime.fromisoformat(key)
    assert nominal.weekday() == c.weekday
    assert nominal.time() == c.local_time.replace(second=0, microsecond=0)
    if c.cadence == "monthly":
        assert nominal.day <= 7
    wall = local(slot, c.timezone).replace(tzinfo=None)
    exact = datetime.combine(nominal.date(), c.local_time)
    # the wall time is the requested one, unless it fell in a gap and was pushed forward
    assert wall >= exact and wall - exact <= timedelta(hours=1)
    assert slot_key(c, slot.astimezone(ZoneInfo("Asia/Tokyo"))) == key


@settings(max_examples=50, deadline=None)
@given(c=cadences, start=st.dates(date(2020, 1, 1), date(2030, 1, 1)))
def test_slots_between_matches_day_by_day_brute_force(c: Cadence, start: date) -> None:
    days = [start + timedelta(days=i) for i in range(120)]
    expected_dates = [
        d
        for d in days[1:-1]
        if d.weekday() == c.weekday
        and (c.cadence != "monthly" or d.day <= 7)
        and (
            c.cadence != "fortnightly"
            or (d.toordinal() - d.weekday() - c.anchor.toordinal() + c.anchor.weekday()) // 7 % 2
            == 0
        )
    ]
    tick = timedelta(microseconds=1)
    lo = local_to_utc(days[1], time(0), c.timezone) - tick  # just before days[1] starts
    hi = local_to_utc(days[-1], time(0), c.timezone) - tick  # just before days[-1] starts
    got = slots_between(c, lo, hi)
    assert got == [local_to_utc(d, c.local_time, c.timezone) for d in expected_dates]
    if c.cadence == "fortnightly":
        assert all(b - a > timedelta(days=13) for a, b in zip(got, got[1:], strict=False))


@settings(max_examples=200, deadline=None)
@given(c=cadences, x=instants, grace_minutes=st.integers(0, 10_000), back=st.integers(0, 100_000))
def test_due_slot_matches_definition(
    c: Cadence, x: datetime, grace_minutes: int, back: int
) -> None:
    grace = timedelta(minutes=grace_minutes)
    not_before = x - timedelta(minutes=back)
    run, skipped = due_slot(c, x, grace, not_before)
    assert run is None or skipped is None
    candidate = latest_slot(c, x)
    assert candidate is not None
    if candidate <= not_before:
        assert (run, skipped) == (None, None)
    elif x - candidate <= grace:
        assert run == candidate
    else:
        assert skipped == candidate
