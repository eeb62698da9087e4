"""The regional view across trusts (issue 17), end to end over signed requests against the fake
Slack with three installed workspaces; what it may pool, checked with the disclosure auditor as
an attacker would use it; and participation before/after sharing results back, checked against
simulations whose truth is known (scipy as the interval's oracle)."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import matplotlib.image as mpimg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from sqlalchemy import select

from bot.admin import audit
from bot.insights import participation, posting
from bot.insights import region as regional
from storage import auditor, published
from storage.models import AuditEntry, RegionMember
from tests.blockkit import validate
from tests.helpers import wait_for
from tests.multi import TEAMS, installer
from tests.region_data import closed_pulse, workspace_id
from tests.test_admin_commands import say

A, B, C = TEAMS
K = 5
HEAD = [7, 6, 8, 5, 7, 6, 9, 7]

# Department names as each trust has them: A&E / Emergency Medicine / ED are one specialty,
# "Cardio Ward" matches nothing until trust C maps it, Paediatrics is in one trust only.
DEPARTMENTS = {
    A: [("A&E", 30, 6), ("Cardiology", 20, 14), ("Surgery", 20, 15)],
    B: [("Emergency Medicine", 25, 17), ("Cardiac Medicine", 20, 15), ("General Surgery", 20, 14)],
    C: [("ED", 30, 7), ("Cardio Ward", 20, 13), ("Surgery", 25, 18), ("Paeds", 20, 15)],
}


def seed_region(core) -> None:
    """Three pulses per trust, one a fortnight, closing before the test clock's now."""
    start = datetime(2026, 10, 1, 9, tzinfo=UTC)
    for team, rows in DEPARTMENTS.items():
        ws = workspace_id(core, team)
        for i in range(3):
            closed_pulse(core, ws, rows, start + timedelta(days=14 * i), HEAD)


def next_pulse(r, *teams: str) -> None:
    """An hour on, each of ``teams`` opens a pulse (the same figures) that closes five days
    later; the clock then moves past the close."""
    r.core.clock.advance(timedelta(hours=1))
    for team in teams:
        ws = workspace_id(r.core, team)
        closed_pulse(r.core, ws, DEPARTMENTS[team], r.core.clock.now(), HEAD)
    r.core.clock.advance(timedelta(days=6))


def posts_in(fake, channel: str) -> list:
    return [m for (ch, _), m in fake.messages.items() if ch == channel and m.blocks]


def text_of(message) -> str:
    return "\n".join(
        b["text"]["text"] if "text" in b else b["elements"][0]["text"] for b in message.blocks
    )


def comparison(r, team: str = A) -> str:
    before = len(posts_in(r.fake, "CREGION"))
    assert "comparison and its chart are posted" in say(
        r.fake, r.sender(team), "region post", installer(team)
    )
    posts = wait_for(lambda: (p := posts_in(r.fake, "CREGION"))[before:] and p, what="post")
    assert validate(posts[-1].blocks) == []
    return text_of(posts[-1])


def test_opted_in_trusts_make_a_regional_comparison_and_an_opt_out_leaves_it(region):
    r = region
    seed_region(r.core)
    r.fake.add_channel("CREGION", "region-leads", members=[installer(A)], team_id=A)
    for team in TEAMS:
        assert "in the region" in say(r.fake, r.sender(team), "region join", installer(team))
    assert "already in the region" in say(r.fake, r.sender(A), "region join", installer(A))
    said = say(r.fake, r.sender(A), "region channel <#CREGION|region-leads>", installer(A))
    assert "monthly comparison goes to <#CREGION>" in said
    # Another trust cannot move the channel to itself; a doctor cannot run the command.
    r.fake.add_channel("CMINE", "mine", members=[installer(B)], team_id=B)
    moved = say(r.fake, r.sender(B), "region channel <#CMINE|mine>", installer(B))
    assert "hosted by T0AAA" in moved
    assert "is for medpulse admins" in say(r.fake, r.sender(A), "region join", "UA000")

    text = comparison(r)
    for team in TEAMS:
        assert f"*{team}*" in text
    # Trust figures as each trust's own summary publishes them (A: 35 of 70 answered).
    assert "35 of 70 answered, 50%" in text and "headline 6.9/10" in text
    # Emergency Medicine and Surgery pool three trusts; Cardiology and Paediatrics do not.
    assert "• Emergency Medicine: 30 of 85 answered" in text
    assert "• General Surgery: 47 of 65 answered" in text
    assert "fewer than 3 trusts contribute): Cardiology, Paediatrics" in text
    assert "Emergency Medicine: 30 of 85 answered, 35% (95% interval" in text
    assert "hard to reach in 2 of 3 trusts" in text  # A and C name their A&E / ED hard to reach

    # Trust C maps its own department name onto the shared list: Cardiology now has three.
    r.core.clock.advance(timedelta(hours=1))
    mapped = say(
        r.fake,
        r.sender(C),
        'region map "department:cardio ward" specialty:cardiology',
        installer(C),
    )
    assert "Cardio Ward is compared as Cardiology" in mapped
    unknown = say(
        r.fake, r.sender(C), "region map department:Paeds specialty:Wizardry", installer(C)
    )
    assert "'Wizardry' is not on the shared specialty list" in unknown
    status = say(r.fake, r.sender(C), "region status", installer(C))
    assert "Cardio Ward → Cardiology (set here)" in status and "ED → Emergency Medicine" in status
    # Until each trust has a pulse after the change, no specialty figure: this comparison less
    # the last would otherwise be C's Cardio Ward on its own.
    text = comparison(r)
    assert "Specialty figures leave out T0AAA, T0BBB, T0CCC for now" in text
    assert "• Cardiology" not in text and "• Emergency Medicine" not in text
    next_pulse(r, A, B)
    text = comparison(r)
    assert "Specialty figures leave out T0CCC for now" in text and "• Cardiology" not in text
    next_pulse(r, C)
    text = comparison(r)
    assert "• Cardiology: 42 of 60 answered" in text and "contribute): Paediatrics" in text
    assert "leave out" not in text

    # B opts out: it disappears from the next comparison, and Emergency Medicine with it.
    r.core.clock.advance(timedelta(hours=1))
    assert "left the region" in say(r.fake, r.sender(B), "region leave", installer(B))
    text = comparison(r)
    assert "T0BBB" not in text and "(2 trusts)" in text
    assert "• Emergency Medicine" not in text and "leave out T0AAA, T0CCC" in text
    next_pulse(r, A, C)
    text = comparison(r)
    assert "contribute): Cardiology, Emergency Medicine, General Surgery, Paediatrics" in text
    with r.core.db.Session() as s:
        b = workspace_id(r.core, B)
        actions = [
            e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.workspace_id == b))
        ]
        (row,) = s.scalars(select(RegionMember).where(RegionMember.workspace_id == b)).all()
    assert {"region opt-in", "region opt-out"} <= set(actions) and row.opted_out_at is not None
    # Revocable both ways: B joins again and is back in the next one.
    say(r.fake, r.sender(B), "region join", installer(B))
    # C keeps its Paeds out of comparisons altogether ("none"), whatever the list would match.
    kept = say(r.fake, r.sender(C), "region map department:paeds specialty:none", installer(C))
    assert "Paeds is left out of regional comparisons" in kept
    next_pulse(r, A, B, C)
    text = comparison(r)
    assert "T0BBB" in text and "Paediatrics" not in text
    (png,) = [f for f in r.fake.uploaded_files.values() if f.completed and f.data][-1:]
    assert mpimg.imread(io.BytesIO(png.data), format="png").shape[1] >= 800
    assert png.alt_txt.startswith("Chart: Regional comparison") and "T0BBB" in png.alt_txt
    assert "Emergency Medicine 35%, hard to reach in 2 of 3" in png.alt_txt


def test_a_figure_that_set_against_an_earlier_one_shows_one_trust_is_held_back(region):
    """Only trust A has a new pulse since the last comparison: every specialty A is in would,
    less last month's, be A's own change. Held back, and said; shown again once the other
    trusts have new figures too."""
    r = region
    seed_region(r.core)
    r.fake.add_channel("CREGION", "region-leads", members=[installer(A)], team_id=A)
    for team in TEAMS:
        say(r.fake, r.sender(team), "region join", installer(team))
    say(r.fake, r.sender(A), "region channel <#CREGION|region-leads>", installer(A))
    text = comparison(r)
    assert "• Emergency Medicine: 30 of 85" in text and "Held back" not in text
    assert comparison(r) == text  # the same figures again add nothing: shown

    next_pulse(r, A)
    text = comparison(r)
    assert "Held back this month: Emergency Medicine, General Surgery." in text
    assert "No specialty has published figures" not in text
    assert "• Emergency Medicine" not in text and "• General Surgery" not in text

    next_pulse(r, B, C)
    text = comparison(r)
    assert "• Emergency Medicine: 30 of 85" in text and "Held back" not in text


def test_the_monthly_job_posts_once_a_month_to_the_regional_channel(region):
    r = region
    seed_region(r.core)
    r.fake.add_channel("CREGION", "region-leads", members=[installer(A)], team_id=A)
    joined = say(r.fake, r.sender(A), 'region join "name:Northfield Trust"', installer(A))
    assert "in the region" in joined
    say(r.fake, r.sender(B), "region join", installer(B))
    say(r.fake, r.sender(A), "region channel <#CREGION|region-leads>", installer(A))
    assert "named Northfield Trust there" in say(r.fake, r.sender(A), "region status", installer(A))
    assert regional.post_due(r.core, datetime(2026, 11, 24, 12, tzinfo=UTC)) == 0  # not due
    first = datetime(2026, 12, 1, 9, 5, tzinfo=UTC)
    assert posting.post_due_summaries(r.core, first) == 1
    assert posting.post_due_summaries(r.core, first + timedelta(minutes=15)) == 0
    (post,) = posts_in(r.fake, "CREGION")
    assert "December 2026" in text_of(post) and "T0CCC" not in text_of(post)
    assert "*Northfield Trust* (period from" in text_of(post)
    # The host leaving clears the channel: nothing more is posted until another sets one.
    say(r.fake, r.sender(A), "region leave", installer(A))
    assert regional.post_due(r.core, datetime(2027, 1, 1, 9, 5, tzinfo=UTC)) == 0


def test_a_trust_below_k_is_not_shown_and_adds_nothing(region):
    r = region
    seed_region(r.core)
    ws = workspace_id(r.core, C)
    closed_pulse(
        r.core, ws, [("ED", 30, 2), ("Surgery", 25, 1)], datetime(2026, 11, 12, tzinfo=UTC)
    )
    r.fake.add_channel("CREGION", "region-leads", members=[installer(A)], team_id=A)
    for team in TEAMS:
        say(r.fake, r.sender(team), "region join", installer(team))
    say(r.fake, r.sender(A), "region channel <#CREGION|region-leads>", installer(A))
    text = comparison(r)
    assert f"*T0CCC*: not shown. Fewer than {K} people responded" in text
    assert "• Emergency Medicine" not in text  # C's ED is not published, so two trusts only


# --------------------------------------------------------------------------- what may be pooled


def _figures(trusts: dict, k: int):
    """Each trust's published department figures, decided by its own auditor as the summary
    does (``published.breakdowns`` over its (department, grade) respondent cells)."""
    out, decisions = [], {}
    for t, cells in trusts.items():
        counts = {c: n for c, n in cells.items()}
        d = published.breakdowns(counts, k, cross=published.cross_wanted(counts, k))
        decisions[t] = d
        if d.count(published.TOTAL) < k:
            out.append(regional.TrustFigures(t, {}))
            continue
        depts = {}
        for dept, _ in cells:
            if d.shown(("department", dept)):
                n = sum(v for (x, _), v in cells.items() if x == dept)
                depts[dept] = (n * 2, n)
        out.append(regional.TrustFigures(t, depts, frozenset(), {x: x for x in depts}))
    return out, decisions


def _everything_shown(trusts: dict, decisions: dict, rows) -> tuple[dict, list[frozenset]]:
    """The attacker's view: every trust's own published groups and every regional figure."""
    cells = {(t, *c): n for t, cs in trusts.items() for c, n in cs.items()}
    shown = [
        frozenset((t, *c) for c in g.cells)
        for t, d in decisions.items()
        if d.count(published.TOTAL) >= d.k
        for g in d.shown_groups
    ]
    for row in rows:
        shown.append(frozenset(c for c in cells if (c[0], c[1]) in set(row.contributors)))
    return cells, shown


cell_counts = st.integers(0, 9)


@settings(max_examples=60)
@given(
    st.lists(
        st.dictionaries(
            st.tuples(
                st.sampled_from(["ED", "Surgery", "Cardiology"]), st.sampled_from(["c", "r"])
            ),
            cell_counts,
            min_size=1,
        ),
        min_size=3,
        max_size=4,
    ),
    st.integers(3, 5),
)
def test_regional_figures_with_every_trusts_own_figures_isolate_no_small_group(trusts, k):
    by_trust = dict(enumerate(trusts))
    figures, decisions = _figures(by_trust, k)
    rows, _ = regional.specialty_rows(figures)
    cells, shown = _everything_shown(by_trust, decisions, rows)
    assert auditor.find_isolated(cells, shown, k) is None
    for row in rows:
        assert row.trusts >= regional.MIN_TRUSTS


def test_pooling_a_held_back_department_would_give_it_away_and_is_not_done():
    k = 5
    trusts = {
        "A": {("ED", "c"): 6, ("Surgery", "c"): 9},
        "B": {("ED", "c"): 7, ("Surgery", "c"): 8},
        # C's ED and Urology are each under k, held back in C (together 6, so Surgery is shown)
        "C": {("ED", "c"): 2, ("Urology", "c"): 4, ("Surgery", "c"): 9},
    }
    figures, decisions = _figures(trusts, k)
    assert "ED" not in figures[2].departments
    rows, too_few = regional.specialty_rows(figures)
    assert [r.specialty for r in rows] == ["Surgery"] and too_few == ["ED"]
    assert rows[0].contributors == (("A", "Surgery"), ("B", "Surgery"), ("C", "Surgery"))
    cells, shown = _everything_shown(trusts, decisions, rows)
    assert auditor.find_isolated(cells, shown, k) is None
    # A naive regional ED figure over all three trusts, less A's and B's published ED figures,
    # is C's held-back one: the auditor finds it.
    naive = frozenset(c for c in cells if c[1] == "ED")
    found = auditor.find_isolated(cells, [*shown, naive], k)
    assert found is not None and ("C", "ED", "c") in found


def test_two_trusts_give_no_specialty_figure():
    two = [regional.TrustFigures(t, {"ED": (20, 10)}, frozenset(), {"ED": "ED"}) for t in "AB"]
    assert regional.specialty_rows(two) == ([], ["ED"])
    three = [*two, regional.TrustFigures("C", {"ED": (10, 6)}, frozenset({"ED"}), {"ED": "ED"})]
    (row,), _ = regional.specialty_rows(three)
    assert (row.trusts, row.invited, row.responded, row.hard_to_reach) == (3, 50, 26, 1)


# --------------------------------------------------------------------------- before and after


T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _simulate(rng: random.Random, p_before: float, p_after: float, invited: int = 60):
    """Six fortnightly pulses before a share on day 90 and six after, each invitation answered
    independently with the known probability; one pulse straddles the share."""
    out = []
    for i in range(13):
        opened = T0 + timedelta(days=7 * i)
        p = p_before if opened + timedelta(days=5) <= T0 + timedelta(days=45) else p_after
        responded = sum(rng.random() < p for _ in range(invited))
        out.append(participation.Pulse(opened, opened + timedelta(days=5), invited, responded))
    return out, T0 + timedelta(days=45)


def _newcombe(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    w1 = sps.binomtest(x1, n1).proportion_ci(method="wilson")
    w2 = sps.binomtest(x2, n2).proportion_ci(method="wilson")
    p1, p2 = x1 / n1, x2 / n2
    lo = p1 - p2 - ((p1 - w1.low) ** 2 + (w2.high - p2) ** 2) ** 0.5
    hi = p1 - p2 + ((w1.high - p1) ** 2 + (p2 - w2.low) ** 2) ** 0.5
    return lo, hi


def test_before_after_matches_scipy_and_leaves_out_the_straddling_pulse():
    pulses, since = _simulate(random.Random(1), 0.4, 0.6)
    r = participation.before_after(pulses, since, K)
    assert r.pulses_before == 6 and r.pulses_after == 6  # 13 pulses, the straddling one out
    lo, hi = _newcombe(r.after.successes, r.after.n, r.before.successes, r.before.n)
    assert (r.diff.lo, r.diff.hi) == pytest.approx((lo, hi))


@pytest.mark.parametrize(
    ("p_before", "p_after", "says", "at_least"),
    [
        (0.45, 0.45, "no clear change", 0.90),
        (0.40, 0.60, "higher", 0.90),
        (0.6, 0.45, "lower", 0.8),
    ],
)
def test_before_after_against_simulations_whose_truth_is_known(p_before, p_after, says, at_least):
    rng = random.Random(17)
    runs, covered, right = 300, 0, 0
    for _ in range(runs):
        pulses, since = _simulate(rng, p_before, p_after)
        (r,) = participation.judge([participation.before_after(pulses, since, K)])
        covered += r.diff.lo <= p_after - p_before <= r.diff.hi
        right += r.verdict == says
    assert covered / runs >= 0.92  # a 95% interval, independent answers as simulated
    assert right / runs >= at_least


def test_before_after_needs_k_on_both_sides_and_pools_only_published_pulses():
    pulses, since = _simulate(random.Random(3), 0.5, 0.5)
    early = [p for p in pulses if p.closed_at <= since]
    assert participation.before_after(early, since, K).verdict == "too few pulses to tell"
    small = participation.Pulse(since + timedelta(days=1), since + timedelta(days=6), 60, K - 1)
    r = participation.before_after([*pulses, small], since, K)
    assert r.after.n == 6 * 60  # the pulse under k is not pooled (nor counted)


def test_the_leaders_summary_says_whether_sharing_back_was_followed_by_more_answers(core, fake):
    from bot.people.workspaces import ensure_team

    ws = ensure_team(core, fake.team_id)
    assert "not been shared back" in participation.words(participation.of_trust(core, ws))
    rng = random.Random(5)
    pulses, since = _simulate(rng, 0.35, 0.65)
    for p in pulses:
        closed_pulse(core, ws, [("Medicine", p.invited, p.responded)], p.created_at, HEAD)
    with core.db.Session() as s, s.begin():
        audit.record(s, ws, "ULEAD", "department share", None, "Medicine → C1", since)
    r = participation.of_trust(core, ws)
    line = participation.words(r)
    assert r.clear and line.startswith("Since results were first shared back (16 Jul 2026)")
    assert "higher by" in line and "not a controlled comparison" in line
    _, view = posting.render(core, ws)
    assert any("*Closing the loop*" in part.lines for part in view.sections)


def test_a_shared_department_is_compared_around_its_own_share(core, fake):
    from bot.people.workspaces import ensure_team

    ws = ensure_team(core, fake.team_id)
    for i in range(8):
        medicine = 8 if i < 4 else 15  # of 20 asked: 40% before its share, 75% after
        if i == 6:
            medicine = 3  # under k: held back, so pooled on neither side
        rows = [("Medicine", 20, medicine), ("Surgery", 20, 10), ("Cardiology", 20, 10)]
        closed_pulse(core, ws, rows, T0 + timedelta(days=14 * i), HEAD)
    with core.db.Session() as s, s.begin():
        since = T0 + timedelta(days=14 * 4 - 2)
        audit.record(s, ws, "ULEAD", "department share", None, "Medicine → C1", since)
    r = participation.of_department(core, ws, "Medicine")
    assert (r.pulses_before, r.pulses_after) == (4, 3)
    assert (r.before.successes, r.after.successes, r.after.n) == (32, 45, 60)
    assert r.clear and r.verdict == "higher"
    _, view = posting.render(core, ws)  # the trust summary's section lists it
    (loop,) = [p for p in view.sections if "*Closing the loop*" in p.lines]
    said = "\n".join(loop.lines)
    assert "• Medicine: Since results were first shared back" in said and "Surgery" not in said
    assert "75% (95% interval" in said and "over 3 pulses" in said


def test_the_demo_region_writes_its_comparison_and_chart_and_finds_what_was_planted(tmp_path):
    from simulator import region_demo

    files = region_demo.run(tmp_path)
    assert [f.name for f in files] == [
        "region-comparison.txt",
        "region-comparison.json",
        "region-chart.png",
    ]
    text = (tmp_path / "region-comparison.txt").read_text()
    for t in region_demo.TRUSTS:
        assert f"*{t.name}* (period from" in text
    (em,) = [line for line in text.splitlines() if line.startswith("• Emergency Medicine:")]
    assert em.endswith("hard to reach in 2 of 3 trusts")
    assert "contribute): Obstetrics and Gynaecology, Paediatrics" in text
    north, *others = text.split("*Closing the loop")[1].splitlines()[1:4]
    assert north.startswith("• Northfield") and "higher by" in north
    assert all("not been shared back" in line for line in others)
    assert mpimg.imread(io.BytesIO(files[2].read_bytes()), format="png").shape[1] >= 800
