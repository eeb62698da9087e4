"""Tests for storage.anonymity, written from the attacker's side.

The attacker sees exactly what a summary shows: the unsuppressed cells, the total (when it is
large enough to show) and "fewer than k responses" for the rest, and tries to work out any
suppressed group's count (or answers) by arithmetic.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from storage import auditor, published
from storage.anonymity import (
    DEFAULT_K,
    Suppressed,
    comments_visible,
    cross_breakdown_allowed,
    k_label,
    protect,
    protect_breakdown,
    suppress,
    suppress_breakdown,
    validate_k,
)
from tests.disclosure_attack import isolated_sets

# Group sizes biased towards the dangerous ones: empty, single respondents, just under k.
group_size = st.one_of(
    st.sampled_from([0, 1, 2]), st.integers(0, 9), st.integers(10, 60), st.integers(0, 300)
)
ks = st.integers(3, 10)
breakdowns = st.dictionaries(st.text("ABCDEFGHIJKLMNOP", min_size=1, max_size=2), group_size,
                             min_size=1, max_size=14)  # fmt: skip


def attacker_view(counts: Mapping[str, int], hidden: set[str], k: int) -> dict:
    """Everything a reader can see: shown cells, the total if shown, which cells are hidden."""
    total = sum(counts.values())
    return {
        "shown": {key: n for key, n in counts.items() if key not in hidden},
        "hidden": sorted(hidden),
        "total": total if total >= k else None,
    }


def possible_values(view: dict) -> dict[str, set[int]]:
    """Brute force: every count each hidden cell can have, given only the view.

    The attacker knows counts are whole numbers >= 0 and that the hidden cells add up to
    total minus shown. Without the total, a hidden cell could be any of 0..k-1 at least.
    """
    hidden = view["hidden"]
    if not hidden:
        return {}
    if view["total"] is None:
        return {key: set(range(0, 10_000)) for key in hidden}
    rest = view["total"] - sum(view["shown"].values())
    options: dict[str, set[int]] = {key: set() for key in hidden}
    # compositions of `rest` into len(hidden) non-negative parts, via stars and bars
    m = len(hidden)
    for bars in itertools.combinations(range(rest + m - 1), m - 1):
        edges = (-1, *bars, rest + m - 1)
        for key, lo, hi in zip(hidden, edges, edges[1:], strict=False):
            options[key].add(hi - lo - 1)
    return options


# ----------------------------------------------------------------------------- single breakdown


@settings(max_examples=400)
@given(breakdowns, ks)
def test_suppressed_set_is_empty_or_two_plus_cells_summing_to_k(counts: dict, k: int) -> None:
    hidden = suppress_breakdown(counts, k)
    total = sum(counts.values())
    # every small group (0 included) is hidden; every shown group is at least k
    assert {key for key, n in counts.items() if n < k} <= hidden
    assert all(counts[key] >= k for key in counts.keys() - hidden)
    if total < k:
        assert hidden == set(counts)  # nothing at all, and the total is hidden too
        assert not suppress(counts, k).total_visible
        return
    # what the attacker recovers by subtraction is the sum of the hidden cells
    recovered = total - sum(counts[key] for key in counts.keys() - hidden)
    assert recovered == 0 or recovered >= k


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from("ABCDE"), st.integers(0, 12), min_size=1), ks)
def test_attacker_cannot_pin_any_hidden_count(counts: dict, k: int) -> None:
    hidden = suppress_breakdown(counts, k)
    options = possible_values(attacker_view(counts, hidden, k))
    for key in hidden:
        assert counts[key] in options[key]  # the attacker's reasoning is sound...
        if 0 < counts[key] < k:  # ...but never narrows a small hidden cell to one value
            assert len(options[key]) >= 2
            assert any(v != counts[key] for v in options[key])


@settings(max_examples=200)
@given(breakdowns, ks)
def test_complementary_suppression_is_minimal(counts: dict, k: int) -> None:
    # Do not hide more than needed: complements are the smallest shown-eligible groups, and
    # showing the largest of them again would leave a hidden pool of 1 to k - 1.
    hidden = suppress_breakdown(counts, k)
    complements = [key for key in hidden if counts[key] >= k]
    shown = counts.keys() - hidden
    for key in complements:
        assert all(counts[key] <= counts[other] for other in shown)
    if complements and shown:
        largest = max(complements, key=lambda key: counts[key])
        rest = hidden - {largest}
        assert 0 < sum(counts[key] for key in rest) < k


def test_worked_examples() -> None:
    k = 5
    # one small group: the next smallest goes too, so 3 cannot be read off 60 - 40 - 12
    assert suppress_breakdown({"ED": 40, "ICU": 12, "Derm": 3, "Renal": 5}, k) == {"Derm", "Renal"}
    # two small groups adding to < k: keep going until the hidden sum reaches k
    assert suppress_breakdown({"A": 1, "B": 2, "C": 6, "D": 30}, k) == {"A", "B", "C"}
    # two small groups adding to >= k need no complement
    assert suppress_breakdown({"A": 4, "B": 3, "C": 30}, k) == {"A", "B"}
    # a 0 is not shown as "0" and does not count as the complement
    assert suppress_breakdown({"A": 0, "B": 3, "C": 7, "D": 20}, k) == {"A", "B", "C"}
    # with the total never shown, only the small groups themselves are hidden
    assert suppress_breakdown({"A": 3, "B": 30}, k, total_shown=False) == {"A"}
    assert suppress_breakdown({"A": 3, "B": 30}, k) == {"A", "B"}
    # nothing small: nothing hidden
    assert suppress_breakdown({"A": 5, "B": 30}, k) == set()
    assert suppress_breakdown({}, k) == set()
    # ties go to the group listed first, deterministically
    assert suppress_breakdown({"A": 2, "B": 9, "C": 9}, k) == {"A", "B"}


def test_zero_cells_are_hidden_because_they_would_narrow_the_others() -> None:
    # If 0s were printed as "0", an attacker would know each hidden group has >= 1, and five
    # hidden groups adding to 5 would each be exactly 1. Hidden 0s keep every option open.
    counts = {"A": 1, "B": 1, "C": 1, "D": 1, "E": 1, "F": 0, "G": 0}
    hidden = suppress_breakdown(counts, 5)
    assert hidden == set(counts)
    options = possible_values(attacker_view(counts, hidden, 5))
    assert options["A"] == set(range(6))


# ----------------------------------------------------------------------------- scores


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from("ABCDEFG"), st.integers(0, 40), min_size=1), ks)
def test_scores_by_subtraction_only_pool_k_or_more_people(counts: dict, k: int) -> None:
    # Per-group score totals (say, sum of 0-100 scores). The attacker multiplies shown means
    # by shown counts and subtracts from the overall total: what comes out is the combined
    # score of all hidden groups, which must come from at least k people.
    score_sums = {key: 37 * n for key, n in counts.items()}
    shown = protect_breakdown(
        {key: s / counts[key] for key, s in score_sums.items() if counts[key]}, counts, k
    )
    total_n = sum(counts.values())
    if total_n < k:
        assert all(isinstance(v, Suppressed) for v in shown.values())
        return
    hidden = [key for key, v in shown.items() if isinstance(v, Suppressed)]
    people_behind_derived_figure = total_n - sum(
        counts[key] for key, v in shown.items() if not isinstance(v, Suppressed)
    )
    assert people_behind_derived_figure == 0 or people_behind_derived_figure >= k
    assert all(str(shown[key]) == k_label(k) for key in hidden)


def test_protect_breakdown_contract() -> None:
    counts = {"A": 2, "B": 8, "C": 20}
    out = protect_breakdown({"A": 71.0, "B": 64.5, "C": 58.0}, counts, 5)
    assert out["C"] == 58.0
    assert isinstance(out["A"], Suppressed) and isinstance(out["B"], Suppressed)
    assert str(out["A"]) == "fewer than 5 responses"
    # suppressed groups need no value; shown groups must have one; no stray values
    assert protect_breakdown({"C": 58.0}, counts, 5)["C"] == 58.0
    with pytest.raises(ValueError):
        protect_breakdown({"A": 1.0}, counts, 5)
    with pytest.raises(ValueError):
        protect_breakdown({"Z": 1.0, "C": 2.0, "B": 3.0}, counts, 5)


# ----------------------------------------------------------------------------- cross tables


dept_grade = st.dictionaries(
    st.tuples(st.sampled_from(["ED", "ICU", "Derm"]), st.sampled_from(["cons", "sas", "res"])),
    st.integers(0, 15),
    min_size=1,
)


def margins(cross: Mapping[tuple, int], axis: int) -> dict[Hashable, int]:
    out: dict[Hashable, int] = {}
    for key, n in cross.items():
        out[key[axis]] = out.get(key[axis], 0) + n
    return out


@settings(max_examples=300)
@given(dept_grade, ks)
def test_cross_breakdown_only_when_every_cell_qualifies(cross: dict, k: int) -> None:
    allowed = cross_breakdown_allowed(cross, k)
    assert allowed == all(n >= k for n in cross.values())
    if allowed:
        # then every department and grade total is >= k as well: nothing to subtract
        for axis in (0, 1):
            assert suppress_breakdown(margins(cross, axis), k) == set()


def test_partial_cross_tables_are_refused_because_rows_can_be_subtracted() -> None:
    # Showing only the ICU row (both cells >= 5) next to the grade totals would give
    # Derm consultants = 20 - 8 - 9 = 3. The whole table is refused instead.
    cross = {("ED", "cons"): 8, ("ED", "res"): 10, ("ICU", "cons"): 9, ("ICU", "res"): 6,
             ("Derm", "cons"): 3, ("Derm", "res"): 5}  # fmt: skip
    assert not cross_breakdown_allowed(cross, 5)
    assert not cross_breakdown_allowed({}, 5)
    assert cross_breakdown_allowed({("ED", "cons"): 5, ("ED", "res"): 7}, 5)


def _northwest_corner(rows: list[int], cols: list[int]) -> list[list[int]] | None:
    """A non-negative table with these margins (the classic transportation construction)."""
    if sum(rows) != sum(cols):
        return None
    r, c = rows.copy(), cols.copy()
    table = [[0] * len(c) for _ in r]
    i = j = 0
    while i < len(r) and j < len(c):
        take = min(r[i], c[j])
        table[i][j] = take
        r[i] -= take
        c[j] -= take
        if r[i] == 0:
            i += 1
        else:
            j += 1
    return table


@settings(max_examples=150)
@given(dept_grade, ks)
def test_two_breakdowns_of_the_same_people_reveal_no_small_count(cross: dict, k: int) -> None:
    # The summary shows departments (with total) and grades (with total), each suppressed on
    # its own. Any department-count vector that fits the department view also fits the grade
    # view, because some non-negative department x grade table has those margins. So the two
    # views together pin no department count that the department view alone does not.
    depts, grades = margins(cross, 0), margins(cross, 1)
    assume(sum(depts.values()) >= k)
    hidden = sorted(suppress_breakdown(depts, k))
    assume(len(hidden) >= 2)
    hidden_sum = sum(depts[h] for h in hidden)
    grade_totals = list(grades.values())
    for key in hidden:
        other = next(h for h in hidden if h != key)
        fitting = set()
        for value in range(hidden_sum + 1):
            vector = {**depts, **dict.fromkeys(hidden, 0), key: value, other: hidden_sum - value}
            table = _northwest_corner(list(vector.values()), grade_totals)
            assert table is not None
            assert [sum(row) for row in table] == list(vector.values())
            assert [sum(col) for col in zip(*table, strict=True)] == grade_totals
            assert min(min(row) for row in table) >= 0
            fitting.add(value)
        assert depts[key] in fitting and len(fitting) >= 2


def test_outside_knowledge_of_nesting_is_caught_by_the_rank_test() -> None:
    # Both one-way breakdowns pass on their own: Derm 6, Cardio 40; consultants 8, residents 38.
    # But consultants minus Derm is the 2 Cardio consultants. The auditor sees it (their
    # indicator is in the row space) and holds one group back.
    cross = {("Derm", "cons"): 6, ("Derm", "res"): 0, ("Cardio", "cons"): 2, ("Cardio", "res"): 38}
    assert suppress_breakdown(margins(cross, 0), 5) == set()
    assert suppress_breakdown(margins(cross, 1), 5) == set()
    everything = published.breakdown_table(cross)
    assert isolated_sets(cross, [g.cells for g in everything.groups], 5) == [
        (frozenset({("Cardio", "cons")}), 2)
    ]
    decision = published.breakdowns(cross, 5)
    assert decision.reason(("grade", "cons")) == auditor.PROTECT
    assert decision.shown(("department", "Derm")) and decision.shown(("department", "Cardio"))
    assert isolated_sets(cross, [g.cells for g in decision.shown_groups], 5) == []
    assert not cross_breakdown_allowed(cross, 5)


def test_attack_5_a_chain_the_pairwise_check_missed() -> None:
    # A - (residents - C) = A's one consultant. No single derivable department group lies
    # inside a derivable grade group with a small difference, so the old pairwise check
    # (linked_breakdown_risks, now gone) returned no risk for this table.
    cross = {("A", "cons"): 1, ("A", "res"): 6, ("B", "cons"): 7, ("C", "res"): 9,
             ("D", "cons"): 6, ("D", "sas"): 6, ("E", "sas"): 7}  # fmt: skip
    everything = published.breakdown_table(cross)
    assert (frozenset({("A", "cons")}), 1) in isolated_sets(
        cross, [g.cells for g in everything.groups], 5
    )
    decision = published.breakdowns(cross, 5)
    assert isolated_sets(cross, [g.cells for g in decision.shown_groups], 5) == []
    assert auditor.PROTECT in decision.hidden.values()
    # held back to protect, not small: the two reasons stay apart
    for key, reason in decision.hidden.items():
        assert (reason == auditor.SMALL) == (decision.count(key) < 5)


# Dangerous sizes over-represented: empty, 1, 2, just under k; departments and grades may be
# "not recorded" (None).
cell_size = st.one_of(st.sampled_from([0, 1, 1, 2, 3, 4]), st.integers(0, 12), st.integers(5, 40))
dg_tables = st.dictionaries(
    st.tuples(st.sampled_from(["A", "B", "C", "D", None]), st.sampled_from(["c", "s", "r", None])),
    cell_size,
    min_size=1,
    max_size=12,
)


@settings(max_examples=1500, deadline=None)
@given(dg_tables, ks, st.booleans())
def test_no_published_breakdown_isolates_a_small_group(cells: dict, k: int, cross: bool) -> None:
    """Thousands of department x grade tables, with and without the cells themselves offered:
    an independent least-squares attacker on what is shown never isolates 1 to k - 1 people."""
    decision = published.breakdowns(cells, k, cross=cross)
    shown = decision.shown_groups
    assert all(decision.table.count(g) >= k for g in shown)
    assert isolated_sets(cells, [g.cells for g in shown], k) == []
    if sum(cells.values()) >= k:
        assert decision.shown(published.TOTAL)


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(cell_size, min_size=1, max_size=9),
    st.lists(st.sets(st.integers(0, 8), min_size=1), min_size=1, max_size=8),
    ks,
)
def test_any_family_of_groups_is_made_safe(sizes: list, subsets: list, k: int) -> None:
    """Arbitrary overlapping groups over arbitrary cells (not only margins of a table)."""
    cells = dict(enumerate(sizes))
    groups = [
        auditor.Group(("g", i), frozenset(c for c in sub if c in cells))
        for i, sub in enumerate(subsets)
    ]
    groups.append(auditor.Group("total", frozenset(cells), auditor.FIXED))
    decision = auditor.decide(auditor.Table(cells, tuple(groups)), k)
    assert isolated_sets(cells, [g.cells for g in decision.shown_groups], k) == []


def test_past_the_search_bound_the_auditor_holds_back_rather_than_guesses(monkeypatch) -> None:
    cross = {("A", "cons"): 1, ("A", "res"): 6, ("B", "cons"): 7, ("B", "res"): 5,
             ("C", "res"): 9}  # fmt: skip
    monkeypatch.setattr(auditor, "MAX_CANDIDATES", 0)
    decision = published.breakdowns(cross, 5)
    assert decision.shown(published.TOTAL)
    assert isolated_sets(cross, [g.cells for g in decision.shown_groups], 5) == []


def test_a_changed_audience_publishes_only_the_whole() -> None:
    cross = {("A", "cons"): 10, ("B", "res"): 12}
    decision = published.breakdowns(cross, 5, changed=True)
    assert [g.key for g in decision.shown_groups] == [published.TOTAL]
    assert set(decision.hidden.values()) == {auditor.CHANGED}


# ----------------------------------------------------------------------------- k and labels


def test_validate_k() -> None:
    assert validate_k(3) == 3
    assert validate_k(DEFAULT_K) == 5
    for bad in (2, 1, 0, -5, 4.5, "5", True):
        with pytest.raises(ValueError):
            validate_k(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        suppress_breakdown({"A": 3}, 2)
    with pytest.raises(ValueError):
        suppress_breakdown({"A": -1}, 5)
    with pytest.raises(ValueError):
        cross_breakdown_allowed({("A", "b"): 9}, 1)


def test_labels_and_single_figures() -> None:
    assert k_label() == "fewer than 5 responses"
    assert k_label(7) == "fewer than 7 responses"
    assert protect(63.2, 5) == 63.2
    hidden = protect(63.2, 4)
    assert isinstance(hidden, Suppressed) and str(hidden) == "fewer than 5 responses"
    assert "4" not in str(protect(63.2, 4, 8)) and str(protect(1, 0, 8)) == k_label(8)
    assert comments_visible(5) and not comments_visible(4) and not comments_visible(6, k=7)
    result = suppress({"ED": 40, "Derm": 3, "Renal": 5}, 5)
    assert result.cells["ED"].display == "40"
    assert result.cells["Derm"].display == "fewer than 5 responses"
    assert result.suppressed == {"Derm", "Renal"} and result.total_display == "48"
    assert suppress({"Derm": 3}, 5).total_display == "fewer than 5 responses"
