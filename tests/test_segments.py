"""Segments decided per question for everyone at once (bot.rounds.segments): what a database reader
sees grouped by the stored segment never narrows to fewer than k answers."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.rounds import segments

cell_size = st.one_of(st.sampled_from([0, 1, 1, 2, 4]), st.integers(0, 12), st.integers(5, 30))
tables = st.dictionaries(
    st.tuples(st.sampled_from(["A", "B", "C", None]), st.sampled_from(["c", "s", "r", None])),
    cell_size,
    min_size=1,
    max_size=12,
)


def _stored_groups(cells: dict, mapping: dict) -> list[Counter]:
    out = [Counter(), Counter(), Counter()]
    for cell, n in cells.items():
        d, g = mapping[cell]
        out[0][d] += n
        out[1][g] += n
        out[2][(d, g)] += n
    return out


@settings(max_examples=1500, deadline=None)
@given(tables, st.integers(3, 7))
def test_every_stored_group_is_empty_or_at_least_k(cells: dict, k: int) -> None:
    mapping = segments.plan(cells, k)
    total = sum(cells.values())  # the question's own answers: small only if all of them are
    for groups in _stored_groups(cells, mapping):
        assert all(n in (0, total) or n >= k for n in groups.values()), (groups, mapping)
    for (d, g), (d2, g2) in mapping.items():  # only ever coarser, never a different segment
        assert d2 in (d, None) and g2 in (g, None)
    # a dimension is kept or dropped for every answer of the question, not person by person
    kept_g = {g2 is not None for (_, g), (_, g2) in mapping.items() if g is not None}
    kept_d = {d2 is not None for (d, _), (d2, _) in mapping.items() if d is not None}
    assert len(kept_g) <= 2 and len(kept_d) <= 2


@settings(max_examples=500, deadline=None)
@given(tables, st.integers(3, 7))
def test_close_only_merges_further(cells: dict, k: int) -> None:
    """At close the rule runs again on the stored segments of those who answered."""
    first = segments.plan(cells, k)
    answered = Counter()
    for cell, n in cells.items():
        answered[first[cell]] += n // 2
    second = segments.plan(dict(answered), k)
    total = sum(answered.values())
    for groups in _stored_groups(dict(answered), second):
        assert all(n in (0, total) or n >= k for n in groups.values())


def test_a_lone_consultant_drops_the_grade_for_the_whole_question() -> None:
    cells = {("A", "c"): 1, ("A", "r"): 6, ("B", "c"): 7, ("C", "r"): 9}
    mapping = segments.plan(cells, 5)
    assert set(mapping.values()) == {("A", None), ("B", None), ("C", None)}
    assert segments.plan(cells, 5, changed=True) == dict.fromkeys(cells, (None, None))


def test_asked_counts_rebuild_the_full_table() -> None:
    asked = {
        ("all", ""): 20,
        ("department", "A|B"): 9,  # a department name may contain the separator
        ("department", "C"): 6,
        ("grade", "consultant"): 10,
        ("cell", "A|B|consultant"): 7,
        ("cell", "C|consultant"): 3,
    }
    assert segments.asked_cells(asked) == {
        ("A|B", "consultant"): 7,
        ("C", "consultant"): 3,
        ("A|B", None): 2,
        ("C", None): 3,
        (None, None): 5,
    }


def test_migration_0003_re_decides_the_segments_of_rounds_closed_before_it(core, fake):
    """Rounds closed under the old per-person rule keep a group of one until re-decided."""
    import importlib.util
    from pathlib import Path

    from sqlalchemy import select

    from storage.models import Response
    from tests.test_summary import Trust, _keys

    path = Path(__file__).parent.parent / "storage/migrations/versions/0003_audience_changes.py"
    spec = importlib.util.spec_from_file_location("m0003", path)
    m0003 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0003)
    t = Trust(core, fake)
    (a,) = _keys(core, t.ws, "agree5")
    t.round(
        {},
        dept_answers={
            (a, "A", "consultant"): [4] * 6,
            (a, "A", None): [1],  # the old fallback: A's lone resident, stored without a grade
            (a, "B", "resident"): [3] * 7,
        },
    )
    with core.db.engine.begin() as conn:
        m0003._recoarsen_closed_rounds(conn, 5)
    with core.db.Session() as s:
        stored = Counter(s.execute(select(Response.department_id, Response.grade)).all())
    # A's consultants join its lone resident under "A, no grade"; B's residents keep theirs
    assert sorted(stored.values()) == [7, 7] and {g for _, g in stored} == {None, "resident"}
