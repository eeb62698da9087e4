"""Differencing across regional comparisons: may this month's specialty figures be shown, given
every regional figure published before?

A regional specialty figure is a sum of trust department figures, each already published inside
its own trust (``bot.insights.region``). What must never happen is that a reader in one trust
learns another trust's own figures: a department's count, or its change. One comparison alone is
safe when three or more trusts contribute. Across comparisons it may not be: with four trusts, if
one department drops out and nothing else changes, this month's figure subtracted from last
month's is that department's figure, published only inside its trust.

So, as the disclosure auditor does for groups of people (``storage.auditor``), this is decided by
linear algebra over every figure ever published, not by listing cases. The unknowns are *cells*:
one trust's department figure for one period (two cells with the same trust, department, period
and counts are the same number). Each published figure is a row: the indicator vector of the
cells it summed. A reader can form any combination of rows, and knows their own trust's cells.
For each reader (each trust, and someone in no trust) and each other trust ``U``, nothing in the
row space may be a nonzero vector supported only on ``U``'s cells once the reader's own cells are
taken out: ``rank(M[:, not reader]) == rank(M[:, not reader and not U])`` (the columns dropped
carry exactly the row-space vectors that live on them).

Why a trust's own headline row does not change this: each trust's total includes departments that
appear in no specialty figure (its own held-back and unmapped ones), a column only that row has,
so any combination that uses it is that trust's total plus specialty rows, which is shown anyway.

This month's rows are added one at a time (in the comparison's order, the hardest to reach
first); a row that would give a trust's figures away is held back, and nothing is stored about it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from storage.models import RegionFigure

Cell = tuple  # (trust, department, period, invited, responded)


@dataclass(frozen=True)
class Figure:
    """One regional specialty figure: its specialty and the trust cells it sums."""

    specialty: str
    cells: frozenset


def _trust(cell: Cell) -> Hashable:
    return cell[0]


def _rank(matrix: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(matrix)) if matrix.size else 0


def gives_away_a_trust(figures: Sequence[Figure]) -> bool:
    """True when some reader can work out a combination of one other trust's cells alone."""
    columns = sorted({c for f in figures for c in f.cells}, key=repr)
    if not columns:
        return False
    index = {c: i for i, c in enumerate(columns)}
    matrix = np.zeros((len(figures), len(columns)))
    for row, f in enumerate(figures):
        for c in f.cells:
            matrix[row, index[c]] = 1.0
    trusts = {_trust(c) for c in columns}
    owner = np.array([repr(_trust(c)) for c in columns])
    for reader in [None, *trusts]:
        seen = owner != repr(reader)
        base = _rank(matrix[:, seen])
        for other in trusts - {reader}:
            if _rank(matrix[:, seen & (owner != repr(other))]) < base:
                return True
    return False


def choose(earlier: Sequence[Figure], candidates: Iterable[Figure]) -> set[str]:
    """The specialties among ``candidates`` that may be shown beside everything ``earlier``;
    the rest are held back. A figure identical to one shown before adds nothing and is kept.
    Only the figures that share cells with a candidate, directly or through others, can combine
    with it, so each check runs on that connected part of the history."""
    published = list(earlier)
    shown: set[str] = set()
    for figure in candidates:
        if figure in published or not gives_away_a_trust([*_linked(published, figure), figure]):
            published.append(figure)
            shown.add(figure.specialty)
    return shown


def _linked(published: Sequence[Figure], figure: Figure) -> list[Figure]:
    """The published figures connected to ``figure`` by shared cells."""
    cells, linked, rest = set(figure.cells), [], list(published)
    grew = True
    while grew:
        grew = False
        for f in list(rest):
            if cells & f.cells:
                linked.append(f)
                cells |= f.cells
                rest.remove(f)
                grew = True
    return linked


# --------------------------------------------------------------------------- stored history


def earlier(s) -> list[Figure]:
    """Every regional figure published before, of every specialty (a department remapped from
    one specialty to another keeps its cells)."""
    rows = s.scalars(select(RegionFigure).order_by(RegionFigure.id))
    return [Figure(r.specialty, frozenset(tuple(c) for c in json.loads(r.cells))) for r in rows]


def record(s, figures: Iterable[Figure], at) -> None:
    """Keep what a posted comparison showed, for the next one's check."""
    for f in figures:
        cells = sorted((list(c) for c in f.cells), key=repr)
        s.add(RegionFigure(specialty=f.specialty, cells=json.dumps(cells), posted_at=at))
