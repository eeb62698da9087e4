"""The scheduler with an injected clock: local times across DST, grace windows, no double rounds,
and rota-aware delivery times."""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.admin.operations import set_audience
from bot.people.workspaces import ensure_team
from bot.rounds.scheduler import Scheduler
from server.runtime import build_core
from storage.models import Delivery, Participant, Round, Schedule
from tests.conftest import ADMIN
from tests.helpers import doctors

LONDON = ZoneInfo("Europe/London")


def _setup(
    core, fake, cadence="weekly", weekday=1, at="10:00", anchor=date(2026, 10, 19), n=8, since=None
):
    doctors(fake, n)
    ensure_team(core, fake.team_id)
    res = set_audience(core, fake.team_id, ADMIN, "C0DOCTORS", "doctors")
    with core.db.Session() as s, s.begin():
        sched = s.scalar(select(Schedule).where(Schedule.audience_id == res.audience_id))
        sched.cadence, sched.weekday, sched.local_time, sched.anchor = cadence, weekday, at, anchor
        sched.updated_at = since or core.clock.now()
    return res.audience_id


def _rounds(core) -> list[Round]:
    with core.db.Session() as s:
        return list(s.scalars(select(Round).order_by(Round.id)))


def _local(dt: datetime) -> datetime:
    return (dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo("UTC"))).astimezone(LONDON)


def test_weekly_slots_stay_at_ten_local_across_the_clocks_going_back(core, fake, clock):
    clock.set(datetime(2026, 10, 13, 12, 0, tzinfo=LONDON))
    _setup(core, fake, "weekly")
    sched = Scheduler(core, sync_audience=False)
    fired = []
    t = datetime(2026, 10, 20, 9, 0, tzinfo=LONDON)
    while t < datetime(2026, 11, 4, tzinfo=LONDON):  # 20 Oct (BST), 27 Oct and 3 Nov (GMT)
        clock.set(t)
        fired += sched.tick().created
        t += timedelta(minutes=30)
    rounds = _rounds(core)
    assert [r.id for r in rounds] == fired and len(rounds) == 3
    assert [_local(r.created_at).strftime("%a %d %b %H:%M") for r in rounds] == [
        "Tue 20 Oct 10:00",
        "Tue 27 Oct 10:00",
        "Tue 03 Nov 10:00",
    ]
    utc_hours = [
        r.created_at.astimezone(ZoneInfo("UTC")).hour if r.created_at.tzinfo else r.created_at.hour
        for r in rounds
    ]
    assert utc_hours == [9, 10, 10]  # BST then GMT: the UTC instant moves, local time does not


def test_fortnightly_skips_the_off_week_and_crosses_spring_forward(core, fake, clock):
    clock.set(datetime(2027, 3, 1, 12, 0, tzinfo=LONDON))
    _setup(core, fake, "fortnightly", weekday=1, anchor=date(2027, 3, 8))
    sched = Scheduler(core, sync_audience=False)
    t = datetime(2027, 3, 8, 0, 0, tzinfo=LONDON)
    while t < datetime(2027, 4, 14, tzinfo=LONDON):
        clock.set(t)
        sched.tick()
        t += timedelta(hours=1)
    got = [_local(r.created_at).strftime("%d %b %H:%M %Z") for r in _rounds(core)]
    assert got == ["09 Mar 10:00 GMT", "23 Mar 10:00 GMT", "06 Apr 10:00 BST"]


def test_a_missed_slot_runs_once_within_grace_and_is_skipped_beyond(core, fake, clock, caplog):
    clock.set(datetime(2026, 11, 17, 12, 0, tzinfo=LONDON))
    _setup(core, fake, "weekly")
    # The process was down over Tuesday 10:00 and comes back at 13:30: within 6 h, runs once.
    clock.set(datetime(2026, 11, 24, 13, 30, tzinfo=LONDON))
    assert len(Scheduler(core, sync_audience=False).tick().created) == 1
    assert Scheduler(core, sync_audience=False).tick().created == []  # a restart: no second round
    assert len(_rounds(core)) == 1
    # Next week it is down until 17:00: beyond the grace window, skipped and logged.
    clock.set(datetime(2026, 12, 1, 17, 0, tzinfo=LONDON))
    with caplog.at_level(logging.WARNING, logger="medpulse.scheduler"):
        report = Scheduler(core, sync_audience=False).tick()
    assert report.created == [] and report.skipped
    assert "skipped the pulse slot 2026-12-01T10:00" in caplog.text
    assert len(_rounds(core)) == 1


def test_a_schedule_change_never_fires_a_slot_already_past(core, fake, clock):
    clock.set(datetime(2026, 11, 24, 10, 30, tzinfo=LONDON))
    _setup(core, fake, "weekly")  # changed at 10:30, the 10:00 slot is in the past
    assert Scheduler(core, sync_audience=False).tick().created == []


def test_two_schedulers_at_once_make_one_round(core, fake, clock, settings):
    clock.set(datetime(2026, 11, 17, 12, 0, tzinfo=LONDON))
    _setup(core, fake, "weekly", n=30)
    clock.set(datetime(2026, 11, 24, 10, 0, 5, tzinfo=LONDON))
    others = [build_core(settings, clock=clock) for _ in range(3)]
    barrier = threading.Barrier(4)
    results = []

    def run(c):
        barrier.wait()
        results.append(Scheduler(c, sync_audience=False).tick().created)

    threads = [threading.Thread(target=run, args=(c,)) for c in [core, *others]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert len(_rounds(core)) == 1
    with core.db.Session() as s:
        assert len(s.scalars(select(Delivery)).all()) == 30
    for c in others:
        c.db.dispose()


def test_scheduled_rounds_respect_quiet_hours_and_preferred_windows(core, fake, clock):
    clock.set(datetime(2026, 11, 17, 12, 0, tzinfo=LONDON))
    _setup(core, fake, "weekly", weekday=4, at="22:30", n=6)  # Friday 22:30: quiet time
    with core.db.Session() as s, s.begin():
        people = s.scalars(select(Participant).order_by(Participant.id)).all()
        people[0].preferred_window = "evening"
        people[1].preferred_window = "lunchtime"
    clock.set(datetime(2026, 11, 20, 22, 30, tzinfo=LONDON))
    Scheduler(core, sync_audience=False).tick()
    with core.db.Session() as s:
        rows = s.execute(
            select(Participant.preferred_window, Delivery.not_before).join(
                Participant, Participant.id == Delivery.participant_id
            )
        ).all()
    for window, when in rows:
        local = _local(when)
        assert local.strftime("%a") == "Mon", local  # not at the weekend
        start = {"evening": 18, "lunchtime": 12, None: 8}[window]
        assert start <= local.hour and local < local.replace(hour=start, minute=30, second=1), (
            window,
            local,
        )


def test_stop_returns_while_a_tick_is_planning_its_next_slot(core, fake):
    """A worker told to stop (SIGTERM) mid-tick must stop: APScheduler's shutdown(wait=True)
    held its job-store lock while the tick, ending in add_job for its next slot, waited for
    that same lock, and neither ever finished."""
    _setup(core, fake)
    planning, release = threading.Event(), threading.Event()

    class SlowTick(Scheduler):
        def tick(self):
            planning.set()
            release.wait(10)  # the tick is still running when stop() is called
            return super().tick()

    sched = SlowTick(core, sync_audience=False)
    sched.start(interval=60)
    assert planning.wait(10), "the first tick did not start"
    stopper = threading.Thread(target=sched.stop)
    stopper.start()
    release.set()
    stopper.join(15)
    assert not stopper.is_alive(), "stop() never returned: deadlocked with the running tick"
