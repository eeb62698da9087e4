"""The scheduler: the schedule tables are the truth; APScheduler is only the alarm clock.

Every ``tick`` reads the schedules and decides from them alone: which slot is due (a missed slot
still inside the grace window runs once; an older one is logged as skipped), which rounds close,
which reminders fall due, which summaries to post. Creating a round is idempotent per slot (a
unique key), so two ticks, two processes or a restart can never make two rounds.

APScheduler (3.11) fires ``tick`` on an interval (15 s, so a change made from another process
applies within a minute, and a standby takes over a dead scheduler as fast) and at each schedule's exact next slot (a date job rebuilt on every
tick). With an injected clock, tests and the demo call ``tick`` directly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from bot.admin import retention
from bot.core import Core
from bot.people import uninstall
from bot.rounds import lifecycle as rounds
from bot.rounds import slots
from storage.models import Audience, Schedule

log = logging.getLogger("medpulse.scheduler")

DEFAULT_GRACE = timedelta(hours=6)


def cadence_of(row: Schedule) -> slots.Cadence:
    hh, mm = (int(x) for x in row.local_time.split(":"))
    return slots.Cadence(row.cadence, row.weekday, time(hh, mm), row.timezone, row.anchor)


@dataclass
class TickReport:
    created: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    reminders: int = 0
    summaries: int = 0


class Leadership:
    """Exactly one scheduler at a time across processes.

    On PostgreSQL a session-level advisory lock held on a dedicated connection: when the holding
    process dies its connection closes, the lock is freed, and a standby takes it on its next
    attempt (every tick interval, so well within a minute). SQLite deployments are one process
    (``medpulse run``), so there the lock is trivially held.
    """

    KEY = 0x6D656470  # "medp"

    def __init__(self, db) -> None:
        self.db = db
        self._conn = None

    def holds(self) -> bool:
        if not self.db.is_postgres:
            return True
        from sqlalchemy import text

        try:
            if self._conn is not None:
                self._conn.execute(text("SELECT 1"))
                return True
            conn = self.db.engine.connect()
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.KEY}).scalar()
            conn.commit()
            if got:
                self._conn = conn
                log.info("this process now runs the scheduler")
                return True
            conn.close()
            return False
        except Exception:
            log.warning("lost the scheduler lock's connection; will try again", exc_info=True)
            self.release()
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a dead connection
                pass
            self._conn = None


class Scheduler:
    """Decides, from the database and the clock, what is due; safe to run on several hosts."""

    def __init__(
        self,
        core: Core,
        grace: timedelta = DEFAULT_GRACE,
        sync_audience: bool = True,
        on_summary: Callable[[Core, datetime], int] | None = None,
    ) -> None:
        self.core = core
        self.grace = grace
        self.sync_audience = sync_audience
        self.on_summary = on_summary
        self._logged_skips: set[str] = set()
        self._last_purge: datetime | None = None
        self._aps = None
        self._ticking = threading.Lock()  # held while a tick runs (stop waits on it)
        self.leadership = Leadership(core.db)

    def tick(self) -> TickReport:
        report = TickReport()
        now = self.core.clock.now()
        for _sched_id, audience_id, team, cad, since in self._schedules():
            run, skipped = slots.due_slot(cad, now, self.grace, since)
            if skipped is not None:
                self._log_skip(audience_id, cad, skipped, report)
            if run is not None:
                self._run_slot(team, audience_id, cad, run, report)
        report.closed = rounds.close_due_rounds(self.core)
        report.reminders = rounds.pending_reminders(self.core)
        if self.on_summary is not None:
            report.summaries = self.on_summary(self.core, now)
        if retention.retention_due(self._last_purge, now):
            uninstall.purge_expired(self.core)
            purged = retention.apply_retention(self.core)
            self._last_purge = now
            if purged.responses or purged.comments:
                log.info(
                    "retention: deleted %s answers and %s comments",
                    purged.responses,
                    purged.comments,
                )
        return report

    def _schedules(self):
        from storage.models import Workspace

        with self.core.db.Session() as s:
            rows = s.execute(
                select(Schedule, Workspace.team_id)
                .join(Audience, Audience.id == Schedule.audience_id)
                .join(Workspace, Workspace.id == Schedule.workspace_id)
                .where(Schedule.paused.is_(False), Workspace.uninstalled_at.is_(None))
            ).all()
        for sched, team in rows:
            try:
                cad = cadence_of(sched)
            except ValueError:
                log.error("schedule %s is invalid; skipping it", sched.id)
                continue
            yield sched.id, sched.audience_id, team, cad, sched.updated_at

    def _log_skip(
        self, audience_id: int, cad: slots.Cadence, slot: datetime, report: TickReport
    ) -> None:
        key = f"{audience_id}:{slots.slot_key(cad, slot)}"
        with self.core.db.Session() as s:
            exists = s.scalar(
                select(rounds.Round.id).where(
                    rounds.Round.audience_id == audience_id,
                    rounds.Round.slot_key == slots.slot_key(cad, slot),
                )
            )
        if exists is None and key not in self._logged_skips:
            self._logged_skips.add(key)
            report.skipped.append(key)
            log.warning(
                "skipped the pulse slot %s for audience %s: it was missed by more than %s",
                slots.slot_key(cad, slot),
                audience_id,
                self.grace,
            )

    def _run_slot(
        self, team: str, audience_id: int, cad: slots.Cadence, slot: datetime, report: TickReport
    ) -> None:
        key = slots.slot_key(cad, slot)
        with self.core.db.Session() as s:
            exists = s.scalar(
                select(rounds.Round.id).where(
                    rounds.Round.audience_id == audience_id, rounds.Round.slot_key == key
                )
            )
        if exists is not None:
            return
        if self.sync_audience:
            try:
                from bot.people.audience import sync_audience

                sync_audience(self.core, team, audience_id)
            except Exception:
                log.warning(
                    "audience sync failed before slot %s; using the last sync", key, exc_info=True
                )
        result = rounds.create_round(self.core, audience_id, key, manual=False)
        if result.created:
            report.created.append(result.round_id)
            log.info(
                "round %s created for slot %s (%s invited)", result.round_id, key, result.invited
            )
        elif result.round_id is None:
            log.warning("no round for slot %s: %s", key, result.reason)

    # -- APScheduler wiring ---------------------------------------------------------------
    def start(self, interval: float = 15.0) -> None:
        """Run ``tick`` every ``interval`` seconds and at each schedule's exact next slot."""
        from apscheduler.schedulers.background import BackgroundScheduler

        aps = BackgroundScheduler(
            timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
        )
        aps.add_job(
            self._tick_and_plan,
            "interval",
            seconds=interval,
            id="tick",
            next_run_time=datetime.now(UTC),
        )
        self._aps = aps  # before start: the first tick runs at once and checks it
        aps.start()

    def _tick_and_plan(self) -> None:
        with self._ticking:
            if self._aps is None or not self.leadership.holds():
                return  # stopping, or standing by: another process runs the schedule
            try:
                self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            self._plan_next()

    def _plan_next(self) -> None:
        """A date job at the soonest upcoming slot, so rounds start on the minute, not up to 30 s late."""
        aps = self._aps
        if aps is None:
            return
        now = self.core.clock.now()
        upcoming = [slots.next_slot(cad, now) for _, _, _, cad, _ in self._schedules()]
        if upcoming:
            aps.add_job(
                self._tick_and_plan,
                "date",
                run_date=min(upcoming),
                id="next-slot",
                replace_existing=True,
                misfire_grace_time=int(self.grace.total_seconds()),
            )

    def stop(self) -> None:
        """Stop taking jobs, then wait for a running tick to finish.

        Not ``shutdown(wait=True)``: APScheduler holds its job-store lock while it waits for
        running jobs, and a tick that ends by planning its next slot (``add_job``) needs that
        lock, so the two would wait on each other for ever (seen as a worker that ignored
        SIGTERM). Our own lock waits for the tick instead.
        """
        aps, self._aps = self._aps, None
        if aps is not None:
            aps.shutdown(wait=False)
            with self._ticking:
                pass
        self.leadership.release()
