"""Segments decided per round and item, for everyone at once.

The segment (department, grade) stored on an answer is a disclosure of its own: a database
reader sees the rows grouped by it. If the segment fell back person by person (a consultant in a
one-consultant department stored with the department but no grade), a row's missing grade would
itself point at a small cell. So the segment is decided for a whole item from the item's counts,
never for one person:

1. each dimension keeps only its values with at least ``k`` people; the others are merged into
   "not recorded", and if that pool is then between 1 and k - 1 the smallest kept values join it
   until it is 0 or at least ``k``;
2. the item keeps both dimensions if every resulting (department, grade) cell is 0 or at least
   ``k``; else departments only; else grades only; else no segment at all.

So every stored (item, department), (item, grade) and (item, department, grade) group, the
"not recorded" ones included, holds 0 or at least ``k`` answers. At answer time the plan is
made from how many were asked (``_segment`` in bot.rounds.answers), at close again from the answers
themselves (``coarsen_round``), which can only merge further. Comments follow the same rule over
the round's comments; a round whose audience changed (bot.rounds.membership) keeps no segment at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import Comment, Response, Round

Cell = tuple[Hashable, Hashable]  # (department, grade); None = not recorded


def _kept(counts: Mapping[Hashable, int], k: int) -> set:
    """Values of one dimension that may be stored; the pool of the rest is 0 or >= k."""
    kept = {v for v, n in counts.items() if v is not None and n >= k}
    pooled = sum(n for v, n in counts.items() if v not in kept)
    for v in sorted(kept, key=lambda v: (counts[v], str(v))):
        if pooled == 0 or pooled >= k:
            break
        kept.discard(v)
        pooled += counts[v]
    return kept


def plan(cells: Mapping[Cell, int], k: int, changed: bool = False) -> dict[Cell, Cell]:
    """For every (department, grade) cell, the segment its answers are stored under."""
    if changed:
        return {c: (None, None) for c in cells}
    by_dept: dict[Hashable, int] = defaultdict(int)
    by_grade: dict[Hashable, int] = defaultdict(int)
    for (d, g), n in cells.items():
        by_dept[d] += n
        by_grade[g] += n
    depts, grades = _kept(by_dept, k), _kept(by_grade, k)
    for keep_d, keep_g in ((True, True), (True, False), (False, True)):
        mapping = {
            (d, g): (d if keep_d and d in depts else None, g if keep_g and g in grades else None)
            for d, g in cells
        }
        stored: dict[Cell, int] = defaultdict(int)
        for c, n in cells.items():
            stored[mapping[c]] += n
        if all(n == 0 or n >= k for n in stored.values()) and any(
            s != (None, None) for s in stored
        ):
            return mapping
    return {c: (None, None) for c in cells}


def asked_cells(asked: Mapping[tuple[str, str], int]) -> dict[Cell, int]:
    """The full (department name, grade) table of who was asked an item, "not recorded"
    included, from the round's per-segment counts (``RoundItemSegment``)."""
    cells: dict[Cell, int] = {}
    dept_rest = {seg: n for (dim, seg), n in asked.items() if dim == "department"}
    grade_rest = {seg: n for (dim, seg), n in asked.items() if dim == "grade"}
    for (dim, seg), n in asked.items():
        if dim == "cell":
            name, grade = seg.rsplit("|", 1)
            cells[(name, grade)] = n
            dept_rest[name] -= n
            grade_rest[grade] -= n
    for name, n in dept_rest.items():
        cells[(name, None)] = n
    for grade, n in grade_rest.items():
        cells[(None, grade)] = n
    cells[(None, None)] = asked.get(("all", ""), 0) - sum(cells.values())
    return {c: n for c, n in cells.items() if n > 0}


def _where(model, d, g):
    return (model.department_id.is_not_distinct_from(d), model.grade.is_not_distinct_from(g))


def _apply(s: Session, model, scope, rows, k: int, changed: bool) -> None:
    cells = {(d, g): int(n) for d, g, n in rows}
    for (d, g), (d2, g2) in plan(cells, k, changed).items():
        if (d, g) != (d2, g2):
            s.execute(
                update(model).where(*scope, *_where(model, d, g)).values(department_id=d2, grade=g2)
            )


def coarsen_round(s: Session, rnd: Round, k: int) -> None:
    """At close, re-decide every item's segments (and the comments') on what was answered."""
    rows = s.execute(
        select(Response.version_id, Response.department_id, Response.grade, func.count())
        .where(Response.round_id == rnd.id)
        .group_by(Response.version_id, Response.department_id, Response.grade)
    ).all()
    per_item: dict[int, list] = defaultdict(list)
    for vid, d, g, n in rows:
        per_item[vid].append((d, g, n))
    for vid, item_rows in per_item.items():
        scope = (Response.round_id == rnd.id, Response.version_id == vid)
        _apply(s, Response, scope, item_rows, k, rnd.audience_changed)
    comment_rows = s.execute(
        select(Comment.department_id, Comment.grade, func.count())
        .where(Comment.round_id == rnd.id)
        .group_by(Comment.department_id, Comment.grade)
    ).all()
    _apply(s, Comment, (Comment.round_id == rnd.id,), comment_rows, k, rnd.audience_changed)
