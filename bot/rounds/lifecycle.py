"""Rounds: create one (idempotently, per slot), close it, and decide reminders.

A round is created in one transaction together with its outbox (one delivery row per doctor),
so a crash either leaves no round or a round whose every delivery is waiting to be sent.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core import Core
from bot.rounds import answers, closing, membership, segments, windows
from questions.rotation import Person, choose
from storage.models import (
    Audience,
    Comment,
    Delivery,
    Department,
    Participant,
    QuestionItem,
    QuestionSet,
    QuestionVersion,
    Response,
    Round,
    RoundItemSegment,
    RoundParticipation,
    Schedule,
    SetSwitch,
    Workspace,
    random_id,
)

log = logging.getLogger("medpulse.rounds")


@dataclass(frozen=True)
class RotItem:
    """What rotation needs to know about an enabled item."""

    id: str
    theme: str
    audience: tuple[str, ...]
    headline: bool = False

    def applies_to(self, grade: str | None) -> bool:
        """Unknown grade gets only items for everyone (same rule as the bank's items)."""
        return "all" in self.audience or (grade is not None and grade in self.audience)


@dataclass
class RoundResult:
    round_id: int | None
    created: bool
    invited: int = 0
    reason: str = ""
    warnings: list[str] = field(default_factory=list)


class AudienceTooSmall(Exception):
    """Fewer eligible doctors than the minimum group size: answers could identify people."""


def enabled_items(
    s: Session, workspace_id: int, audience_id: int
) -> tuple[list[RotItem], dict[str, QuestionItem]]:
    """Items on for this audience: item enabled, and its set on (an audience switch wins)."""
    switch = (
        select(SetSwitch.enabled)
        .where(SetSwitch.set_id == QuestionSet.id, SetSwitch.audience_id == audience_id)
        .scalar_subquery()
    )
    rows = s.scalars(
        select(QuestionItem)
        .join(QuestionSet, QuestionSet.id == QuestionItem.set_id)
        .where(
            QuestionItem.workspace_id == workspace_id,
            QuestionItem.enabled.is_(True),
            func.coalesce(switch, QuestionSet.enabled).is_(True),
        )
        .order_by(QuestionItem.id)
    ).all()
    rot = [RotItem(r.key, r.theme, tuple(r.audience), r.headline) for r in rows]
    return rot, {r.key: r for r in rows}


def _history(s: Session, people: list[Participant]) -> dict[int, set[str]]:
    """Items each person has been asked in their current rotation cycle."""
    asked = {p.id: set(p.cycle_carry or ()) for p in people}
    starts = {p.id: p.cycle_start for p in people}
    rows = s.execute(
        select(Delivery.participant_id, Delivery.item_keys, Round.created_at)
        .join(Round, Round.id == Delivery.round_id)
        .where(Delivery.participant_id.in_(list(asked)), Delivery.status != "skipped")
    )
    for pid, keys, created in rows:
        start = starts.get(pid)
        if start is None or created > start:
            asked[pid].update(keys)
    return asked


def create_round(
    core: Core, audience_id: int, slot_key: str, *, manual: bool, n_questions: int | None = None
) -> RoundResult:
    """Create the round for ``slot_key`` and its outbox; a second call for the slot is a no-op."""
    now = core.clock.now()
    with core.db.Session() as s:
        existing = s.scalar(
            select(Round.id).where(Round.audience_id == audience_id, Round.slot_key == slot_key)
        )
        if existing is not None:
            return RoundResult(existing, created=False, reason="this slot already has a round")
    try:
        with core.db.Session() as s, s.begin():
            return _create_round_tx(core, s, audience_id, slot_key, manual, n_questions, now)
    except IntegrityError:
        with core.db.Session() as s:
            rid = s.scalar(
                select(Round.id).where(Round.audience_id == audience_id, Round.slot_key == slot_key)
            )
        return RoundResult(rid, created=False, reason="this slot already has a round")
    except AudienceTooSmall as exc:
        return RoundResult(None, created=False, reason=str(exc))


def _create_round_tx(core, s, audience_id, slot_key, manual, n_questions, now) -> RoundResult:
    audience = s.get(Audience, audience_id)
    ws = s.get(Workspace, audience.workspace_id)
    sched = s.scalar(select(Schedule).where(Schedule.audience_id == audience_id))
    tz = sched.timezone if sched else ws.timezone
    n = n_questions or (sched.questions_per_pulse if sched else 2)
    people = s.scalars(
        select(Participant)
        .where(
            Participant.audience_id == audience_id,
            Participant.active.is_(True),
            Participant.opted_out.is_(False),
        )
        .order_by(Participant.id)
    ).all()
    if len(people) < core.k:
        raise AudienceTooSmall(
            f"the audience has {len(people)} doctors who can be asked, fewer than the minimum "
            f"group size of {core.k}; with so few, answers could identify people"
        )
    # Rotation needs a seed that stays the same round after round (it keeps groups in step).
    seed = zlib.crc32(ws.team_id.encode()) & 0x7FFFFFFF
    rnd = Round(
        workspace_id=ws.id,
        audience_id=audience_id,
        slot_key=slot_key,
        status="open",
        manual=manual,
        seed=seed,
        created_at=now,
        period_start=now.astimezone(ZoneInfo(tz)).date(),
        closes_at=now + timedelta(days=sched.close_after_days if sched else 5),
        reminder_after_hours=sched.reminder_after_hours if sched else 24,
        out_of_hours=manual or bool(sched and sched.out_of_hours),
        invited=len(people),
        audience_changed=membership.note_round(audience, people, now),
        members_hash=membership.fingerprint(people),
    )
    s.add(rnd)
    s.flush()
    chosen = _rotate(s, ws.id, audience_id, people, n, core.k, seed, now)
    spread = timedelta(minutes=core.settings.spread_minutes)
    _write_outbox(s, rnd, people, chosen, tz, now, manual, spread)
    _write_segments(s, rnd, people, chosen)
    return RoundResult(rnd.id, created=True, invited=len(people))


def _rotate(
    s, workspace_id, audience_id, people, n, k, seed, now
) -> dict[int, tuple[list[str], list[int]]]:
    items, by_key = enabled_items(s, workspace_id, audience_id)
    headline = [i for i in items if i.headline]
    others = [i for i in items if not i.headline]
    history = _history(s, people)
    persons = [Person(key=str(p.id), grade=p.grade) for p in people]
    choice = choose(
        persons,
        others,
        {str(pid): keys for pid, keys in history.items()},
        n=n,
        min_group=k,
        seed=seed,
    )
    restarted = {int(key) for key in choice.cycle_restarted}
    picks = choice.items
    for p in people:
        if p.id in restarted:
            p.cycle_start = now
            p.cycle_carry = list(choice.new_cycle.get(str(p.id), []))
    versions = {
        it.key: s.scalar(
            select(QuestionVersion.id).where(
                QuestionVersion.item_id == it.id, QuestionVersion.version == it.current_version
            )
        )
        for it in by_key.values()
    }
    out = {}
    for p in people:
        keys = [h.id for h in headline] + list(picks.get(str(p.id), []))
        out[p.id] = (keys, [versions[key] for key in keys])
    return out


def _write_outbox(s, rnd, people, chosen, tz, now, manual, spread: timedelta) -> None:
    rows = []
    for p in people:
        keys, vids = chosen[p.id]
        if manual:
            when = now
        else:
            key = f"{rnd.id}:{p.id}"
            when = windows.spread(now, tz, p.preferred_window, key, rnd.out_of_hours, spread)
        rows.append(
            {
                "workspace_id": rnd.workspace_id,
                "round_id": rnd.id,
                "participant_id": p.id,
                "item_keys": keys,
                "version_ids": vids,
                "status": "pending",
                "not_before": when,
                "attempts": 0,
                "reminder": "none",
                "uncertain": False,
                "tidy": "none",
            }
        )
    s.execute(insert(Delivery), rows)


def _write_segments(s, rnd, people, chosen) -> None:
    """Count who was asked each item per segment; answers copy a segment only if it reaches k."""
    dept_names = dict(
        s.execute(
            select(Department.id, Department.name).where(
                Department.workspace_id == rnd.workspace_id
            )
        ).all()
    )
    counts: Counter[tuple[int, str, str]] = Counter()
    for p in people:
        for vid in chosen[p.id][1]:
            counts[(vid, "all", "")] += 1
            if p.department_id is not None:
                counts[(vid, "department", dept_names[p.department_id])] += 1
            if p.grade:
                counts[(vid, "grade", p.grade)] += 1
            if p.department_id is not None and p.grade:
                counts[(vid, "cell", f"{dept_names[p.department_id]}|{p.grade}")] += 1
    if counts:
        s.execute(
            insert(RoundItemSegment),
            [
                {"round_id": rnd.id, "version_id": v, "dimension": d, "segment": seg, "asked": n}
                for (v, d, seg), n in counts.items()
            ],
        )


def close_due_rounds(core: Core) -> list[int]:
    """Close every open round whose window has passed."""
    now = core.clock.now()
    with core.db.Session() as s:
        due = s.scalars(
            select(Round.id).where(Round.status == "open", Round.closes_at <= now)
        ).all()
    for rid in due:
        close_round(core, rid)
    return list(due)


# Whatever a delivery row says about reminders and claims can differ by whether the person had
# answered at reminder time; at close every row of the round is set to the same values.
UNIFORM = {
    "reminder": "none",
    "reminder_due": None,
    "attempts": 0,
    "uncertain": False,
}

# Tables whose old row versions could still say who answered or was reminded.
SCRUBBED = ("deliveries", "participants", "responses", "comments")


def close_round(core: Core, round_id: int) -> None:
    """Freeze participation, erase every link between people and answers, shuffle storage order.

    After this, nothing in the database can say who answered what: link hashes are gone, the
    round's identity rows are made uniform, and responses are rewritten in random order so even
    physical row order says nothing about when (or in which order) people answered. Every sent
    DM is queued for the tidy-up (bot.rounds.closing): one neutral closed message, reminder deleted.
    Then old row versions are scrubbed from disk (SQLite's WAL, PostgreSQL's dead tuples).
    """
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        rnd = s.get(Round, round_id, with_for_update=True)
        if rnd is None or rnd.status == "closed":
            return
        if membership.moved_since_created(s, rnd):
            rnd.audience_changed = True  # before anything below reads it
        _freeze_participation(core, s, rnd)
        segments.coarsen_round(s, rnd, core.k)
        in_flight = or_(Delivery.status == "sending", Delivery.reminder == "sending")
        s.execute(
            update(Delivery)
            .where(Delivery.round_id == round_id, ~in_flight)
            .values(**UNIFORM, claimed_by=None, claimed_at=None)
        )
        # No token once a trust has uninstalled: nothing in Slack can be tidied, but the rows
        # must still end the same for everyone (no reminder_message_id left saying who was reminded).
        gone = s.scalar(select(Workspace.uninstalled_at).where(Workspace.id == rnd.workspace_id))
        s.execute(
            update(Delivery)
            .where(Delivery.round_id == round_id, Delivery.status == "sent")
            .values(
                **closing.TIDIED
                if gone is not None
                else {"tidy": "pending", "tidy_due": now + closing.DELAY}
            )
        )
        _reshuffle(s, Response, round_id)
        _reshuffle(s, Comment, round_id)
        rnd.status, rnd.closed_at = "closed", now
    core.db.scrub(SCRUBBED)


def _freeze_participation(core: Core, s: Session, rnd: Round) -> None:
    """Invited and responded counts per (department, grade): the only record of who answered
    that outlives the round, and only as counts (derived from the links, which go next)."""
    rows = s.execute(
        answers.asked_rows(
            select(*answers.ASKED_COLUMNS, Participant.department_id, Participant.grade)
        ).where(Delivery.round_id == rnd.id, Delivery.status == "sent")
    ).all()
    done = answers.answered(core, s, [answers.Asked(*r[:5]) for r in rows])
    invited: Counter[tuple[int | None, str | None]] = Counter()
    responded: Counter[tuple[int | None, str | None]] = Counter()
    for r in rows:
        invited[(r[5], r[6])] += 1
        responded[(r[5], r[6])] += r[0] in done
    for (dept, grade), n in invited.items():
        s.add(
            RoundParticipation(
                round_id=rnd.id,
                department_id=dept,
                grade=grade,
                invited=n,
                responded=responded[(dept, grade)],
            )
        )


def _reshuffle(s: Session, model, round_id: int) -> None:
    cols = [c.name for c in model.__table__.columns if c.name not in ("id", "link_hash")]
    rows = [
        dict(r._mapping)
        for r in s.execute(
            select(*[model.__table__.c[c] for c in cols]).where(model.round_id == round_id)
        )
    ]
    if not rows:
        return
    random.SystemRandom().shuffle(rows)
    s.execute(delete(model).where(model.round_id == round_id))
    s.execute(insert(model), [{**r, "id": random_id(), "link_hash": None} for r in rows])


def pending_reminders(core: Core) -> int:
    """Mark reminders due for people who were sent a pulse and have not answered anything.

    Who has answered is derived from the answer links (bot.rounds.answers.answered), never stored.
    """
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        due = s.execute(
            answers.asked_rows(select(*answers.ASKED_COLUMNS)).where(
                Delivery.status == "sent",
                Delivery.reminder == "scheduled",
                Delivery.reminder_due <= now,
                Delivery.round_id.in_(
                    select(Round.id).where(Round.status == "open", Round.closes_at > now)
                ),
            )
        ).all()
        if not due:
            return 0
        asked = [answers.Asked(*r) for r in due]
        done = answers.answered(core, s, asked)
        remind = [a.delivery_id for a in asked if a.delivery_id not in done]
        for i in range(0, len(remind), 500):
            s.execute(
                update(Delivery)
                .where(Delivery.id.in_(remind[i : i + 500]), Delivery.reminder == "scheduled")
                .values(reminder="pending")
            )
        return len(remind)
