"""Facts about a round that never change once it exists, remembered per process.

Every answer tap needs the item's scale and the per-segment "asked" counts, and its redraw needs
the question texts and the close date. None of these changes after the round is created: a
reworded question is a new version, segments are counted once when the round is made, and the
close time is fixed. Reading them again on every tap made the busiest minute of a round pay
for them many times over (bench/answers.py), so each is read once per process and kept, in a
bounded memo so a long-lived web process does not grow with every round it ever saw.

What is *not* kept here: anything about a person (their delivery, department, answers) and the
round's status, which are read fresh in the tap's own transaction.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.rounds.pulse_view import Question
from storage.models import (
    QuestionItem,
    QuestionVersion,
    Round,
    RoundItemSegment,
    Schedule,
    Workspace,
)

T = TypeVar("T")


class Memo:
    """A thread-safe, least-recently-used map; ``load`` runs outside the lock."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[return-value]
        value = load()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


_QUESTIONS = select(
    QuestionVersion.id, QuestionVersion.text, QuestionItem.scale, QuestionVersion.help
).join(QuestionItem, QuestionItem.id == QuestionVersion.item_id)


def load_questions(s: Session, version_ids: list[int]) -> list[Question]:
    """The questions of a delivery, in the order they were asked, read from the database."""
    rows = s.execute(_QUESTIONS.where(QuestionVersion.id.in_(version_ids))).all()
    by_id = {r[0]: Question(*r) for r in rows}
    return [by_id[v] for v in version_ids]


def questions(memo: Memo, s: Session, version_ids: list[int]) -> list[Question]:
    """The same, each question read once per process."""
    return [memo.get(("question", v), lambda v=v: load_questions(s, [v])[0]) for v in version_ids]


def asked(memo: Memo, s: Session, rnd: Round, version_id: int) -> dict[tuple[str, str], int]:
    """(dimension, segment) -> how many people in it were asked this item in this round.

    Keyed by the round's creation time as well as its id: SQLite may reuse the id of a deleted
    round, and a count from another round must never decide a segment.
    """
    round_id = rnd.id

    def load() -> dict[tuple[str, str], int]:
        rows = s.execute(
            select(
                RoundItemSegment.dimension, RoundItemSegment.segment, RoundItemSegment.asked
            ).where(
                RoundItemSegment.round_id == round_id, RoundItemSegment.version_id == version_id
            )
        )
        return {(d, seg): n for d, seg, n in rows}

    return memo.get(("asked", round_id, rnd.created_at, version_id), load)


def zone(s: Session, rnd: Round) -> str:
    """The round's time zone: its schedule's, else the workspace's."""
    tz = s.scalar(select(Schedule.timezone).where(Schedule.audience_id == rnd.audience_id))
    return tz or s.scalar(select(Workspace.timezone).where(Workspace.id == rnd.workspace_id))


def closes_label(memo: Memo, s: Session, rnd: Round) -> str:
    """The round's close date in its own time zone."""

    def load() -> str:
        return rnd.closes_at.astimezone(ZoneInfo(zone(s, rnd))).strftime("%A %-d %B")

    return memo.get(("closes", rnd.id, rnd.created_at), load)
