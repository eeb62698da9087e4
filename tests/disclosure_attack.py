"""An attacker's solver, independent of storage.auditor: floating-point least squares over every
subset of the non-empty cells, no atoms, no exact arithmetic, no shortcuts.

Given the true respondents per finest cell (which the attacker does not see, but the test does)
and the groups whose figures were published, a set S of cells is worked out exactly when its
indicator is a linear combination of the published groups' indicators. The attacker is assumed
to know which cells are empty, so those columns are dropped first.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Mapping

import numpy as np


def isolated_sets(
    cells: Mapping[Hashable, int], published: Iterable[Iterable[Hashable]], k: int
) -> list[tuple[frozenset, int]]:
    """Every set of cells with 0 < n < k that subtraction of published groups yields exactly."""
    positive = [c for c, n in cells.items() if n > 0]
    groups = [set(g) for g in published]
    if not groups or not positive:
        return []
    a = np.array([[1.0 if c in g else 0.0 for c in positive] for g in groups])
    small = [c for c in positive if cells[c] < k]
    found = []
    for size in range(1, min(len(small), k - 1) + 1):
        for combo in itertools.combinations(small, size):
            n = sum(cells[c] for c in combo)
            if n >= k:
                continue
            target = np.array([1.0 if c in combo else 0.0 for c in positive])
            coef, *_ = np.linalg.lstsq(a.T, target, rcond=None)
            if np.allclose(a.T @ coef, target, atol=1e-7):
                found.append((frozenset(combo), n))
    return found
