"""The disclosure auditor: may these groups be shown together without isolating a small group?

Everything medpulse publishes about one population (the answers to one item in one period, the
respondents of one period, the comments of one period) is described as a ``Table``: the
*finest cells* (e.g. department x grade, as stored) with their respondent counts, and the
*groups* a publication would show, each a set of finest cells whose figures (count, sum, sum of
squares, distribution: all linear in the answers) are printed. ``decide`` returns which groups
must be held back, and every publisher shows exactly the groups it lets through, so what is
shown and what is checked are one object and cannot drift apart.

Why linear algebra
------------------
A reader can add and subtract any published figures. The figure of a set ``S`` of finest cells
can be worked out exactly when the indicator vector of ``S`` is a linear combination of the
indicator vectors of the shown groups, i.e. lies in their row space. We assume the reader also
knows which cells are empty (a roster tells them), so empty cells are projected out first. The
promise is then: no set ``S`` with ``0 < n(S) < k`` lies in the row space. This catches single
groups, differences ("department minus consultants"), and chains of them ("(A) - ((consultants)
- (B))", the attack that beat the old pairwise check).

How it is checked, and the bound
--------------------------------
Cells whose columns are identical (no shown group tells them apart) form *atoms*; a vector of
the row space is constant on an atom, so a recoverable ``S`` is a union of atoms, and only atoms
with fewer than ``k`` respondents can be part of a small one. ``find_isolated`` enumerates
unions of such atoms with a total below ``k`` (each atom has at least one respondent, so a union
has at most ``k - 1`` of them) and tests each against an exact (rational) row-reduced basis. At
most ``MAX_CANDIDATES`` unions are tried; if there are more, the table counts as *unsafe* and
``decide`` holds back one more group, so the bound can cost figures but never anonymity. Each
candidate is one exact reduction against a basis of at most (number of groups) rows over at most
(number of non-empty cells) columns, and ``decide`` runs at most one audit per group it holds
back, so a table of G groups costs at most G x ``MAX_CANDIDATES`` reductions (in practice, with
stored segments of at least k, there are no small atoms and an audit is a single pass).

Choosing what to hold back
--------------------------
First every group below ``k`` (zero included) is hidden: ``SMALL``, "fewer than k responses".
Then, while the auditor finds an isolated set, one more group is hidden: ``PROTECT``, "held back
to protect a smaller group". The group chosen is the least informative one whose removal takes
the isolated set out of the row space: lowest ``tier`` first (the publisher says which
breakdown matters least, e.g. grades before departments), then the smallest, then the earliest
in the table. Groups of tier ``FIXED`` (the overall figure) are never held back for others;
with only them shown, the row space holds nothing smaller than the whole population.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = [
    "CHANGED",
    "FIXED",
    "MAX_CANDIDATES",
    "PROTECT",
    "SMALL",
    "Disclosure",
    "Group",
    "Table",
    "decide",
    "find_isolated",
]

SMALL = "small"  # the group itself has fewer than k respondents
PROTECT = "protect"  # held back so that a smaller group cannot be worked out
CHANGED = "changed"  # the audience changed since the previous round (sock-puppet rule)
FIXED = 1_000  # tier of groups never held back to protect others (the overall figure)
MAX_CANDIDATES = 50_000  # unions of small atoms tried per audit before giving up as unsafe


@dataclass(frozen=True)
class Group:
    """One figure a publication would show: the finest cells it pools, and how expendable it is."""

    key: Hashable
    cells: frozenset
    tier: int = 0


@dataclass(frozen=True)
class Table:
    """Respondents per finest cell, and every group that would be shown, in display order."""

    cells: Mapping[Hashable, int]
    groups: tuple[Group, ...]

    def count(self, group: Group) -> int:
        return sum(self.cells.get(c, 0) for c in group.cells)


@dataclass(frozen=True)
class Disclosure:
    """What ``decide`` allows: every group of the table, shown or hidden with a reason."""

    table: Table
    k: int
    hidden: dict[Hashable, str] = field(default_factory=dict)

    def shown(self, key: Hashable) -> bool:
        return key not in self.hidden and any(g.key == key for g in self.table.groups)

    def reason(self, key: Hashable) -> str | None:
        return self.hidden.get(key)

    def count(self, key: Hashable) -> int:
        return next(self.table.count(g) for g in self.table.groups if g.key == key)

    @property
    def shown_groups(self) -> list[Group]:
        return [g for g in self.table.groups if g.key not in self.hidden]


class _RowSpace:
    """An exact basis (rational arithmetic) of the span of some 0/1 vectors."""

    def __init__(self, rows: Iterable[Sequence[int]]) -> None:
        self.pivots: list[tuple[int, list[Fraction]]] = []
        for row in rows:
            v = self._reduce([Fraction(x) for x in row])
            col = next((i for i, x in enumerate(v) if x), None)
            if col is not None:
                self.pivots.append((col, [x / v[col] for x in v]))

    def _reduce(self, v: list[Fraction]) -> list[Fraction]:
        # Each pivot row is zero on the earlier pivots' columns, so one pass in order suffices.
        for col, row in self.pivots:
            if v[col]:
                f = v[col]
                v = [a - f * b for a, b in zip(v, row, strict=True)]
        return v

    def contains(self, vector: Sequence[int]) -> bool:
        return not any(self._reduce([Fraction(x) for x in vector]))


def _positive(cells: Mapping[Hashable, int]) -> list[Hashable]:
    return [c for c, n in cells.items() if n > 0]


def _rows(groups: Iterable[frozenset], positive: list[Hashable]) -> list[list[int]]:
    return [[1 if c in g else 0 for c in positive] for g in groups]


class _Undecided(frozenset):
    """Returned when the bound was hit: treated as unsafe."""


def find_isolated(
    cells: Mapping[Hashable, int], shown: Iterable[frozenset], k: int
) -> frozenset | None:
    """A set of finest cells with 0 < n < k whose figure follows from the shown groups, or None.

    Past ``MAX_CANDIDATES`` unions it gives up and returns the set of all small atoms' cells
    (an ``_Undecided``), which callers treat like any isolated set.
    """
    positive = _positive(cells)
    rows = _rows(list(shown), positive)
    space = _RowSpace(rows)
    atoms: dict[tuple[int, ...], list[Hashable]] = {}
    for j, c in enumerate(positive):
        atoms.setdefault(tuple(r[j] for r in rows), []).append(c)
    small = sorted(
        (
            (sum(cells[c] for c in members), members)
            for members in atoms.values()
            if sum(cells[c] for c in members) < k
        ),
        key=lambda a: a[0],
    )
    index = {c: j for j, c in enumerate(positive)}
    tried = 0

    def search(start: int, total: int, chosen: list[Hashable]) -> frozenset | None:
        nonlocal tried
        for i in range(start, len(small)):
            n, members = small[i]
            if total + n >= k:
                break  # sorted by size: every later atom is at least as big
            picked = chosen + members
            tried += 1
            if tried > MAX_CANDIDATES:
                return _Undecided(c for _, m in small for c in m)
            vector = [0] * len(positive)
            for c in picked:
                vector[index[c]] = 1
            if space.contains(vector):
                return frozenset(picked)
            found = search(i + 1, total + n, picked)
            if found is not None:
                return found
        return None

    return search(0, 0, [])


def _isolates(cells: Mapping[Hashable, int], groups: list[Group], target: frozenset) -> bool:
    positive = _positive(cells)
    vector = [1 if c in target else 0 for c in positive]
    return _RowSpace(_rows((g.cells for g in groups), positive)).contains(vector)


def decide(table: Table, k: int, withheld: Iterable[Hashable] = ()) -> Disclosure:
    """Hide the groups below ``k``, then the least informative others until nothing small is
    recoverable from what is left (see the module notes for the order). ``withheld`` groups
    are hidden from the start for a reason of the publisher's (``CHANGED``)."""
    hidden = {key: CHANGED for key in withheld}
    hidden |= {g.key: SMALL for g in table.groups if g.key not in hidden and table.count(g) < k}
    position = {g.key: i for i, g in enumerate(table.groups)}
    while True:
        shown = [g for g in table.groups if g.key not in hidden]
        isolated = find_isolated(table.cells, (g.cells for g in shown), k)
        if isolated is None:
            return Disclosure(table, k, hidden)
        expendable = sorted(
            (g for g in shown if g.tier < FIXED),
            key=lambda g: (g.tier, table.count(g), position[g.key]),
        )
        if not expendable:  # cannot happen with a FIXED total of >= k; stay safe regardless
            hidden |= {g.key: PROTECT for g in shown}
            return Disclosure(table, k, hidden)
        victim = expendable[0]
        if not isinstance(isolated, _Undecided):
            for g in expendable:
                if not _isolates(table.cells, [x for x in shown if x is not g], isolated):
                    victim = g
                    break
        hidden[victim.key] = PROTECT
