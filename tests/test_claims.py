"""The claims model and the words a medical director reads: each wording rule of issue 13 with a
test, and the statistics behind the claims against scipy/numpy as independent oracles."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from scipy import stats as sps
from sqlalchemy import select

from bot.insights import stats, summary
from bot.insights.gap import GapRow, gap_line
from bot.insights.summary_view import FIRST_PULSE, MORE, PER_SECTION, footer, summary_view
from integrations.slack.summary_blocks import summary_blocks as render_summary
from storage.models import Department, Round, RoundParticipation
from tests.blockkit import validate
from tests.test_summary import Trust, _keys


def summary_blocks(s, title: str, detail: bool = False) -> list[dict]:
    """A summary's Slack message: the core's view (``summary_view``), drawn by the Slack renderer."""
    return render_summary(summary_view(s, title, detail))


def _text(blocks) -> str:
    out = []
    for b in blocks:
        if b.get("text"):
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            out.append(e.get("text", "") if isinstance(e.get("text"), str) else "")
    return "\n".join(out)


# --------------------------------------------------------------------------- statistics


def test_welch_p_value_matches_scipy():
    rng = random.Random(1)
    for _ in range(20):
        a = [rng.gauss(50, 20) for _ in range(rng.randint(5, 60))]
        b = [rng.gauss(55, 25) for _ in range(rng.randint(5, 60))]
        expected = sps.ttest_ind(a, b, equal_var=False).pvalue
        mean_a = stats.Mean(len(a), sum(a), sum(x * x for x in a))
        mean_b = stats.Mean(len(b), sum(b), sum(x * x for x in b))
        assert stats.p_diff_means(mean_a, mean_b) == pytest.approx(expected, rel=1e-7, abs=1e-12)


@pytest.mark.parametrize("x1,n1,x2,n2", [(21, 30, 12, 30), (3, 12, 9, 12), (40, 80, 38, 75)])
def test_newcombe_p_value_agrees_with_its_interval_at_every_level(x1, n1, x2, n2):
    a, b = stats.Proportion(x1, n1), stats.Proportion(x2, n2)
    p = stats.p_diff_proportions(a, b)
    for conf in (0.8, 0.9, 0.95, 0.99):
        assert stats.diff_proportions(a, b, conf).excludes_zero == (p < 1 - conf - 1e-9)
    # and it is close to the two-proportion z test scipy's chi-square gives
    chi = sps.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False).pvalue
    assert p == pytest.approx(chi, abs=0.03)


def test_benjamini_hochberg_matches_scipy():
    rng = np.random.default_rng(5)
    for _ in range(50):
        p = np.concatenate([rng.uniform(size=30), rng.uniform(0, 0.003, size=rng.integers(0, 6))])
        for q in (0.01, 0.05, 0.1):
            expected = sps.false_discovery_control(p) <= q
            assert stats.benjamini_hochberg(list(p), q) == list(expected)


def test_within_item_trend_matches_weighted_least_squares_with_item_effects():
    rng = np.random.default_rng(3)
    groups, rows, ys, ws = [], [], [], []
    for g in range(4):
        xs = sorted(rng.choice(12, size=rng.integers(3, 8), replace=False))
        pts = []
        for x in xs:
            v = float(rng.uniform(1, 9))
            y = 10 * g + 1.5 * x + float(rng.normal(0, v**0.5))
            pts.append((float(x), y, v))
            rows.append([x] + [1.0 if h == g else 0.0 for h in range(4)])
            ys.append(y)
            ws.append(1 / v)
        groups.append(pts)
    slope, se = stats.within_trend(groups)
    w = np.sqrt(np.array(ws))
    design = np.array(rows) * w[:, None]
    coef, *_ = np.linalg.lstsq(design, np.array(ys) * w, rcond=None)
    cov = np.linalg.inv(design.T @ design)  # known variances: no residual scaling
    assert slope == pytest.approx(coef[0], rel=1e-9)
    assert se == pytest.approx(cov[0, 0] ** 0.5, rel=1e-9)


# --------------------------------------------------------------------------- words


def test_first_pulse_says_so_and_never_too_few_answers(core, fake):
    t = Trust(core, fake)
    (agree,) = _keys(core, t.ws, "agree5")
    t.round(
        {"headline-engagement": [7] * 120 + [6] * 110, agree: [4] * 100},
        participation=[(None, None, 300, 230)],
    )
    s = summary.build(core, t.ws)
    text = _text(summary_blocks(s, "x"))
    assert FIRST_PULSE in text and s.headline.label == "First pulse"
    assert "too few answers" not in text.lower()
    assert "230 of 300 doctors answered (77%)" in text


def test_the_number_of_pulses_said_is_the_real_one(core, fake):
    t = Trust(core, fake)
    (agree,) = _keys(core, t.ws, "agree5")
    for week in range(4):  # a clear rise: 10, 30, 50, 70 % favourable of 60
        fav = 6 + 12 * week
        t.round({agree: [5] * fav + [2] * (60 - fav), "headline-engagement": [6] * 60})
    s = summary.build(core, t.ws)
    claim = s.claims.about(f"item:{agree}")
    assert claim is not None and claim.direction == "up"
    said = [int(n) for n in re.findall(r"last (\d+) pulses", claim.text)]
    assert said and all(n <= 4 for n in said)
    text = _text(summary_blocks(s, "x"))
    assert "last 6" not in text and "12 pulses" not in text


def test_a_group_held_back_for_protection_never_reads_fewer_than_k(core, fake):
    t = Trust(core, fake)
    parts = [("Big", None, 40, 30), ("Middle", None, 20, 9), ("Tiny", None, 4, 3)]
    t.round({"headline-engagement": [7] * 42}, participation=parts)
    s = summary.build(core, t.ws)
    hidden = {d.department for d in s.departments if not d.shown}
    assert hidden == {"Middle", "Tiny"}  # Tiny < k, Middle to stop subtraction
    short, detail = _text(summary_blocks(s, "x")), _text(summary_blocks(s, "x", detail=True))
    assert "Held back to protect a smaller group: Middle" in short
    assert "Tiny: too few answered to report (fewer than 5)" in short
    assert "Middle: held back to protect a smaller group" in detail
    assert "Middle: fewer than" not in detail and "Tiny: fewer than 5 responses" in detail
    assert "9 of 20" not in short + detail and "Middle: 9" not in detail


def test_no_internal_labels_for_checklist_questions():
    row = GapRow("checklist:organisations:2", "q", 100.0, 1, 43.0, (33.0, 54.0), 40, 57.0, True)
    line = gap_line(row, 5)
    assert not re.search(r"\b(Org|Leaders) \d", line)
    assert line.startswith("*Board commitment*")


def test_one_short_footer_explains_favourable_and_intervals(core, fake):
    t = Trust(core, fake)
    (agree,) = _keys(core, t.ws, "agree5")
    for _ in range(2):
        t.round({agree: [4] * 40, "headline-engagement": [7] * 40})
    blocks = summary_blocks(summary.build(core, t.ws), "x")
    contexts = [b for b in blocks if b["type"] == "context"]
    assert contexts[-1]["elements"][0]["text"] == footer(5)
    assert len(footer(5)) < 320 and "Favourable" in footer(5) and "95% interval" in footer(5)
    text = _text(blocks)
    assert text.count("Favourable") == 1 and "excludes zero" not in text


def test_the_short_view_fits_one_screen_and_the_rest_is_behind_more(core, fake):
    t = Trust(core, fake)
    keys = _keys(core, t.ws, "agree5", n=10)
    rng = random.Random(4)
    parts = [(f"Department {i}", None, 30, 22 if i else 4) for i in range(12)]
    for week in range(6):
        answers = {key: [5 if rng.random() < 0.1 + 0.15 * week else 2 for _ in range(40)]
                   for key in keys}  # fmt: skip
        t.round(answers | {"headline-engagement": [7] * 200}, participation=parts)
    s = summary.build(core, t.ws)
    assert len(s.claims.of("change")) > PER_SECTION  # plenty to say...
    blocks = summary_blocks(s, "x")
    assert validate(blocks) == []
    text = _text(blocks)
    bullets = [line for line in text.splitlines() if line.startswith("•")]
    assert len(bullets) <= 4 * PER_SECTION  # ...but at most three per section
    assert len(text.splitlines()) <= 25 and f"*{MORE}*" in text
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [e["text"]["text"] for e in buttons] == [MORE]
    detail = _text(summary_blocks(s, "x", detail=True))
    assert all(c.text in detail for c in s.claims.of("change"))


def test_every_sentence_of_the_short_view_is_a_claim_or_a_fixed_line(core, fake):
    t = Trust(core, fake)
    keys = _keys(core, t.ws, "agree5", n=4)
    for week in range(5):
        t.round(
            {key: [5] * (10 + 8 * week) + [2] * (50 - 8 * week) for key in keys}
            | {"headline-engagement": [6] * 60},
            participation=[("A", None, 50, 40), ("B", None, 50, 12)],
        )
    s = summary.build(core, t.ws)
    claims = {c.text for c in s.claims.items}
    for line in _text(summary_blocks(s, "x")).splitlines():
        if line.startswith("• "):
            assert line[2:] in claims
    assert s.claims.about("department:B", "hard_to_reach").text.startswith(
        "B: 24% answered, against 52% across the trust"
    )


def test_an_item_never_flips_between_strength_and_concern_within_a_quarter_unclaimed():
    from datetime import date, timedelta

    from bot.insights import claims
    from storage.queries import ItemStats, Period, VersionInfo

    info = VersionInfo(1, "q1", "Q one", "agree5", "quality-strategy", "s", False, False)
    rounds = [Period(r, date(2026, 10, 1) - timedelta(days=14 * (r - 1))) for r in (1, 2, 3)]
    # newest first: two strong pulses now, one very weak pulse a month ago
    per = {
        1: {1: ItemStats(1, 1, 200, 0, 0, 190, 5)},
        2: {1: ItemStats(2, 1, 200, 0, 0, 190, 5)},
        3: {1: ItemStats(3, 1, 100, 0, 0, 10, 80)},
    }
    now = claims.standing(per, [1, 2, 3], {1: info}, 5)
    earlier = claims.standing(per, [3], {1: info}, 5)
    assert now[1][0] == "strength" and earlier[1][0] == "concern"  # it did flip
    assert claims.standing_claims(per, rounds, {1: info}, 5, changed=set()) == []
    kept = claims.standing_claims(per, rounds, {1: info}, 5, changed={"item:q1"})
    assert [c.kind for c in kept] == ["strength"]


def test_comment_counts_say_how_small_themes_are_grouped():
    from types import SimpleNamespace

    from bot.insights.summary import OTHER_THEMES
    from bot.insights.summary_view import _comments_text
    from storage.anonymity import k_label

    few = k_label(5)
    pooled = SimpleNamespace(k=5, comments_total=20, comments={OTHER_THEMES: 20, "quality": few})
    text = _comments_text(pooled)
    assert "Other themes: 20" in text and "counted together as Other themes" in text
    assert "the rest split out" not in text
    hidden = SimpleNamespace(k=5, comments_total=7, comments={"quality": few, OTHER_THEMES: few})
    assert "not split out by theme" in _comments_text(hidden)
    plain = SimpleNamespace(k=5, comments_total=9, comments={"quality": 9})
    assert "split out" not in _comments_text(plain) and "quality: 9" in _comments_text(plain)


# --------------------------------------------------------------------------- hard to reach


STEADY = [("A", None, 100, 70), ("C", None, 10, 6)]


def _b_rounds(t, rates: list[int], hidden_at: int | None = None, hidden=None) -> list[int]:
    """Pulses (oldest first) where department B answered ``rates[i]`` of 100; at ``hidden_at``
    the participation is ``hidden`` instead (a pulse where the auditor holds B back)."""
    rids = []
    for i, b in enumerate(rates):
        parts = hidden if i == hidden_at else [*STEADY, ("B", None, 100, b)]
        rids.append(t.round({"headline-engagement": [7] * 60}, participation=parts))
    return rids


def _set_responded(core, rid: int, counts: dict[str, int]) -> None:
    with core.db.Session() as s, s.begin():
        for row in s.scalars(select(RoundParticipation).where(RoundParticipation.round_id == rid)):
            name = s.get(Department, row.department_id).name
            row.responded = counts.get(name, row.responded)


def _reach(s) -> list:
    return [c for c in s.claims.items if c.kind in ("hard_to_reach", "too_few")]


@pytest.mark.parametrize(
    "why,hidden,other,changed",
    [  # B's pulse is held back; ``other`` moves its hidden count, keeping every total the same
        ("small", [("A", None, 100, 70), ("B", None, 100, 1), ("C", None, 10, 4)],
         {"B": 4, "C": 1}, False),
        ("protect", [("A", None, 100, 70), ("B", None, 100, 9), ("C", None, 10, 2)],
         {"B": 7, "C": 4}, False),
        ("changed", [("A", None, 100, 70), ("B", None, 100, 60), ("C", None, 10, 6)],
         {"B": 50, "A": 80}, True),
    ],
)  # fmt: skip
@pytest.mark.parametrize("rates,hidden_at", [([75, 75, 25], 1), ([75, 75, 75, 25, 25, 25], 4)])
def test_a_falling_department_never_pools_a_pulse_where_it_was_held_back(
    core, fake, why, hidden, other, changed, rates, hidden_at
):
    """The subtraction attack: a pooled rate over pulses that include one where B was held
    back, minus B's published pulses, gives the hidden count. So nothing published may depend
    on that count: the same summary whatever it was, and B still named where the published
    pulses alone show the fall."""
    t = Trust(core, fake)
    rids = _b_rounds(t, rates, hidden_at, hidden)
    if changed:
        with core.db.Session() as s, s.begin():
            s.get(Round, rids[hidden_at]).audience_changed = True
    with core.db.Session() as s:
        parts = summary.queries.participation(s, rids)
    decision, _ = summary.participation_disclosure(parts, rids[hidden_at], core.k)
    assert decision.reason(("department", "B")) == {"small": "small"}.get(why, why)
    first = summary.build(core, t.ws)
    _set_responded(core, rids[hidden_at], other)
    second = summary.build(core, t.ws)
    assert _reach(first) == _reach(second)
    detail = [_text(summary_blocks(s, "x", detail=True)) for s in (first, second)]
    assert detail[0] == detail[1]
    claim = first.claims.about("department:B", "hard_to_reach")
    assert claim is not None and "falling" in claim.direction  # the fall is still named
    assert "75%" in claim.text and "of the" in claim.text  # from B's published pulses only


def test_a_falling_department_whose_every_pulse_was_published_is_still_named(core, fake):
    t = Trust(core, fake)
    _b_rounds(t, [75, 75, 75, 25, 25, 25])
    s = summary.build(core, t.ws)
    claim = s.claims.about("department:B", "hard_to_reach")
    assert claim is not None and claim.direction == "low,falling"
    assert claim.text == (
        "B: 25% answered, against 48% across the trust; "
        "falling: 25% over the last 3 pulses, from 75% in the 3 before"
    )
