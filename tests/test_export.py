"""The CSV export: hand-worked figures, k-protection as an attacker reads a spreadsheet (totals
minus shown cells), the not-recorded group and linked breakdowns, and `medpulse export`."""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from scipy import stats as sps

from bot.insights import export
from tests.disclosure_attack import isolated_sets
from tests.test_summary import Trust, _keys

K_LABEL = "fewer than 5 responses"


def _rows(core, ws) -> list[dict]:
    return list(csv.DictReader(io.StringIO(export.to_csv(export.rows(core, ws)))))


HELD = "held back to protect a smaller group"


def _n(row: dict) -> int | None:
    return None if row["n"] in (K_LABEL, HELD) else int(row["n"])


def test_item_and_theme_rows_match_hand_worked_figures(core, fake):
    t = Trust(core, fake)
    a, b = _keys(core, t.ws, "agree5", n=2, theme="quality-strategy")
    head = [5, 6, 7, 8, 6, 7, 9, 4, 6, 7, 8, 5]
    t.round({a: [5, 4, 4, 3, 2, 1, 4, 5, 3, 4], b: [1, 2, 3], "headline-engagement": head})
    rows = _rows(core, t.ws)
    item = {r["item"]: r for r in rows if r["level"] == "item"}
    fav = sps.binomtest(6, 10).proportion_ci(method="wilson")
    assert item[a]["score"] == "60.0" and item[a]["unit"] == "% favourable"
    assert float(item[a]["ci_low"]) == pytest.approx(100 * fav.low, abs=0.05)
    assert float(item[a]["ci_high"]) == pytest.approx(100 * fav.high, abs=0.05)
    assert item[a]["n"] == "10" and item[a]["version"] == "1"
    assert item[b]["n"] == K_LABEL and item[b]["score"] == ""  # 3 answers: never a figure
    mean = sum(head) / len(head)
    lo, hi = sps.t.interval(0.95, len(head) - 1, loc=mean, scale=sps.sem(head))
    h = item["headline-engagement"]
    assert h["unit"] == "mean 0-10" and h["score"] == f"{mean:.1f}"
    assert (h["ci_low"], h["ci_high"]) == (f"{lo:.1f}", f"{hi:.1f}")
    # theme: a alone (b is hidden, so it must not be pooled in), on 0-100
    (theme,) = [r for r in rows if r["level"] == "theme" and r["theme"] == "quality-strategy"]
    scores = [(v - 1) * 25 for v in [5, 4, 4, 3, 2, 1, 4, 5, 3, 4]]
    assert theme["n"] == "10" and theme["score"] == f"{sum(scores) / 10:.1f}"
    rate = next(r for r in rows if r["level"] == "response rate")
    assert (rate["n"], rate["invited"], rate["score"]) == ("40", "60", f"{100 * 40 / 60:.1f}")


def _check_breakdowns(rows: list[dict], k: int = 5) -> int:
    """Attack every breakdown in the file: each level's cells against their total row."""
    totals = {}
    for r in rows:
        if r["level"] in ("item", "response rate"):
            totals[(r["period"], r["item"])] = _n(r)
    groups = defaultdict(list)
    for r in rows:
        if r["level"].startswith(("item by", "response rate by")) and "and" not in r["level"]:
            groups[(r["period"], r["level"], r["item"])].append(r)
    for (period, level, item), cells in groups.items():
        total = totals[(period, item)]
        shown = [_n(c) for c in cells if _n(c) is not None]
        hidden = [c for c in cells if _n(c) is None]
        assert all(n >= k for n in shown)
        for c in hidden:
            assert c["score"] == c["ci_low"] == c["invited"] == "", c
        if total is None:  # the total itself is hidden: nothing to subtract from
            continue
        residual = total - sum(shown)
        if hidden and len(hidden) < len(cells):
            assert residual == 0 or residual >= k, (level, item, cells)
        elif not hidden:
            assert residual == 0, (level, item)  # every answer sits in a listed cell
    return len(groups)


@pytest.mark.parametrize("seed", range(4))
def test_no_suppressed_figure_can_be_recovered_by_subtraction(core, fake, seed):
    rng = random.Random(seed)
    t = Trust(core, fake)
    keys = _keys(core, t.ws, "agree5", n=3)
    depts = ["Surgery", "Medicine", "ED", "Radiology", None]
    grades = ["consultant", "resident", None]
    for _ in range(2):
        dept_answers = {}
        for key in keys:
            for d in depts:
                for g in grades:
                    n = rng.choice([0, 0, 1, 2, 4, 6, 9, 14])
                    if n:
                        dept_answers[(key, d, g)] = [rng.randint(1, 5) for _ in range(n)]
        parts = [(d, g, 20, rng.choice([0, 1, 3, 6, 12])) for d in depts[:4] for g in grades[:2]]
        t.round({}, participation=parts, dept_answers=dept_answers)
    rows = _rows(core, t.ws)
    assert _check_breakdowns(rows) >= 6
    assert all(_n(r) is None or _n(r) >= 5 for r in rows)


def test_answers_with_no_segment_recorded_are_a_cell_of_the_breakdown(core, fake):
    t = Trust(core, fake)
    (a,) = _keys(core, t.ws, "agree5")
    t.round({a: [1, 2, 1]}, dept_answers={(a, "Big"): [5] * 20})
    rows = _rows(core, t.ws)
    by_dept = {r["department"]: r for r in rows if r["level"] == "item by department"}
    # 23 answers, 20 from Big: showing Big would give away the other 3 by subtraction
    assert by_dept["Big"]["n"] == HELD and by_dept["Big"]["score"] == ""
    assert by_dept["No department recorded"]["n"] == K_LABEL
    item = next(r for r in rows if r["level"] == "item")
    assert item["n"] == "23"


GRADE_LABEL = {"Consultants": "consultant", "Resident doctors": "resident", "SAS doctors": "sas"}


def _published_groups(rows: list[dict], item: str, cells: dict) -> list[set]:
    """The (department, grade) cells behind every figure the export prints for one item."""
    groups = [set(cells)]
    for r in rows:
        if r["item"] != item or not r["level"].startswith("item by") or _n(r) is None:
            continue
        if r["level"] == "item by department":
            d = None if r["department"] == "No department recorded" else r["department"]
            groups.append({c for c in cells if c[0] == d})
        else:
            g = GRADE_LABEL.get(r["grade"])
            groups.append({c for c in cells if c[1] == g})
    return groups


@pytest.mark.parametrize(
    "table",
    [
        # Cardiology is all consultants: consultants (22) minus Cardiology (20) = two people.
        {("Cardiology", "consultant"): 20, (None, "consultant"): 2, ("Renal", "resident"): 10},
        # Attack 5: A - (residents - C) = A's one consultant, a chain the pairwise check missed.
        {("A", "consultant"): 1, ("A", "resident"): 6, ("B", "consultant"): 7,
         ("C", "resident"): 9, ("D", "consultant"): 6, ("D", "sas"): 6, ("E", "sas"): 7},
    ],
)  # fmt: skip
def test_no_chain_of_department_and_grade_rows_isolates_a_small_group(core, fake, table):
    t = Trust(core, fake)
    (a,) = _keys(core, t.ws, "agree5")
    t.round({}, dept_answers={(a, d, g): [4] * n for (d, g), n in table.items()})
    rows = _rows(core, t.ws)
    groups = _published_groups(rows, a, table)
    everything = [{c for c in table if c[0] == d} for d, _ in table] + [
        {c for c in table if c[1] == g} for _, g in table
    ]
    assert isolated_sets(table, [set(table), *everything], 5)  # the attack is real...
    assert isolated_sets(table, groups, 5) == []  # ...and the export leaves nothing of it
    held = [r for r in rows if r["item"] == a and r["n"] == HELD]
    assert held and all(r["score"] == "" for r in held)
    assert len(groups) > 3  # the rest of both breakdowns is still there


def test_department_by_grade_table_only_when_every_cell_qualifies(core, fake):
    t = Trust(core, fake)
    (a,) = _keys(core, t.ws, "agree5")
    ok = [
        ("A", "consultant", 10, 6),
        ("A", "resident", 10, 7),
        ("B", "consultant", 9, 5),
        ("B", "resident", 9, 8),
    ]
    t.round({a: [4] * 26}, participation=ok)
    t.round({a: [4] * 26}, participation=[*ok[:3], ("B", "resident", 9, 4)])
    rows = [r for r in _rows(core, t.ws) if r["level"] == "response rate by department and grade"]
    periods = {r["period"] for r in rows}
    assert len(periods) == 1 and len(rows) == 4  # only the first period qualifies
    assert all(int(r["n"]) >= 5 for r in rows)


def test_medpulse_export_writes_the_same_rows(core, fake, db_url, tmp_path):
    t = Trust(core, fake)
    (a,) = _keys(core, t.ws, "agree5")
    t.round({a: [5, 4, 3, 2, 1] * 3}, dept_answers={(a, "Big"): [4] * 6})
    out = tmp_path / "x.csv"
    medpulse = str(Path(sys.executable).parent / "medpulse")
    env = {"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "MEDPULSE_MIN_GROUP": "5"}
    done = subprocess.run(
        [medpulse, "export", "--out", str(out), "--team", fake.team_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "k-protected rows" in done.stdout
    assert out.read_bytes().decode() == export.to_csv(export.rows(core, t.ws))
