"""Differencing across regional comparisons: no sequence of published specialty figures lets a
reader in one trust work out another trust's own figures.

Cases whose answer is known by hand, then a property over random histories checked by an
independent attacker: scipy's null space of what the reader cannot tell apart, instead of the
module's rank comparison.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import null_space

from bot.insights.region_differencing import Figure, choose, gives_away_a_trust


def fig(specialty: str, *cells) -> Figure:
    return Figure(specialty, frozenset(cells))


def cell(trust: str, period: str, value: int = 10) -> tuple:
    return (trust, "ED", period, value * 2, value)


MARCH = [cell(t, "Mar") for t in "ABCD"]


def test_one_figure_needs_three_trusts():
    assert gives_away_a_trust([fig("ED", *MARCH[:2])])  # A reads B's figure by subtraction
    assert not gives_away_a_trust([fig("ED", *MARCH[:3])])


def test_a_trust_dropping_out_while_nothing_else_changed_is_held_back():
    march = fig("ED", *MARCH)
    april = fig("ED", *MARCH[:3])  # D's department held back in D; A, B and C the same
    assert choose([march], [april]) == set()
    assert gives_away_a_trust([march, april])


def test_the_same_figure_again_adds_nothing():
    march = fig("ED", *MARCH)
    assert choose([march], [march]) == {"ED"}


def test_two_trusts_with_new_figures_would_let_either_read_the_others_change():
    march = fig("ED", *MARCH)
    april = fig("ED", cell("A", "Apr", 11), cell("B", "Apr", 12), *MARCH[2:])
    assert choose([march], [april]) == set()


def test_three_or_more_trusts_with_new_figures_are_shown():
    march = fig("ED", *MARCH)
    april = fig("ED", *(cell(t, "Apr", 11) for t in "ABC"), MARCH[3])
    assert choose([march], [april]) == {"ED"}
    may = fig("ED", *(cell(t, "May", 12) for t in "ABCD"))
    assert choose([march, april], [may]) == {"ED"}


def test_a_remapped_department_is_followed_across_specialties():
    march = [fig("Cardiology", *MARCH)]
    # D's ED is now counted as Surgery beside three other trusts' new Surgery figures, and
    # Cardiology goes on without it: Cardiology's drop is D's figure.
    surgery = fig("Surgery", MARCH[3], *(("X" + t, "S", "Apr", 9, 5) for t in "ABC"))
    cardiology = fig("Cardiology", *MARCH[:3])
    assert choose(march, [surgery, cardiology]) == {"Surgery"}


# --------------------------------------------------------------------------- the property


def attacker_finds(figures: list[Figure]) -> bool:
    """Independently: for a reader who knows their own trust's cells, is there a combination of
    the published figures that is nonzero on one other trust's cells and zero elsewhere? The
    combinations that vanish on every column but ``other``'s are the left null space of those
    columns; any of them that does not vanish on ``other``'s columns gives it away."""
    columns = sorted({c for f in figures for c in f.cells}, key=repr)
    m = np.array([[1.0 if c in f.cells else 0.0 for c in columns] for f in figures])
    trusts = {c[0] for c in columns}
    for reader in [None, *trusts]:
        for other in trusts - {reader}:
            rest = [i for i, c in enumerate(columns) if c[0] not in (reader, other)]
            mine = [i for i, c in enumerate(columns) if c[0] == other]
            ys = null_space(m[:, rest].T) if rest else np.eye(len(figures))
            if ys.size and np.abs(m[:, mine].T @ ys).max() > 1e-9:
                return True
    return False


month = st.lists(
    st.tuples(st.sampled_from("ABCDE"), st.booleans(), st.integers(5, 7)),
    min_size=1,
    max_size=5,
    unique_by=lambda t: t[0],
)


@settings(max_examples=150, deadline=None)
@given(st.lists(month, min_size=1, max_size=5))
def test_no_history_of_shown_figures_gives_a_trust_away(months):
    """Each month some trusts contribute, each with a new figure or last month's again; what
    ``choose`` shows, over all months together, gives no trust away to the attacker."""
    shown: list[Figure] = []
    last: dict[str, tuple] = {}
    for n, contributors in enumerate(months):
        cells = []
        for trust, fresh, value in contributors:
            c = cell(trust, f"m{n}", value) if fresh or trust not in last else last[trust]
            last[trust] = c
            cells.append(c)
        candidate = Figure("ED", frozenset(cells))
        if choose(shown, [candidate]):
            shown.append(candidate)
    assert not attacker_finds(shown)


def test_the_attacker_finds_what_choose_holds_back():
    """The oracle is not blind: the case ``choose`` refuses is one it breaks."""
    assert attacker_finds([fig("ED", *MARCH), fig("ED", *MARCH[:3])])
    assert not attacker_finds([fig("ED", *MARCH)])
