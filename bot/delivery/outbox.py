"""Delivery: the outbox worker that turns pending delivery rows into DMs, on any chat platform.

It builds each pulse as a view (``bot.rounds.pulse_view``) and sends it through the tenant's
chat gateway (``ChatGateway.send_dm``); it never sees a platform's message format.

Guarantees, and how:
* Nobody is lost: a row is ``pending`` until the platform confirmed the message and we recorded
  its reference; a claim that outlives its lease (the process died) goes back to ``pending``.
* Nobody gets a round twice: every DM carries a tag naming its delivery (``pulse:42``). After any
  failure whose outcome is unknown (timeout, 5xx, a dead process) the row is *uncertain*, and:
  - on a platform that can read a sent message back (``capabilities.read_back``: Slack, through
    message metadata), the worker first looks in the DM for that tag and records the message it
    finds instead of sending another;
  - on one that cannot (Teams), the worker sends again with the same tag, and the adapter's
    send is at-most-once per tag: the adapter must remember a tag it delivered (or may have
    delivered) and answer with that message instead of posting a second one. The core asks
    nothing else of it, and never calls ``find_sent`` there.
* The platform's limits: every send of a tenant passes the tenant's one adaptive limiter, keyed
  by (platform, tenant); a 429 pauses the whole tenant for ``Retry-After``.
* Several workers (PostgreSQL): claims use ``FOR UPDATE SKIP LOCKED``, so no row is taken twice.
* Fair across trusts: a claim shares its batch equally between the workspaces with work due
  (one trust's backlog cannot fill it) and interleaves them; a workspace paused by a 429 is left
  out of claims until the pause ends, and a send that would wait on its limiter for longer than
  ``HOLD`` hands its row back and its thread to the other workspaces instead of sleeping in it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update

from bot.admin import you_said_we_did as actions_log
from bot.chat.errors import Permanent, RateLimited, Transient, Undeliverable
from bot.chat.gateway import ChatGateway
from bot.chat.ids import MessageRef, Tenant
from bot.chat.views import PulseView
from bot.core import Core
from bot.delivery.limiter import LimiterRegistry
from bot.rounds import closing, windows
from bot.rounds.answers import Asked, answered
from bot.rounds.facts import load_questions
from bot.rounds.pulse_view import Question, pulse_view
from storage.models import (
    Delivery,
    Participant,
    Round,
    Schedule,
    Workspace,
)

log = logging.getLogger("medpulse.delivery")


@dataclass(frozen=True)
class Job:
    delivery_id: int
    kind: str  # pulse | reminder | tidy
    workspace_id: int = 0


# Per kind of job: its state column and when it is due.
COLUMNS = {
    "pulse": (Delivery.status, Delivery.not_before),
    "reminder": (Delivery.reminder, Delivery.reminder_due),
    "tidy": (Delivery.tidy, Delivery.tidy_due),
}


# A send that would wait longer than this on its workspace's limiter gives its thread back.
HOLD = 0.25


def fair_shares(waiting: dict[int, int], limit: int) -> dict[int, int]:
    """Split ``limit`` claims between workspaces with ``waiting`` rows: equal shares, and what a
    small workspace cannot use goes to the others (max-min fairness)."""
    shares = dict.fromkeys(waiting, 0)
    left = limit
    open_ = sorted(waiting, key=lambda w: (waiting[w], w))
    while left > 0 and open_:
        each = max(1, left // len(open_))
        for ws in list(open_):
            take = min(each, waiting[ws] - shares[ws], left)
            shares[ws] += take
            left -= take
            if shares[ws] == waiting[ws]:
                open_.remove(ws)
            if left == 0:
                break
    return {ws: n for ws, n in shares.items() if n}


def interleave(jobs: list[Job]) -> list[Job]:
    """Round-robin by workspace, so the send pool's queue alternates between trusts."""
    queues: dict[int, list[Job]] = {}
    for job in jobs:
        queues.setdefault(job.workspace_id, []).append(job)
    out: list[Job] = []
    while queues:
        for ws in list(queues):
            out.append(queues[ws].pop(0))
            if not queues[ws]:
                del queues[ws]
    return out


def _alive(worker_id: str) -> bool:
    """Whether the local process named in a claim (host-pid-nonce) is still running."""
    try:
        pid = int(worker_id.split("/")[0].rsplit("-", 2)[-2])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


class DeliveryWorker:
    """Claims due outbox rows and sends them concurrently, one limiter per workspace."""

    def __init__(
        self,
        core: Core,
        limiters: LimiterRegistry | None = None,
        concurrency: int = 8,
        lease: timedelta = timedelta(seconds=90),
        batch: int = 200,
        inline_attempts: int = 5,
        max_attempts: int = 20,
        backoff: float = 0.5,
    ) -> None:
        self.core = core
        self.limiters = limiters or LimiterRegistry()
        self.worker_id = f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.concurrency = concurrency
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="send")
        self.lease, self.batch = lease, batch
        self.inline_attempts, self.max_attempts, self.backoff = (
            inline_attempts,
            max_attempts,
            backoff,
        )
        self.stopping = threading.Event()
        self.held_back = False  # the last claim left out a paused workspace that had work
        self._inflight: Counter[int] = Counter()  # rows claimed and not finished, per workspace
        self._inflight_lock = threading.Lock()

    # -- claiming -------------------------------------------------------------------------
    def _claim(self, kind: str, limit: int | None = None) -> list[Job]:
        """Take up to ``batch`` due rows atomically, shared fairly between workspaces.

        The UPDATE only matches rows still pending, under a claim token unique to this batch; on
        PostgreSQL the candidate rows are also locked with SKIP LOCKED so concurrent workers
        take different rows instead of queueing behind each other. Workspaces paused by a 429
        and uninstalled ones are left out (``self.held_back`` says whether any had work due).
        """
        now = self.core.clock.now()
        col, due = COLUMNS[kind]
        token = f"{self.worker_id}/{uuid.uuid4().hex[:8]}"
        with self.core.db.Session() as s, s.begin():
            for ws, n in self._shares(s, col, due, now, limit or self.batch).items():
                candidates = (
                    select(Delivery.id)
                    .where(col == "pending", due <= now, Delivery.workspace_id == ws)
                    .order_by(due, Delivery.id)
                    .limit(n)
                )
                if self.core.db.is_postgres:
                    candidates = candidates.with_for_update(skip_locked=True)
                # Two statements: PostgreSQL may evaluate a LIMIT subquery inside UPDATE ... IN
                # more than once, which would claim more than the workspace's share.
                ids = list(s.scalars(candidates))
                s.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids), col == "pending")
                    .values({col.key: "sending", "claimed_by": token, "claimed_at": now})
                    .execution_options(synchronize_session=False)
                )
            rows = s.execute(
                select(Delivery.id, Delivery.workspace_id)
                .where(Delivery.claimed_by == token, col == "sending")
                .order_by(due, Delivery.id)
            ).all()
        return interleave([Job(i, kind, ws) for i, ws in rows])

    def _shares(self, s, col, due, now, limit: int) -> dict[int, int]:
        """How many due rows to claim per workspace: none for a workspace whose limiter cannot
        send within ``HOLD`` (paused by a 429) or has as many in flight as it can use; the
        rest share ``limit`` fairly. One index seek per workspace (``ix_deliveries_ws_*``),
        never a count of a backlog."""
        paused = set(self.limiters.busy(HOLD))
        has_due = (
            select(Delivery.id)
            .where(Delivery.workspace_id == Workspace.id, col == "pending", due <= now)
            .exists()
        )
        waiting = s.execute(
            select(Workspace.id, Workspace.team_id).where(
                Workspace.uninstalled_at.is_(None), has_due
            )
        ).all()
        tenants = {ws: self.core.tenant(team) for ws, team in waiting}
        ready = {ws: t for ws, t in tenants.items() if t not in paused}
        if len(ready) < len(waiting):
            self.held_back = True
        room = {ws: n for ws, n in self._room(ready).items() if n > 0}
        return fair_shares(room, limit)

    def _claim_due(self, limit: int | None = None) -> list[Job]:
        """Pulses, reminders and closing tidy-ups due now; ``held_back`` tells whether a paused
        workspace waited."""
        self.held_back = False
        return [job for kind in COLUMNS for job in self._claim(kind, limit)]

    def reclaim_stale(self) -> int:
        """Rows claimed by a process that died go back to pending, marked uncertain.

        A claim is stale when its lease ran out, or at once when it belongs to a process on
        this host that no longer exists (a restart after a crash need not wait for the lease).
        """
        cutoff = self.core.clock.now() - self.lease
        dead = self._dead_local_claimants()
        n = 0
        with self.core.db.Session() as s, s.begin():
            for col, _ in COLUMNS.values():
                res = s.execute(
                    update(Delivery)
                    .where(
                        col == "sending",
                        or_(
                            Delivery.claimed_at < cutoff,
                            Delivery.claimed_at.is_(None),
                            Delivery.claimed_by.in_(dead),
                        ),
                    )
                    .values({col.key: "pending", "uncertain": True})
                )
                n += res.rowcount or 0
        return n

    def _dead_local_claimants(self) -> list[str]:
        host = os.uname().nodename
        with self.core.db.Session() as s:
            owners = s.scalars(
                select(Delivery.claimed_by)
                .where(
                    or_(*(col == "sending" for col, _ in COLUMNS.values())),
                    Delivery.claimed_by.like(f"{host}-%"),
                )
                .distinct()
            ).all()
        return [o for o in owners if not o.startswith(self.worker_id) and not _alive(o)]

    # -- running --------------------------------------------------------------------------
    def run_once(self) -> int:
        """Claim what is due and send it; returns how many jobs were handled."""
        if self.stopping.is_set():
            return 0
        self.reclaim_stale()
        jobs = self._claim_due()
        if not jobs and self.held_back:  # only paused workspaces have work: wait out the pause
            self.stopping.wait(min(60.0, min(self.limiters.busy(HOLD).values(), default=0.0)))
            jobs = self._claim_due()
        futures = [self._submit(job) for job in jobs]
        for f in futures:
            f.result()
        return len(jobs)

    def run_forever(self, stop: threading.Event, idle: float = 1.0) -> None:
        """A pipeline: top up the pool as sends finish, so one slow send (a retry backing off)
        never leaves the other threads idle waiting for a whole batch."""
        inflight: set = set()
        last_reclaim = 0.0
        while not stop.is_set() and not self.stopping.is_set():
            try:
                if time.monotonic() - last_reclaim > 10:
                    self.reclaim_stale()
                    last_reclaim = time.monotonic()
                room = 2 * self.concurrency - len(inflight)
                jobs = self._claim_due(room) if room > 0 else []
                inflight |= {self._submit(job) for job in jobs}
                if not inflight:
                    stop.wait(idle)
                    continue
                done, inflight = wait(inflight, timeout=idle, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()
            except Exception:
                log.exception("delivery loop error")
                stop.wait(idle)
        for f in inflight:
            f.result()

    def shutdown(self) -> None:
        """Finish in-flight sends; jobs not yet started go back to pending."""
        self.stopping.set()
        self.limiters.close()
        self.pool.shutdown(wait=True)

    # -- one job --------------------------------------------------------------------------
    def _submit(self, job: Job):
        with self._inflight_lock:
            self._inflight[job.workspace_id] += 1
        return self.pool.submit(self._run_tracked, job)

    def _run_tracked(self, job: Job) -> None:
        try:
            self._run_job(job)
        finally:
            with self._inflight_lock:
                self._inflight[job.workspace_id] -= 1

    def _room(self, tenant_of: dict[int, Tenant]) -> dict[int, int]:
        """How many more rows each workspace may have in flight: what its limiter can send
        within ``HOLD`` (so a slow workspace's rows do not sit in the pool's queue ahead of
        another trust's), less what it already has."""
        with self._inflight_lock:
            held = dict(self._inflight)
        return {
            ws: self.limiters.useful(tenant, horizon=HOLD) - held.get(ws, 0)
            for ws, tenant in tenant_of.items()
        }

    def _run_job(self, job: Job) -> None:
        if self.stopping.is_set():
            self._release(job)
            return
        try:
            if job.kind == "tidy":
                closing.tidy(self, job)
                return
            ctx = self._load(job)
            if ctx is None:
                return
            self._send(job, *ctx)
        except Exception:
            log.exception("delivery %s failed unexpectedly", job.delivery_id)
            self._release(job, attempt=True)

    def _release(self, job: Job, attempt: bool = False, delay: float = 0.0) -> None:
        col, due = (c.key for c in COLUMNS[job.kind])
        when = self.core.clock.now() + timedelta(seconds=delay)
        with self.core.db.Session() as s, s.begin():
            d = s.get(Delivery, job.delivery_id)
            setattr(d, col, "pending")
            setattr(d, due, when)
            d.claimed_by = None
            if attempt:
                d.attempts += 1
                d.uncertain = True
                if d.attempts >= self.max_attempts:
                    setattr(d, col, "skipped" if job.kind == "reminder" else "failed")

    def _load(self, job: Job):
        """Everything needed to render the DM; None when it should no longer be sent."""
        with self.core.db.Session() as s, s.begin():
            d = s.get(Delivery, job.delivery_id)
            rnd = s.get(Round, d.round_id)
            p = s.get(Participant, d.participant_id)
            team = s.scalar(select(Workspace.team_id).where(Workspace.id == d.workspace_id))
            closed = rnd.status != "open" or rnd.closes_at <= self.core.clock.now()
            if closed or p.opted_out or (job.kind == "reminder" and self._answered(s, d, p, team)):
                if job.kind == "pulse":
                    d.status, d.error = "skipped", "closed" if closed else "opted_out"
                else:  # after close every row reads "none" (rounds.UNIFORM)
                    d.reminder = "none" if closed else "skipped"
                return None
            questions = load_questions(s, d.version_ids)
            tz = s.scalar(select(Schedule.timezone).where(Schedule.audience_id == rnd.audience_id))
            info = {
                "team": team,
                "user": p.user_id,
                "round_id": rnd.id,
                "closes": rnd.closes_at,
                "tz": tz or self.core.settings.timezone,
                "window": p.preferred_window,
                "reminder_hours": rnd.reminder_after_hours,
                "out_of_hours": rnd.out_of_hours,
                "uncertain": d.uncertain,
                "claimed_at": d.claimed_at,
            }
            return info, questions

    def _answered(self, s, d: Delivery, p: Participant, team: str) -> bool:
        """Whether this person answered since their reminder was marked due (derived from the
        answer links: nothing stored says so)."""
        asked = Asked(d.id, d.round_id, team, p.user_id, d.version_ids)
        return d.id in answered(self.core, s, [asked])

    def _view(self, job: Job, info: dict, questions: list[Question]) -> PulseView:
        from zoneinfo import ZoneInfo

        closes = info["closes"].astimezone(ZoneInfo(info["tz"])).strftime("%A %-d %B")
        note = self._latest_action(info) if job.kind == "pulse" else None
        return pulse_view(
            info["round_id"],
            questions,
            self.core.k,
            closes,
            reminder=job.kind == "reminder",
            action_note=note,
        )

    def _latest_action(self, info: dict) -> str | None:
        """ "You said, we did": the newest action for this doctor, on their pulse (not reminders)."""
        found = actions_log.note_for(self.core, info["team"], info["user"], info["round_id"])
        if found is None:
            return None
        info["action_id"], text = found
        return text

    def _send(self, job: Job, info: dict, questions: list[Question]) -> None:
        gw = self.core.gateway(info["team"])
        limiter = self.limiters.for_tenant(self.core.tenant(info["team"]))
        tag = f"{job.kind}:{job.delivery_id}"
        view = self._view(job, info, questions)
        # Without read-back the same tag goes out again and the adapter's send is at-most-once.
        check = info["uncertain"] and gw.capabilities.read_back
        for attempt in range(self.inline_attempts):
            if check:
                found = self._look_for(gw, info, tag)
                if found is not None:
                    self._done(job, info, found)
                    return
            if limiter.ready_in() > HOLD or not limiter.acquire(timeout=HOLD):
                # Not an attempt: the thread goes to another trust's DM, and claims skip this
                # tenant until its limiter can send again.
                self._release(job)
                return
            try:
                sent = gw.send_dm(info["user"], view, tag=tag)
            except RateLimited as exc:
                limiter.penalise(exc.retry_after or 1.0)
                continue  # not delivered: the platform refused it, safe to resend unchecked
            except Transient:
                check = gw.capabilities.read_back
                self._mark_uncertain(job)
                time.sleep(self.backoff * (2**attempt))
                continue
            except Undeliverable as exc:
                self._undeliverable(job, exc.error)
                return
            except Permanent as exc:
                log.error("delivery %s refused by the platform: %s", job.delivery_id, exc.error)
                self._fail(job, exc.error)
                return
            limiter.reward()
            self._done(job, info, sent)
            return
        self._release(job, attempt=True, delay=60)

    def _look_for(self, gw: ChatGateway, info: dict, tag: str) -> MessageRef | None:
        """The message an earlier, ambiguous attempt may have delivered (read-back platforms)."""
        try:
            since = (info["claimed_at"] or self.core.clock.now()) - timedelta(days=1)
            return gw.find_sent(info["user"], tag, since.timestamp())
        except (Transient, RateLimited):
            raise
        except Exception:
            log.warning("could not check for an earlier message; sending", exc_info=True)
            return None

    def _mark_uncertain(self, job: Job) -> None:
        with self.core.db.Session() as s, s.begin():
            s.execute(update(Delivery).where(Delivery.id == job.delivery_id).values(uncertain=True))

    def _done(self, job: Job, info: dict, sent: MessageRef) -> None:
        channel, ts = sent.conversation, sent.message
        now = self.core.clock.now()
        with self.core.db.Session() as s, s.begin():
            d = s.get(Delivery, job.delivery_id)
            d.uncertain, d.claimed_by = False, None
            if job.kind == "pulse":
                # The person's row is written for pulses only, which everyone gets: written for a
                # reminder, its row version (PostgreSQL's xmin) would say who had not answered.
                p = s.get(Participant, d.participant_id)
                p.conversation_id, p.undeliverable = channel, None
                if info.get("action_id"):
                    actions_log.mark_shown(s, p.id, info["action_id"])
                d.status, d.conversation_id, d.message_id, d.sent_at, d.error = (
                    "sent",
                    channel,
                    ts,
                    now,
                    None,
                )
                if s.get(Round, d.round_id).status != "open":  # it closed while this was sent
                    d.tidy, d.tidy_due = "pending", now + closing.DELAY
                    return
                due = windows.next_allowed(
                    now + timedelta(hours=info["reminder_hours"]),
                    info["tz"],
                    info["window"],
                    info["out_of_hours"],
                )
                if info["reminder_hours"] > 0 and due < info["closes"] and d.reminder == "none":
                    d.reminder, d.reminder_due = "scheduled", due
            else:
                d.reminder, d.reminder_message_id = "sent", ts

    def _undeliverable(self, job: Job, error: str) -> None:
        with self.core.db.Session() as s, s.begin():
            d = s.get(Delivery, job.delivery_id)
            if job.kind == "pulse":
                d.status, d.error = "undeliverable", error
                s.get(Participant, d.participant_id).undeliverable = error
            else:
                d.reminder = "skipped"

    def _fail(self, job: Job, error: str) -> None:
        with self.core.db.Session() as s, s.begin():
            d = s.get(Delivery, job.delivery_id)
            if job.kind == "pulse":
                d.status, d.error = "failed", error
            else:
                d.reminder = "skipped"
