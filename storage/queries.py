"""Aggregation for summaries and exports, in SQL.

Every function returns sufficient statistics (counts, sums, sums of squares) grouped in the
database, never raw answers, so a summary over a million stored answers is a handful of GROUP BYs.
Nothing here decides what may be shown: ``storage.anonymity`` does, on these figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from storage.models import (
    Comment,
    Department,
    QuestionItem,
    QuestionVersion,
    Response,
    Round,
    RoundParticipation,
)


@dataclass(frozen=True)
class Period:
    round_id: int
    start: date
    audience_changed: bool = False  # nothing finer than the whole audience is published


@dataclass(frozen=True)
class ItemStats:
    """Sufficient statistics of one question version in one round."""

    round_id: int
    version_id: int
    n: int
    total: int
    total_sq: int
    high: int  # agree5: 4 or 5; yes_no_unsure: yes
    low: int  # agree5: 1 or 2


@dataclass(frozen=True)
class VersionInfo:
    version_id: int
    key: str
    text: str
    scale: str
    theme: str
    source: str
    reverse: bool
    headline: bool
    version: int = 1  # the wording's number: answers to different wordings never pool


def closed_periods(s: Session, workspace_id: int, limit: int = 12) -> list[Period]:
    """The latest closed rounds, newest first: one round is one period."""
    rows = s.execute(
        select(Round.id, Round.period_start, Round.audience_changed)
        .where(Round.workspace_id == workspace_id, Round.status == "closed")
        .order_by(Round.closed_at.desc(), Round.id.desc())
        .limit(limit)
    ).all()
    return [Period(r, d, bool(c)) for r, d, c in rows]


@dataclass(frozen=True)
class SegmentStats:
    """``ItemStats`` of one segment (a department id or a grade) of one version in one round."""

    segment: int | str
    stats: ItemStats


def _item_columns():
    """Sufficient statistics, with no join: the counts every scale might need are all taken
    (value >= 4, value <= 2, value == 1) and the right one is picked per scale afterwards, so
    the GROUP BY over the answers touches the answers table alone."""
    return (
        func.count(),
        func.sum(Response.value),
        func.sum(Response.value * Response.value),
        func.sum(case((Response.value >= 4, 1), else_=0)),
        func.sum(case((Response.value.between(1, 2), 1), else_=0)),
        func.sum(case((Response.value == 1, 1), else_=0)),
    )


def _item_query(round_ids: list[int], *group):
    return (
        select(Response.round_id, Response.version_id, *group, *_item_columns())
        .where(Response.round_id.in_(round_ids))
        .group_by(Response.round_id, Response.version_id, *group)
    )


def _scales(s: Session, version_ids: set[int]) -> dict[int, str]:
    if not version_ids:
        return {}
    rows = s.execute(
        select(QuestionVersion.id, QuestionItem.scale)
        .join(QuestionItem, QuestionItem.id == QuestionVersion.item_id)
        .where(QuestionVersion.id.in_(version_ids))
    )
    return dict(rows.all())


def _stats(rid: int, vid: int, nums, scale: str | None) -> ItemStats:
    """``high`` is "yes" for yes_no_unsure and "agree or strongly agree" otherwise; ``low``
    (disagree or strongly disagree) only means something for agree5."""
    n, total, total_sq, ge4, le2, eq1 = (int(x or 0) for x in nums)
    if scale == "yes_no_unsure":
        return ItemStats(rid, vid, n, total, total_sq, eq1, 0)
    return ItemStats(rid, vid, n, total, total_sq, ge4, le2 if scale == "agree5" else 0)


def item_stats(
    s: Session, round_ids: list[int], department_id: int | None = None
) -> list[ItemStats]:
    """Per round and version: n, sum, sum of squares, favourable/yes and unfavourable counts."""
    if not round_ids:
        return []
    q = _item_query(round_ids)
    if department_id is not None:
        q = q.where(Response.department_id == department_id)
    rows = s.execute(q).all()
    scales = _scales(s, {r[1] for r in rows})
    return [_stats(rid, vid, nums, scales.get(vid)) for rid, vid, *nums in rows]


def segment_stats(s: Session, round_ids: list[int], dimension: str) -> list[SegmentStats]:
    """``item_stats`` per department id or per grade; answers with no segment recorded are left
    out (callers derive that group as the total minus the recorded ones)."""
    if not round_ids:
        return []
    col = {"department": Response.department_id, "grade": Response.grade}[dimension]
    rows = s.execute(_item_query(round_ids, col).where(col.is_not(None))).all()
    scales = _scales(s, {r[1] for r in rows})
    return [
        SegmentStats(seg, _stats(rid, vid, nums, scales.get(vid))) for rid, vid, seg, *nums in rows
    ]


def answer_cross(
    s: Session, round_ids: list[int]
) -> dict[tuple[int, int], dict[tuple[int | None, str | None], int]]:
    """Answers per (round, version) and (department id, grade) as recorded on them (either may
    be NULL): exactly the cells the department and grade breakdowns are made from."""
    if not round_ids:
        return {}
    rows = s.execute(
        select(
            Response.round_id,
            Response.version_id,
            Response.department_id,
            Response.grade,
            func.count(),
        )
        .where(Response.round_id.in_(round_ids))
        .group_by(Response.round_id, Response.version_id, Response.department_id, Response.grade)
    )
    out: dict[tuple[int, int], dict[tuple[int | None, str | None], int]] = {}
    for rid, vid, dept, grade, n in rows:
        out.setdefault((rid, vid), {})[(dept, grade)] = int(n)
    return out


def distributions(
    s: Session, round_id: int, version_ids: set[int], department_id: int | None = None
) -> dict[int, dict[int, int]]:
    """Answers per value for several versions of one round, in one GROUP BY."""
    if not version_ids:
        return {}
    q = (
        select(Response.version_id, Response.value, func.count())
        .where(Response.round_id == round_id, Response.version_id.in_(version_ids))
        .group_by(Response.version_id, Response.value)
    )
    if department_id is not None:
        q = q.where(Response.department_id == department_id)
    out: dict[int, dict[int, int]] = {v: {} for v in version_ids}
    for vid, value, n in s.execute(q):
        out[vid][int(value)] = int(n)
    return out


def distribution(
    s: Session, round_id: int, version_id: int, department_id: int | None = None
) -> dict[int, int]:
    q = (
        select(Response.value, func.count())
        .where(Response.round_id == round_id, Response.version_id == version_id)
        .group_by(Response.value)
    )
    if department_id is not None:
        q = q.where(Response.department_id == department_id)
    return dict(s.execute(q).all())


def versions(s: Session, version_ids: set[int]) -> dict[int, VersionInfo]:
    rows = s.execute(
        select(
            QuestionVersion.id,
            QuestionItem.key,
            QuestionVersion.text,
            QuestionItem.scale,
            QuestionItem.theme,
            QuestionItem.source,
            QuestionItem.reverse,
            QuestionItem.headline,
            QuestionVersion.version,
        )
        .join(QuestionItem, QuestionItem.id == QuestionVersion.item_id)
        .where(QuestionVersion.id.in_(version_ids))
    ).all()
    return {r[0]: VersionInfo(*r) for r in rows}


@dataclass(frozen=True)
class Participation:
    round_id: int
    department: str | None
    grade: str | None
    invited: int
    responded: int
    audience_changed: bool = False  # the round's audience changed since the one before


def participation(s: Session, round_ids: list[int]) -> list[Participation]:
    """Invited and responded per round, department and grade (frozen when each round closed)."""
    if not round_ids:
        return []
    rows = s.execute(
        select(
            RoundParticipation.round_id,
            Department.name,
            RoundParticipation.grade,
            func.sum(RoundParticipation.invited),
            func.sum(RoundParticipation.responded),
            Round.audience_changed,
        )
        .join(Round, Round.id == RoundParticipation.round_id)
        .outerjoin(Department, Department.id == RoundParticipation.department_id)
        .where(RoundParticipation.round_id.in_(round_ids))
        .group_by(
            RoundParticipation.round_id,
            Department.name,
            RoundParticipation.grade,
            Round.audience_changed,
        )
    ).all()
    return [Participation(r, d, g, int(i), int(n), bool(c)) for r, d, g, i, n, c in rows]


def has_closed_round(s: Session, workspace_id: int) -> bool:
    """Whether the workspace has any closed round: before one, there is nothing to summarise
    or export."""
    return (
        s.scalar(
            select(Round.id)
            .where(Round.workspace_id == workspace_id, Round.status == "closed")
            .limit(1)
        )
        is not None
    )


def comment_cells(s: Session, round_ids: list[int]) -> dict[tuple[int | None, str | None], int]:
    """Comments per (department id, theme) as stored: the finest cells of the comment lists."""
    if not round_ids:
        return {}
    rows = s.execute(
        select(Comment.department_id, Comment.theme, func.count())
        .where(Comment.round_id.in_(round_ids))
        .group_by(Comment.department_id, Comment.theme)
    )
    return {(d, t): int(n) for d, t, n in rows}


def comment_texts(
    s: Session, round_ids: list[int], theme: str | None = None, department_id: int | None = None
) -> list[tuple[int | None, str | None, str]]:
    """(department id, theme, text) in random order: storage order must not leak answer order."""
    q = select(Comment.department_id, Comment.theme, Comment.text).where(
        Comment.round_id.in_(round_ids)
    )
    if theme:
        q = q.where(Comment.theme == theme)
    if department_id is not None:
        q = q.where(Comment.department_id == department_id)
    return [tuple(r) for r in s.execute(q.order_by(func.random()))]


def respondents_per_round(s: Session, round_ids: list[int]) -> dict[int, int]:
    """Respondents per round from frozen participation (people, not answers)."""
    if not round_ids:
        return {}
    rows = s.execute(
        select(RoundParticipation.round_id, func.sum(RoundParticipation.responded))
        .where(RoundParticipation.round_id.in_(round_ids))
        .group_by(RoundParticipation.round_id)
    ).all()
    return {r: int(n or 0) for r, n in rows}


def department_names(s: Session, workspace_id: int) -> dict[int, str]:
    return dict(
        s.execute(
            select(Department.id, Department.name).where(Department.workspace_id == workspace_id)
        ).all()
    )


def department_id(s: Session, workspace_id: int, name: str) -> int | None:
    return s.scalar(
        select(Department.id).where(
            Department.workspace_id == workspace_id, Department.name == name
        )
    )
