"""Fair rotation: which doctor is asked which questions in one pulse round.

Pure and database-free: the caller passes who is in the round, the enabled items and
what each person has been asked since their current cycle began, and stores the result.

The rules, in priority order:

1. *Fair cycles.* A person is only asked items they have not had this cycle; when fewer
   than ``n`` remain they get all of those plus fresh items, and their cycle restarts.
   So every eligible item reaches everyone before anything repeats for them.
2. *Reportable groups.* Each item asked in a round is asked of at least ``min_group``
   people wherever the audience allows, because a figure from fewer people is suppressed
   and the answers are wasted. When it cannot be had by spreading, items are concentrated.
3. *Theme spread.* A person's items in a round come from different themes where possible.
4. *Spread across people.* In a big trust, different groups get different items in the
   same round, so every item is measured often instead of once per cycle.

How: items are put in one cycle order (themes interleaved, shuffled by ``seed``). Each
grade group of at least ``min_group`` people is split into "lanes" of at least
``min_group`` people; each lane walks the cycle order from its own offset. People in a
lane share their state, so they stay in lockstep round after round and every item a lane
asks is asked of the whole lane. People in smaller groups, and anyone out of step, are
then placed by a greedy concentrating pass that joins them to items others already get.

Pass a *stable* seed (e.g. derived from the workspace id), not the round number: lanes and
the cycle order depend on it, and keeping them fixed is what keeps lanes in lockstep.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field

import numpy as np

from questions.grades import GRADES
from questions.model import QuestionItem
from questions.themes import THEMES

MAX_N = 4
_GRADE_INDEX: dict[str | None, int] = {None: 0, **{g: i + 1 for i, g in enumerate(GRADES)}}
_THEME_INDEX = {name: i for i, name in enumerate(THEMES)}


@dataclass(frozen=True)
class Person:
    """Someone in the round: an opaque key and a grade (None = unknown: 'all' items only)."""

    key: str
    grade: str | None = None


@dataclass(frozen=True)
class Choice:
    """The outcome of one round of rotation.

    ``items`` maps each person key to the ids to ask (headline not included; the caller
    prepends it). ``cycle_restarted`` holds the people whose cycle ended this round;
    ``new_cycle`` gives, for them, the chosen ids that already belong to the new cycle.
    """

    items: dict[str, list[str]]
    cycle_restarted: frozenset[str] = frozenset()
    new_cycle: dict[str, list[str]] = field(default_factory=dict)

    def next_asked(self, asked_this_cycle: Mapping[str, Set[str]]) -> dict[str, frozenset[str]]:
        """The ``asked_this_cycle`` to pass next round, once these items have been sent."""
        result: dict[str, frozenset[str]] = {}
        for key, ids in self.items.items():
            if key in self.cycle_restarted:
                result[key] = frozenset(self.new_cycle.get(key, ()))
            else:
                result[key] = frozenset(asked_this_cycle.get(key, ())) | frozenset(ids)
        return result

    def counts(self) -> dict[str, int]:
        """How many people are asked each item this round (items asked of nobody omitted)."""
        tally: dict[str, int] = {}
        for ids in self.items.values():
            for item_id in ids:
                tally[item_id] = tally.get(item_id, 0) + 1
        return tally


def choose(
    people: Sequence[Person],
    items: Sequence[QuestionItem],
    asked_this_cycle: Mapping[str, Set[str]],
    n: int = 2,
    min_group: int = 5,
    seed: int = 0,
) -> Choice:
    """Pick ``n`` non-headline items for each person for one round (see module docstring).

    Deterministic for the same inputs and seed. Raises ValueError for ``n`` outside
    1..4, ``min_group`` below 1, duplicate person keys or duplicate item ids.
    """
    if not 1 <= n <= MAX_N:
        raise ValueError(f"n must be between 1 and {MAX_N}, got {n}")
    if min_group < 1:
        raise ValueError(f"min_group must be at least 1, got {min_group}")
    pool = [item for item in items if not item.headline]
    if len({item.id for item in pool}) != len(pool):
        raise ValueError("duplicate item ids")
    if len({person.key for person in people}) != len(people):
        raise ValueError("duplicate person keys")
    if not people or not pool:
        return Choice({person.key: [] for person in people})
    plan = _Plan(people, pool, asked_this_cycle, n, min_group, seed)
    plan.solve()
    return plan.result()


def _hash64(seed: int, text: str) -> int:
    """A stable 64-bit hash (Python's own str hash changes per process)."""
    digest = hashlib.blake2b(f"{seed}\x1f{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def cycle_order(pool: Sequence[QuestionItem], seed: int) -> list[QuestionItem]:
    """One fixed cycle order with each theme spread evenly through it, shuffled by seed.

    Each theme's items get evenly spaced fractional positions (offset per theme), so a
    walk along the order meets themes in turn rather than in runs.
    """
    by_theme: dict[str, list[QuestionItem]] = {}
    for item in pool:
        by_theme.setdefault(item.theme, []).append(item)
    keyed = []
    for theme, group in by_theme.items():
        group.sort(key=lambda it: (_hash64(seed, it.id), it.id))
        shift = _hash64(seed, "theme:" + theme) / 2**64
        for j, item in enumerate(group):
            keyed.append(((j + shift) / len(group), _hash64(seed, "tie:" + item.id), item))
    keyed.sort(key=lambda entry: (entry[0], entry[1], entry[2].id))
    return [entry[2] for entry in keyed]


class _Plan:
    """Working state for one round: people x items boolean matrices and slot assignments."""

    def __init__(
        self,
        people: Sequence[Person],
        pool: Sequence[QuestionItem],
        asked: Mapping[str, Set[str]],
        n: int,
        min_group: int,
        seed: int,
    ) -> None:
        self.n, self.m, self.seed = n, min_group, seed
        order = cycle_order(pool, seed)
        self.ids = [item.id for item in order]
        self.T = len(order)
        self.theme = np.array([_THEME_INDEX[item.theme] for item in order], dtype=np.int64)
        eligible = np.zeros((len(_GRADE_INDEX), self.T), dtype=bool)
        for grade, gi in _GRADE_INDEX.items():
            eligible[gi] = [item.applies_to(grade) for item in order]
        self.keys = [person.key for person in people]
        # Lane membership is by a stable per-person hash, so lanes keep their members.
        self._key_array = np.array(self.keys)
        self._crc = np.array(
            [zlib.crc32(f"{seed}:{key}".encode()) for key in self.keys], dtype=np.int64
        )
        self.grade = np.array([_grade_index(person.grade) for person in people], dtype=np.int64)
        self.E = eligible[self.grade]
        self.A = self._remaining(people, asked, eligible)
        remaining = self.A.sum(axis=1)
        self.forced_rows = remaining <= n
        self.restart = remaining < n
        # Restarting people may take any eligible item once their remaining ones are in.
        self.cand = np.where(self.restart[:, None], self.E, self.A)
        self.assign = np.full((len(people), n), -1, dtype=np.int64)
        self.counts = np.zeros(self.T, dtype=np.int64)

    def _remaining(
        self, people: Sequence[Person], asked: Mapping[str, Set[str]], eligible: np.ndarray
    ) -> np.ndarray:
        """Eligible items not yet asked this cycle, computed once per distinct state."""
        pos = {item_id: i for i, item_id in enumerate(self.ids)}
        rows: list[np.ndarray] = []
        index: dict[tuple[int, frozenset[str]], int] = {}
        which = np.empty(len(people), dtype=np.int64)
        for p, person in enumerate(people):
            sig = (int(self.grade[p]), frozenset(asked.get(person.key, ())))
            row = index.get(sig)
            if row is None:
                vector = eligible[sig[0]].copy()
                for item_id in sig[1]:
                    if item_id in pos:
                        vector[pos[item_id]] = False
                row = index[sig] = len(rows)
                rows.append(vector)
            which[p] = row
        return np.stack(rows)[which]

    # -- the passes ---------------------------------------------------------------

    def solve(self) -> None:
        sizes = np.bincount(self.grade, minlength=len(_GRADE_INDEX))
        big = sizes[self.grade] >= self.m
        self._walk_lanes(np.flatnonzero(big))
        small = np.flatnonzero(~big)
        self._place_forced(small)
        self._concentrate(small)
        if self._thin_slots():
            self._repair()

    def _walk_lanes(self, rows: np.ndarray) -> None:
        """Phase 1: each lane walks the cycle order from its offset, preferring new themes."""
        if rows.size == 0:
            return
        offsets = self._lane_offsets(rows)
        T, ar = self.T, np.arange(self.T)
        idx = (offsets[:, None] + ar) % T
        in_a = self.A[rows[:, None], idx]
        new = self.cand[rows[:, None], idx] & ~in_a
        # Tiers: remaining this cycle, then (restarting people only) the new cycle.
        base = np.where(in_a, ar, np.where(new, 2 * T + ar, 4 * T))
        themes = self.theme[idx]
        used = np.zeros((rows.size, len(THEMES)), dtype=bool)
        r = np.arange(rows.size)
        for slot in range(self.n):
            clash = used[r[:, None], themes]
            key = np.where(base < 4 * T, base + clash * T, base)
            j = key.argmin(axis=1)
            ok = key[r, j] < 4 * T
            item = (offsets + j) % T
            self.assign[rows[ok], slot] = item[ok]
            used[r[ok], self.theme[item[ok]]] = True
            base[r, j] = 5 * T
        self._recount()

    def _lane_offsets(self, rows: np.ndarray) -> np.ndarray:
        """Split each grade group into lanes of >= min_group and give each lane an offset."""
        offsets = np.zeros(rows.size, dtype=np.int64)
        for gi in np.unique(self.grade[rows]):
            members = np.flatnonzero(self.grade[rows] == gi)
            positions = np.flatnonzero(self.E[rows[members[0]]])
            if positions.size == 0:
                continue
            lanes = max(1, min(members.size // self.m, -(-positions.size // self.n)))
            ranked = members[np.lexsort((self._key_array[rows[members]], self._crc[rows[members]]))]
            lane_of = (np.arange(members.size) * lanes) // members.size
            starts = positions[(np.arange(lanes) * positions.size) // lanes]
            offsets[ranked] = starts[lane_of]
        return offsets

    def _place_forced(self, rows: np.ndarray) -> None:
        """Give people at the end of their cycle all their remaining items first."""
        rows = rows[self.forced_rows[rows]]
        if rows.size == 0:
            return
        sub = self.A[rows]
        slot = np.cumsum(sub, axis=1) - 1
        r, t = np.nonzero(sub)
        self.assign[rows[r], slot[r, t]] = t
        self._recount()

    def _concentrate(self, rows: np.ndarray) -> None:
        """Greedy pass: fill open slots item by item, always choosing a reportable item.

        Preference: an item that rescues a thin item, then the item that reaches the most
        people (joining big groups beats starting small ones), then theme freshness.
        """
        rows = np.asarray(rows, dtype=np.int64)
        while rows.size:
            rows = rows[(self.assign[rows] < 0).any(axis=1)]
            if rows.size == 0:
                return
            avail = self.cand[rows] & ~self._held(rows)
            keep = avail.any(axis=1)
            rows, avail = rows[keep], avail[keep]
            if rows.size == 0:
                return
            t = self._pick(rows, avail)
            if t is None:
                t = self._pick_with_donors(rows, avail)
            self._give(rows[avail[:, t]], t)

    def _pick(self, rows: np.ndarray, avail: np.ndarray) -> int | None:
        """The best item that is (or becomes) reportable by giving it to all who can take it."""
        takers = avail.sum(axis=0)
        reach = self.counts + takers
        ok = (takers > 0) & (reach >= self.m)
        if not ok.any():
            return None
        rescue = (self.counts > 0) & (self.counts < self.m)
        fresh = (avail & ~self._themes_used(rows)[:, self.theme]).sum(axis=0)
        score = (rescue * (len(self.keys) + 1) + reach) * (rows.size + 1) + fresh
        return int(np.argmax(np.where(ok, score, -1)))

    def _pick_with_donors(self, rows: np.ndarray, avail: np.ndarray) -> int:
        """No item is reportable from open slots alone: borrow people from big items.

        A donor is someone holding (not forced) an item asked of more than min_group people,
        who could take the thin item instead. If no item can be rescued that way, the item
        reaching most people is used, so as few items as possible end up thin.
        """
        takers = avail.sum(axis=0)
        reach = self.counts + takers
        spare = np.maximum(self.counts - self.m, 0)
        held_all = self._held(np.arange(len(self.keys)))
        open_rows = np.zeros(len(self.keys), dtype=bool)
        open_rows[rows] = True
        for t in np.argsort(-reach, kind="stable"):
            if takers[t] == 0:
                break
            swaps = self._find_donors(int(t), self.m - int(reach[t]), spare, held_all, open_rows)
            if swaps is not None:
                for row, slot in swaps:
                    self.counts[self.assign[row, slot]] -= 1
                    self.assign[row, slot] = t
                    self.counts[t] += 1
                return int(t)
        return int(np.argmax(np.where(takers > 0, reach, -1)))

    def _find_donors(
        self,
        t: int,
        need: int,
        spare: np.ndarray,
        held_all: np.ndarray,
        open_rows: np.ndarray,
    ) -> list[tuple[int, int]] | None:
        """Up to ``need`` (row, slot) swaps onto item t that leave every donor item reportable."""
        spare = spare.copy()
        swaps: list[tuple[int, int]] = []
        safe = self.assign >= 0
        rows = np.arange(len(self.keys))[:, None]
        safe &= spare[self.assign] > 0
        safe &= ~(self.forced_rows[:, None] & self.A[rows, self.assign])
        usable = self.cand[:, t] & ~held_all[:, t] & ~open_rows & safe.any(axis=1)
        candidates = np.flatnonzero(usable)
        for row in candidates:
            for slot in range(self.n):
                u = self.assign[row, slot]
                if u >= 0 and spare[u] > 0 and not (self.forced_rows[row] and self.A[row, u]):
                    spare[u] -= 1
                    swaps.append((int(row), slot))
                    break
            if len(swaps) == need:
                return swaps
        return None

    def _repair(self) -> None:
        """Fix thin items: re-place their holders locally, else re-solve everyone, keep best."""
        thin = (self.counts > 0) & (self.counts < self.m)
        holders = np.flatnonzero(np.isin(self.assign, np.flatnonzero(thin)).any(axis=1))
        for row in holders:
            for slot in range(self.n):
                t = self.assign[row, slot]
                if t >= 0 and thin[t] and not (self.forced_rows[row] and self.A[row, t]):
                    self.assign[row, slot] = -1
        self._recount()
        self._concentrate(holders)
        local = self._thin_slots()
        if not local:
            return
        kept = self.assign.copy()
        self.assign[:] = -1
        self._recount()
        everyone = np.arange(len(self.keys))
        self._place_forced(everyone)
        self._concentrate(everyone)
        if self._thin_slots() >= local:
            self.assign = kept
            self._recount()

    # -- small helpers ------------------------------------------------------------

    def _held(self, rows: np.ndarray) -> np.ndarray:
        held = np.zeros((rows.size, self.T), dtype=bool)
        sub = self.assign[rows]
        r, s = np.nonzero(sub >= 0)
        held[r, sub[r, s]] = True
        return held

    def _themes_used(self, rows: np.ndarray) -> np.ndarray:
        used = np.zeros((rows.size, len(THEMES)), dtype=bool)
        sub = self.assign[rows]
        r, s = np.nonzero(sub >= 0)
        used[r, self.theme[sub[r, s]]] = True
        return used

    def _give(self, rows: np.ndarray, t: int) -> None:
        slot = (self.assign[rows] < 0).argmax(axis=1)
        self.assign[rows, slot] = t
        self.counts[t] += rows.size

    def _recount(self) -> None:
        flat = self.assign[self.assign >= 0]
        self.counts = np.bincount(flat, minlength=self.T).astype(np.int64)

    def _thin_slots(self) -> int:
        """People-slots spent on items asked of fewer than min_group people."""
        thin = (self.counts > 0) & (self.counts < self.m)
        return int(self.counts[thin].sum())

    def result(self) -> Choice:
        names = self.ids
        cache: dict[tuple[int, ...], list[str]] = {}
        items: dict[str, list[str]] = {}
        for key, row in zip(self.keys, map(tuple, self.assign.tolist()), strict=True):
            ids = cache.get(row)
            if ids is None:
                ids = cache[row] = [names[t] for t in row if t >= 0]
            items[key] = list(ids)
        restarted = [p for p in np.flatnonzero(self.restart)]
        new_cycle = {
            self.keys[p]: [self.ids[t] for t in self.assign[p] if t >= 0 and not self.A[p, t]]
            for p in restarted
        }
        return Choice(items, frozenset(self.keys[p] for p in restarted), new_cycle)


def _grade_index(grade: str | None) -> int:
    try:
        return _GRADE_INDEX[grade]
    except KeyError:
        raise ValueError(
            f"unknown grade {grade!r}; use one of {', '.join(GRADES)} or None"
        ) from None
