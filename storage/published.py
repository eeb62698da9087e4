"""Everything medpulse publishes, described as tables for the one auditor (``storage.auditor``).

Three kinds of population are published, each per period:

* the answers to one item (summary scores and distributions, a department's own view, the
  export's item-by-department and item-by-grade rows): finest cells are the (department,
  grade) segments as stored on the answers;
* the respondents (response rates by department, by grade, and department x grade): finest
  cells are (department, grade) of the frozen participation counts;
* the comments (counts per theme, the lists, a department's list): finest cells are
  (department, theme).

Every publisher builds its figures from the ``Disclosure`` returned here and from nothing else,
so the export, the trust summary and a department's view show the same groups of the same
population, decided once. A group's key is ``TOTAL``, ``("department", d)``, ``("grade", g)``
or ``("cell", (d, g))``; ``None`` stands for "not recorded".
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from storage import auditor
from storage.auditor import Disclosure, Group, Table

TOTAL = ("total",)
GRADE_TIER, DEPARTMENT_TIER = 0, 1  # grades are held back before departments


def order_key(key) -> tuple[bool, str]:
    """One fixed order for the groups of a breakdown (None last)."""
    return (key is None, str(key))


def breakdown_table(cells: Mapping[tuple[Hashable, Hashable], int], cross: bool = False) -> Table:
    """The total, each department, each grade (each "not recorded" group too) and, when
    ``cross``, each department x grade cell, over (department, grade) cells."""
    depts = sorted({d for d, _ in cells}, key=order_key)
    grades = sorted({g for _, g in cells}, key=order_key)
    groups = [Group(TOTAL, frozenset(cells), auditor.FIXED)]
    groups += [
        Group(("department", d), frozenset(c for c in cells if c[0] == d), DEPARTMENT_TIER)
        for d in depts
    ]
    groups += [
        Group(("grade", g), frozenset(c for c in cells if c[1] == g), GRADE_TIER) for g in grades
    ]
    if cross:
        groups += [Group(("cell", c), frozenset([c]), GRADE_TIER - 1) for c in cells]
    return Table(dict(cells), tuple(groups))


def breakdowns(
    cells: Mapping[tuple[Hashable, Hashable], int],
    k: int,
    cross: bool = False,
    changed: bool = False,
) -> Disclosure:
    """What may be shown of one population by department and grade.

    ``changed``: the audience changed since the previous round, so nothing finer than the
    whole is published (``bot.rounds.membership``)."""
    table = breakdown_table(cells, cross)
    withheld = [g.key for g in table.groups if g.key != TOTAL] if changed else []
    return auditor.decide(table, k, withheld)


@dataclass(frozen=True)
class CommentPlan:
    """Which departments' comments may be listed, and the one label of every comment.

    The label depends only on the comment's (department, theme) cell, so the same comment
    reads the same in every list it appears in (trust-wide, by theme, its department's).
    """

    listed: frozenset  # departments whose own comment list may be shown
    labelled: frozenset  # (department, theme) cells whose comments carry their theme
    k: int

    def label(self, department: Hashable, theme: str | None) -> str | None:
        """The comment's theme, or None for "Other themes"."""
        return theme if (department, theme) in self.labelled else None


REST = ("rest",)  # the departments whose comments are never listed on their own


def comment_plan(
    cells: Mapping[tuple[Hashable, str | None], int], k: int, changed: bool = False
) -> CommentPlan:
    """Decide the department lists and the labels of one period's comments.

    1. A department's list is shown only where the auditor lets its comment count through
       beside the total (so the comments of the unlisted departments together are 0 or >= k:
       a reader matching texts across lists can tell them apart from the listed ones).
    2. Within each listed department, and within the unlisted rest, a theme labels its
       comments only where that (department, theme) group has >= k; the comments left under
       "Other themes" must then be 0 or >= k too, so the smallest labelled themes join them
       until they are. Trust-wide, a theme's labelled comments are a sum of such groups.
    """
    by_dept: dict[Hashable, int] = {}
    for (d, _), n in cells.items():
        by_dept[d] = by_dept.get(d, 0) + n
    listed: set = set()
    if not changed and by_dept:
        table = Table(
            {(d, None): n for d, n in by_dept.items()},
            (
                Group(TOTAL, frozenset((d, None) for d in by_dept), auditor.FIXED),
                *(
                    Group(("department", d), frozenset([(d, None)]))
                    for d in sorted(by_dept, key=order_key)
                ),
            ),
        )
        decision = auditor.decide(table, k)
        listed = {d for d in by_dept if d is not None and decision.shown(("department", d))}
    pooled: dict[Hashable, dict[str | None, int]] = {}
    for (d, t), n in cells.items():
        where = d if d in listed else REST
        pooled.setdefault(where, {})
        pooled[where][t] = pooled[where].get(t, 0) + n
    labelled = set()
    for where, themes in pooled.items():
        named = sorted(
            (t for t, n in themes.items() if t is not None and n >= k),
            key=lambda t: (themes[t], t),
        )
        other = sum(n for t, n in themes.items() if t not in named)
        while named and 0 < other < k:
            other += themes[named.pop(0)]
        members = [where] if where != REST else [d for d in by_dept if d not in listed]
        labelled |= {(d, t) for t in named for d in members}
    return CommentPlan(frozenset(listed), frozenset(labelled), k)


def cross_wanted(cells: Mapping[tuple[Hashable, Hashable], int], k: int) -> bool:
    """A department x grade table is offered only when it has two of each and every cell
    reaches k: then each cell is a group of >= k and every union of cells is too."""
    return (
        len({d for d, _ in cells}) > 1
        and len({g for _, g in cells}) > 1
        and all(n >= k for n in cells.values())
    )
