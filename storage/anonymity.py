"""The one place the minimum group size ``k`` is enforced.

The product's promise: no score, count, rate, distribution or comment is shown for a group of
fewer than ``k`` respondents (default 5, never below 3). Pure Python with no database access, so
the rules are easy to audit and test; the query layer calls these functions on the respondent
counts behind every figure it is about to show, and replaces suppressed figures with
``Suppressed`` (whose text is "fewer than k responses", never a number).

Breakdown rules (``suppress_breakdown``)
----------------------------------------
1. *Primary*: every group with fewer than ``k`` respondents is suppressed, **including groups
   with 0**. A shown "0" is a count for a group below ``k``, and it tells a reader that every
   *other* suppressed group has at least one respondent, which narrows them down (five
   suppressed groups summing to 5, none of them 0, must each be exactly 1). So 0 reads
   "fewer than k responses" like any other small group. Pass every group a reader knows
   exists, zeros included: leaving a group out of the mapping is the same as printing 0.
2. *Complementary* (only when the breakdown's total is shown, which is almost always, since the
   total can be re-derived from any other complete breakdown of the same people): the sum of the
   suppressed groups can be recovered as total minus the shown groups, so the suppressed set must
   (a) have at least two groups and (b) add up to at least ``k``. We add the smallest shown
   groups (ties: first in mapping order) until both hold or everything is suppressed.

Guarantee, for one breakdown with its total shown and total >= k: the suppressed set is empty,
or it has >= 2 groups whose sum S >= k. Arithmetic on the shown figures only yields S, and each
suppressed group could then be anything from 0 to S, so no suppressed group's count is pinned.
For scores, the same subtraction yields the aggregate of all suppressed groups together, which
is a group of S >= k respondents, so it is allowed to be known. If total < k, everything,
including the total, must be hidden (``Breakdown.total_visible`` is False).

What we cannot promise
----------------------
* Someone who knows this algorithm can sometimes narrow a suppressed count (e.g. two suppressed
  groups summing to 8 while the smallest shown group has 5 means both are probably 4). They
  still learn only counts, not answers: the answers of the suppressed groups are only ever
  available pooled over S >= k people.
* Several breakdowns of the same people (by department and by grade, each with its total) are
  each safe, and their counts alone add no information (any two sets of margins with the same
  total fit some department x grade table). But outside knowledge about how the dimensions
  nest, e.g. "department X has only consultants", can let a reader subtract one shown group
  from another and isolate a small group. ``linked_breakdown_risks`` finds the common cases
  (one derivable group of one breakdown lying inside one of the other) from the true
  department x grade counts, so the query layer can drop the second breakdown; it is a check,
  not a proof. The only complete protection is to show a second dimension only as a full
  cross-breakdown that ``cross_breakdown_allowed`` accepts (every cell >= k).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "Breakdown",
    "Cell",
    "DEFAULT_K",
    "MIN_K",
    "Suppressed",
    "comments_visible",
    "cross_breakdown_allowed",
    "k_label",
    "linked_breakdown_risks",
    "protect",
    "protect_breakdown",
    "suppress",
    "suppress_breakdown",
    "validate_k",
]

DEFAULT_K = 5
MIN_K = 3

K = TypeVar("K", bound=Hashable)
R = TypeVar("R", bound=Hashable)
C = TypeVar("C", bound=Hashable)
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

    Primary suppression hides groups below ``k`` (0 included, see the module notes). If
    ``total_shown`` (the safe default) complementary suppression then adds the smallest
    remaining groups until the suppressed set has >= 2 groups and sums to >= ``k``, or
    everything is suppressed. Pass ``total_shown=False`` only if neither this total nor any
    other complete breakdown of the same people is ever shown, since either gives the total.
    """
    validate_k(k)
    for n in counts.values():
        _check_count(n)
    hidden = {key for key, n in counts.items() if n < k}
    if not hidden or not total_shown:
        return hidden
    # stable sort: ties go to the group that comes first in the mapping, deterministically
    candidates = sorted((key for key in counts if key not in hidden), key=lambda key: counts[key])
    hidden_sum = sum(counts[key] for key in hidden)
    for key in candidates:
        if len(hidden) >= 2 and hidden_sum >= k:
            break
        hidden.add(key)
        hidden_sum += counts[key]
    return hidden


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


def _derivable_groups(counts: Mapping[K, int], k: int) -> set[frozenset[K]]:
    """Groups whose aggregate a reader of one breakdown (total shown) can compute.

    Each shown group, the pooled suppressed groups (total minus shown), and the complement of
    each of those (total minus it). Unions of several are left out to keep this cheap.
    """
    everything = frozenset(counts)
    if sum(counts.values()) < k:
        return set()
    hidden = frozenset(suppress_breakdown(counts, k))
    groups = {frozenset([key]) for key in everything - hidden}
    if hidden:
        groups.add(hidden)
    groups |= {everything - g for g in groups}
    groups.discard(frozenset())
    return groups


def linked_breakdown_risks(
    cross: Mapping[tuple[R, C], int], k: int = DEFAULT_K
) -> list[tuple[frozenset[R], frozenset[C]]]:
    """Pairs of derivable groups that isolate fewer than ``k`` people when both breakdowns show.

    ``cross`` holds the true respondent counts per (row, column), e.g. (department, grade);
    it is never shown, only used to check. If a derivable row group A lies wholly inside a
    derivable column group B (a reader may know this, e.g. "department X is all consultants"),
    then B minus A is a group of ``|B| - |A|`` people whose aggregate can be computed; a risk is
    reported when that is between 1 and k - 1 (and symmetrically). An empty list means no such
    single-step subtraction exists, not that every combination of figures is safe.
    """
    validate_k(k)
    rows: dict[R, int] = {}
    cols: dict[C, int] = {}
    for (r, c), n in cross.items():
        _check_count(n)
        rows[r] = rows.get(r, 0) + n
        cols[c] = cols.get(c, 0) + n
    risks = []
    for a in _derivable_groups(rows, k):
        n_a = sum(rows[r] for r in a)
        for b in _derivable_groups(cols, k):
            n_b = sum(cols[c] for c in b)
            n_ab = sum(n for (r, c), n in cross.items() if r in a and c in b)
            a_in_b = n_ab == n_a and 0 < n_b - n_a < k
            b_in_a = n_ab == n_b and 0 < n_a - n_b < k
            if a_in_b or b_in_a:
                risks.append((a, b))
    return risks
