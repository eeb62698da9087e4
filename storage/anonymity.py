"""The one place the minimum group size ``k`` is enforced.

The product's promise: no score, count, rate, distribution or comment is shown for a group of
fewer than ``k`` respondents (default 5, never below 3). Pure Python with no database access, so
the rules are easy to audit and test; the query layer calls these functions on the respondent
counts behind every figure it is about to show, and replaces suppressed figures with
``Suppressed`` (whose text is "fewer than k responses", never a number).

Every published figure is decided by ``storage.auditor`` (over the finest cells, no
combination of shown sums and counts may isolate a group of fewer than ``k``); the tables it
audits are described in ``storage.published``. This module keeps the vocabulary (``k_label``,
``hidden_label``, ``Suppressed``) and the one-breakdown helpers, which are that auditor applied
to one breakdown and its total.

Why 0 is hidden like any small group: a shown "0" is a count below ``k``, and printing it
while hiding others would read differently from every other small group. The auditor assumes
a reader knows which groups are empty anyway (a roster tells them), so hiding zeros costs
nothing and is never relied on.

What we cannot promise
----------------------
* Someone who knows the algorithm can sometimes narrow a hidden count (two hidden groups
  summing to 8 while the smallest shown one has 5 are probably 4 each). They learn counts,
  never answers: the answers of hidden groups are only available pooled over >= k people.
* A reader who knows some respondents' answers (their own, or accounts they control) can
  subtract them from a group of k. The sock-puppet rule (``bot.rounds.membership``) makes the obvious
  version visible; the rest is in the README's threat model.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from storage import auditor

__all__ = [
    "Breakdown",
    "Cell",
    "DEFAULT_K",
    "MIN_K",
    "Suppressed",
    "comments_visible",
    "cross_breakdown_allowed",
    "hidden_label",
    "k_label",
    "protect",
    "protect_breakdown",
    "suppress",
    "suppress_breakdown",
    "validate_k",
]

DEFAULT_K = 5
MIN_K = 3

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def validate_k(k: int) -> int:
    """Return ``k`` if it is a whole number >= 3, else raise ValueError.

    Why 3: with groups of 1 or 2 a respondent can identify the other person's answers.
    """
    if isinstance(k, bool) or not isinstance(k, int):
        raise ValueError(f"the minimum group size must be a whole number, not {k!r}")
    if k < MIN_K:
        raise ValueError(
            f"the minimum group size must be at least {MIN_K} (smaller groups identify people)"
        )
    return k


def k_label(k: int = DEFAULT_K) -> str:
    """What a suppressed figure reads as: "fewer than 5 responses"."""
    return f"fewer than {validate_k(k)} responses"


HELD_BACK = "held back to protect a smaller group"
AUDIENCE_CHANGED = "held back: the audience changed since the previous pulse"


def hidden_label(reason: str | None, k: int = DEFAULT_K) -> str:
    """Why a figure is missing, as ``storage.auditor`` decided it: too few responses, held back
    so that a smaller group cannot be worked out, or held back because the audience changed."""
    if reason == auditor.PROTECT:
        return HELD_BACK
    if reason == auditor.CHANGED:
        return AUDIENCE_CHANGED
    return k_label(k)


@dataclass(frozen=True, slots=True)
class Suppressed:
    """Stands in for any figure from a group too small to show; prints as its label."""

    k: int = DEFAULT_K

    def __str__(self) -> str:
        return k_label(self.k)


def protect(value: T, n: int, k: int = DEFAULT_K) -> T | Suppressed:
    """``value`` if it comes from ``n >= k`` respondents, else ``Suppressed(k)``.

    For a stand-alone figure (e.g. an overall score). Figures inside a breakdown need
    ``protect_breakdown`` so that complementary suppression is applied as well.
    """
    validate_k(k)
    _check_count(n)
    return value if n >= k else Suppressed(k)


def comments_visible(n_respondents_in_group: int, k: int = DEFAULT_K) -> bool:
    """Comments are shown only for a group of at least ``k`` respondents.

    In a breakdown, also hide the comments of any group whose figures are suppressed.
    """
    validate_k(k)
    _check_count(n_respondents_in_group)
    return n_respondents_in_group >= k


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"a respondent count must be a whole number >= 0, not {n!r}")


@dataclass(frozen=True, slots=True)
class Cell(Generic[K]):
    """One group of a breakdown: its respondent count and whether it may be shown."""

    key: K
    count: int
    suppressed: bool
    k: int

    @property
    def display(self) -> str:
        """The count as text, or the "fewer than k responses" label."""
        return k_label(self.k) if self.suppressed else str(self.count)


@dataclass(frozen=True, slots=True)
class Breakdown(Generic[K]):
    """Result of ``suppress``: every cell plus the total, each flagged shown or suppressed."""

    cells: dict[K, Cell[K]]
    total: int
    total_visible: bool
    k: int

    @property
    def suppressed(self) -> frozenset[K]:
        return frozenset(key for key, cell in self.cells.items() if cell.suppressed)

    @property
    def total_display(self) -> str:
        return str(self.total) if self.total_visible else k_label(self.k)


def suppress_breakdown(
    counts: Mapping[K, int], k: int = DEFAULT_K, total_shown: bool = True
) -> set[K]:
    """Keys of ``counts`` (respondents per group) whose figures must not be shown.

    One breakdown as a table for ``storage.auditor``: each group is a finest cell, and the
    total (if ``total_shown``, the safe default) is a fixed group. Groups below ``k`` (0
    included) are hidden, then the smallest others (ties: first in mapping order) until no
    union of hidden groups with 1 to k - 1 respondents follows from the total. Pass
    ``total_shown=False`` only if neither this total nor any other complete breakdown of the
    same people is ever shown, since either gives the total.
    """
    validate_k(k)
    for n in counts.values():
        _check_count(n)
    groups = [auditor.Group(key, frozenset([key])) for key in counts]
    if total_shown:
        groups.append(auditor.Group(_TOTAL, frozenset(counts), auditor.FIXED))
    decision = auditor.decide(auditor.Table(dict(counts), tuple(groups)), k)
    return {key for key in counts if key in decision.hidden}


_TOTAL = ("total", object())  # a key no caller's group can equal


def suppress(counts: Mapping[K, int], k: int = DEFAULT_K, total_shown: bool = True) -> Breakdown[K]:
    """Like ``suppress_breakdown`` but returns every cell and the total with display text."""
    hidden = suppress_breakdown(counts, k, total_shown)
    total = sum(counts.values())
    cells = {key: Cell(key, n, key in hidden, k) for key, n in counts.items()}
    return Breakdown(cells=cells, total=total, total_visible=total >= k, k=k)


def protect_breakdown(
    values: Mapping[K, T],
    counts: Mapping[K, int],
    k: int = DEFAULT_K,
    total_shown: bool = True,
) -> dict[K, T | Suppressed]:
    """Apply the breakdown's suppression to per-group figures (scores, rates, distributions).

    ``counts`` must be the respondents behind ``values`` and list every group, zeros included;
    ``values`` needs an entry for every group that is shown (suppressed ones may be missing).
    """
    unknown = set(values) - set(counts)
    if unknown:
        raise ValueError(f"values for groups without a count: {sorted(map(repr, unknown))}")
    hidden = suppress_breakdown(counts, k, total_shown)
    missing = [key for key in counts if key not in hidden and key not in values]
    if missing:
        raise ValueError(f"no value for shown groups: {sorted(map(repr, missing))}")
    return {key: Suppressed(k) if key in hidden else values[key] for key in counts}


def cross_breakdown_allowed(counts: Mapping[tuple[Hashable, ...], int], k: int = DEFAULT_K) -> bool:
    """A cross-breakdown (e.g. department x grade) may be shown only if every cell has >= k.

    All or nothing: showing only the qualifying rows would let a reader subtract them from the
    one-way totals and recover the hidden rows. List every combination that exists (omit only
    combinations that cannot exist); an empty table is not shown.
    """
    validate_k(k)
    for n in counts.values():
        _check_count(n)
    return bool(counts) and all(n >= k for n in counts.values())
