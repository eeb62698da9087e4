"""Summary figures against values worked out independently (scipy as the oracle), k-anonymity
as an attacker sees it, like-with-like theme changes, and the Block Kit limits."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from datetime import date, timedelta

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from sqlalchemy import select

from bot.insights import summary
from bot.insights.summary_view import summary_view
from bot.people.workspaces import ensure_team, new_version
from integrations.slack.summary_blocks import summary_blocks as render_summary
from storage import published
from storage.models import (
    Audience,
    Department,
    QuestionItem,
    QuestionVersion,
    Response,
    Round,
    RoundParticipation,
)
from tests.blockkit import validate
from tests.disclosure_attack import isolated_sets

START = date(2026, 9, 1)


class Trust:
    """Builds closed rounds with chosen answers straight into the real schema."""

    def __init__(self, core, fake):
        self.core = core
        self.ws = ensure_team(core, fake.team_id)
        now = core.clock.now()
        with core.db.Session() as s, s.begin():
            aud = Audience(workspace_id=self.ws, channel_id="C0DOCTORS", name="d", created_at=now)
            s.add(aud)
            s.flush()
            self.audience = aud.id
        self.n_rounds = 0

    def version(self, key: str) -> int:
        with self.core.db.Session() as s:
            return s.scalar(
                select(QuestionVersion.id)
                .join(QuestionItem)
                .where(QuestionItem.key == key, QuestionItem.workspace_id == self.ws)
                .order_by(QuestionVersion.version.desc())
            )

    def dept(self, name: str) -> int:
        with self.core.db.Session() as s, s.begin():
            d = s.scalar(select(Department).where(Department.name == name))
            if d is None:
                d = Department(workspace_id=self.ws, name=name)
                s.add(d)
                s.flush()
            return d.id

    def round(self, answers: dict[str, list[int]], participation=None, dept_answers=None) -> int:
        """answers: item key -> values (no segment); participation: [(dept, grade, invited,
        responded)]; dept_answers: (key, dept) or (key, dept, grade) -> values."""
        now = self.core.clock.now()
        participation = participation or [(None, None, 60, 40)]
        depts = {d: self.dept(d) for d, *_ in participation if d}
        dept_answers = {
            (key[0], key[1], key[2] if len(key) > 2 else None): v
            for key, v in (dept_answers or {}).items()
        }
        depts |= {d: self.dept(d) for _, d, _ in dept_answers if d}
        versions = {key: self.version(key) for key in [*answers, *(k for k, _, _ in dept_answers)]}
        start = START + timedelta(days=14 * self.n_rounds)
        self.n_rounds += 1
        with self.core.db.Session() as s, s.begin():
            rnd = Round(
                workspace_id=self.ws,
                audience_id=self.audience,
                slot_key=f"t{self.n_rounds}",
                status="closed",
                seed=1,
                created_at=now,
                period_start=start,
                closes_at=now,
                closed_at=now + timedelta(minutes=self.n_rounds),
                invited=0,
            )
            s.add(rnd)
            s.flush()
            for key, values in answers.items():
                vid = versions[key]
                for v in values:
                    s.add(Response(workspace_id=self.ws, round_id=rnd.id, version_id=vid, value=v))
            for (key, dept, grade), values in dept_answers.items():
                vid, did = versions[key], depts.get(dept)
                for v in values:
                    s.add(
                        Response(
                            workspace_id=self.ws,
                            round_id=rnd.id,
                            version_id=vid,
                            value=v,
                            department_id=did,
                            grade=grade,
                        )
                    )
            for dept, grade, invited, responded in participation:
                did = depts[dept] if dept else None
                s.add(
                    RoundParticipation(
                        round_id=rnd.id,
                        department_id=did,
                        grade=grade,
                        invited=invited,
                        responded=responded,
                    )
                )
            return rnd.id


def summary_blocks(s, title: str, detail: bool = False) -> list[dict]:
    """A summary's Slack message: the core's view (``summary_view``), drawn by the Slack renderer."""
    return render_summary(summary_view(s, title, detail))


def _keys(core, ws, scale, reverse=False, n=1, theme=None) -> list[str]:
    with core.db.Session() as s:
        q = select(QuestionItem.key).where(
            QuestionItem.workspace_id == ws,
            QuestionItem.scale == scale,
            QuestionItem.reverse.is_(reverse),
            QuestionItem.headline.is_(False),
        )
        if theme:
            q = q.where(QuestionItem.theme == theme)
        return list(s.scalars(q.order_by(QuestionItem.id).limit(n)))


def _theme_of(core, key: str) -> str:
    with core.db.Session() as s:
        return s.scalar(select(QuestionItem.theme).where(QuestionItem.key == key))


def _item(s: summary.Summary, key: str) -> summary.ItemScore:
    return next(i for i in s.items if i.info.key == key)


def _theme(s: summary.Summary, theme: str) -> summary.ThemeScore:
    return next(t for t in s.themes if t.theme == theme)


def _welch_verdict(now: list[float], before: list[float]) -> str:
    """The verdict worked out with scipy's Welch test interval (independent of bot.insights.stats)."""
    ci = sps.ttest_ind(now, before, equal_var=False).confidence_interval(0.95)
    return "up" if ci.low > 0 else "down" if ci.high < 0 else "no clear change"


def _newcombe_verdict(x1: int, n1: int, x2: int, n2: int) -> str:
    """Newcombe's hybrid score interval from scipy's Wilson intervals (his method 10)."""
    w1 = sps.binomtest(x1, n1).proportion_ci(method="wilson")
    w2 = sps.binomtest(x2, n2).proportion_ci(method="wilson")
    p1, p2 = x1 / n1, x2 / n2
    lo = p1 - p2 - ((p1 - w1.low) ** 2 + (w2.high - p2) ** 2) ** 0.5
    hi = p1 - p2 + ((w1.high - p1) ** 2 + (p2 - w2.low) ** 2) ** 0.5
    return "up" if lo > 0 else "down" if hi < 0 else "no clear change"


# --------------------------------------------------------------------------- figures


def test_item_and_headline_scores_match_independent_calculations(core, fake):
    t = Trust(core, fake)
    agree = _keys(core, t.ws, "agree5")[0]
    yes_no = _keys(core, t.ws, "yes_no_unsure")[0]
    head = [5, 6, 7, 8, 6, 7, 9, 4, 6, 7, 8, 5]
    t.round(
        {
            "headline-engagement": head,
            agree: [5, 4, 4, 3, 2, 1, 4, 5, 3, 4],
            yes_no: [1, 1, 0, -1, 1, 1, 0, 1],
        }
    )
    s = summary.build(core, t.ws)
    # agree5: favourable = 4s and 5s = 6 of 10; Wilson interval as scipy computes it
    fav = sps.binomtest(6, 10).proportion_ci(method="wilson")
    assert _item(s, agree).display == "60% favourable"
    assert _item(s, agree).ci == pytest.approx((100 * fav.low, 100 * fav.high))
    assert _item(s, agree).distribution == {5: 2, 4: 4, 3: 2, 2: 1, 1: 1}
    # yes_no_unsure: % yes = 5 of 8 (not sure is not yes)
    assert _item(s, yes_no).display == "62% yes"  # 62.5 rounds half to even
    yes = sps.binomtest(5, 8).proportion_ci(method="wilson")
    assert _item(s, yes_no).ci == pytest.approx((100 * yes.low, 100 * yes.high))
    # headline: 0-10 mean with a Student t interval
    mean = sum(head) / len(head)
    lo, hi = sps.t.interval(0.95, len(head) - 1, loc=mean, scale=sps.sem(head))
    assert s.headline.mean == pytest.approx(mean)
    assert s.headline.ci == pytest.approx((lo, hi))
    assert s.respondents == 40 and s.invited == 60


def test_reverse_items_are_flipped_before_theme_scores(core, fake):
    t = Trust(core, fake)
    (rev,) = _keys(core, t.ws, "agree5", reverse=True)
    theme = _theme_of(core, rev)
    (same_theme,) = _keys(core, t.ws, "agree5", theme=theme)
    rev_vals, fwd_vals = [1, 2, 1, 1, 2, 1], [5, 4, 5, 5, 4, 4]
    t.round({rev: rev_vals, same_theme: fwd_vals})
    s = summary.build(core, t.ws)
    # hand-worked: reverse 1 -> 5 -> 100, 2 -> 4 -> 75; forward 5 -> 100, 4 -> 75
    expected = [100, 75, 100, 100, 75, 100] + [100, 75, 100, 100, 75, 75]
    th = _theme(s, theme)
    assert th.score == pytest.approx(sum(expected) / 12)
    lo, hi = sps.t.interval(0.95, 11, loc=sum(expected) / 12, scale=sps.sem(expected))
    assert th.ci == pytest.approx((lo, min(hi, 100.0)))
    assert _item(s, rev).display == "100% favourable"  # disagreeing with a bad statement is good


# --------------------------------------------------------------------------- changes


def test_item_changes_follow_newcombe_and_welch_worked_out_with_scipy(core, fake):
    t = Trust(core, fake)
    agree = _keys(core, t.ws, "agree5")[0]
    before_a = [4] * 12 + [2] * 18  # 12 of 30 favourable
    now_a = [5] * 21 + [3] * 9  # 21 of 30 favourable
    before_h = [6, 7, 5, 6, 7, 6, 5, 6, 7, 6, 6, 5]
    now_h = [7, 8, 6, 7, 8, 7, 7, 6, 8, 7, 7, 6]
    t.round({agree: before_a, "headline-engagement": before_h})
    t.round({agree: now_a, "headline-engagement": now_h})
    s = summary.build(core, t.ws)
    assert _item(s, agree).change == _newcombe_verdict(21, 30, 12, 30) == "up"
    assert s.headline.change == _welch_verdict(now_h, before_h) == "up"
    assert s.headline.label == "Rising"
    # a difference that Wald would call but Newcombe does not, at small n: 10/10 vs 7/10
    t.round({agree: [5] * 10, "headline-engagement": now_h})
    t.round({agree: [5] * 7 + [1] * 3, "headline-engagement": now_h})
    s = summary.build(core, t.ws)
    assert _item(s, agree).change == _newcombe_verdict(7, 10, 10, 10) == "no clear change"


def test_changes_are_called_only_beyond_noise(core, fake):
    t = Trust(core, fake)
    agree = _keys(core, t.ws, "agree5")[0]
    rng = random.Random(1)
    t.round({agree: [rng.choice([2, 3, 4]) for _ in range(60)]})
    t.round({agree: [rng.choice([2, 3, 4]) for _ in range(60)]})
    assert _item(summary.build(core, t.ws), agree).change == "no clear change"
    t.round({agree: [5] * 50 + [4] * 10})
    assert _item(summary.build(core, t.ws), agree).change == "up"
    t.round({agree: [1, 2, 5, 4, 1, 1, 1, 1]})  # 8 answers: shown, but never an arrow
    few = _item(summary.build(core, t.ws), agree)
    assert few.change == "too few answers to tell" and few.display == "25% favourable"
    t.round({agree: [1, 2, 5, 4]})  # 4 answers: below k, not even shown
    tiny = _item(summary.build(core, t.ws), agree)
    assert tiny.change == "too few answers to tell" and tiny.display == "fewer than 5 responses"


def test_theme_change_compares_only_items_asked_in_both_periods(core, fake):
    t = Trust(core, fake)
    theme = "quality-strategy"
    a, b, c = _keys(core, t.ws, "agree5", n=3, theme=theme)
    a1, a2 = [3] * 15 + [4] * 15, [4] * 15 + [5] * 15
    # Rotation asked b first and c second; pooling all of them would read as a fall.
    t.round({a: a1, b: [5] * 30})
    t.round({a: a2, c: [1] * 30})
    th = _theme(summary.build(core, t.ws), theme)
    assert th.compared_items == 1
    to100 = [(v - 1) * 25 for v in a2], [(v - 1) * 25 for v in a1]
    assert th.change == _welch_verdict(*to100) == "up"
    naive = _welch_verdict(
        [(v - 1) * 25 for v in a2 + [1] * 30], [(v - 1) * 25 for v in a1 + [5] * 30]
    )
    assert naive == "down"  # what comparing unlike sets of items would have said
    # the score itself is this period's items pooled: a2 and c
    latest = [(v - 1) * 25 for v in a2 + [1] * 30]
    assert th.score == pytest.approx(sum(latest) / len(latest))
    assert th.items == 2


def test_baseline_pools_the_last_six_periods_and_no_more(core, fake):
    t = Trust(core, fake)
    theme = "devolved-authority"
    (a,) = _keys(core, t.ws, "agree5", theme=theme)
    oldest = [5] * 30  # the 7th period back: must not be in the baseline
    middle = [2, 3, 4] * 10
    latest = [3, 4] * 15
    t.round({a: oldest})
    for _ in range(6):
        t.round({a: middle})
    t.round({a: latest})
    s = summary.build(core, t.ws)
    scores = lambda vals: [(v - 1) * 25 for v in vals]  # noqa: E731
    expected = _welch_verdict(scores(latest), scores(middle * 6))
    assert expected == "up"
    assert _welch_verdict(scores(latest), scores(middle * 6 + oldest)) == "no clear change"
    assert _theme(s, theme).baseline_change == expected
    assert _theme(s, theme).baseline_items == 1
    fav = lambda vals: sum(v >= 4 for v in vals)  # noqa: E731
    assert _item(s, a).baseline_change == _newcombe_verdict(fav(latest), 30, fav(middle * 6), 180)


def test_a_reworded_item_never_trends_with_its_old_wording(core, fake):
    t = Trust(core, fake)
    agree = _keys(core, t.ws, "agree5")[0]
    t.round({agree: [1] * 30})
    with core.db.Session() as s, s.begin():
        item = s.scalar(
            select(QuestionItem).where(QuestionItem.key == agree, QuestionItem.workspace_id == t.ws)
        )
        new_version(s, item, "A new wording of the question", None, core.clock.now())
    t.round({agree: [5] * 30})
    s = summary.build(core, t.ws)
    it = _item(s, agree)
    assert it.info.text == "A new wording of the question" and it.info.version == 2
    assert it.change == "too few answers to tell"  # nothing to compare with: old wording excluded
    theme = _theme(s, it.info.theme)
    assert theme.compared_items == 0 and theme.change == "too few answers to tell"
    assert not s.changes


# --------------------------------------------------------------------------- anonymity


def test_a_theme_never_pools_an_item_whose_own_figure_is_hidden(core, fake):
    t = Trust(core, fake)
    theme = "quality-strategy"
    a, b = _keys(core, t.ws, "agree5", n=2, theme=theme)
    t.round({a: [4, 5, 3] * 10, b: [1, 1, 1]})
    s = summary.build(core, t.ws)
    assert _item(s, b).display == "fewer than 5 responses" and _item(s, b).ci is None
    th = _theme(s, theme)
    # attacker: theme total minus the shown item's total leaves nothing to learn
    a_scores = [(v - 1) * 25 for v in [4, 5, 3] * 10]
    assert th.n == 30 and th.items == 1
    assert th.n * th.score - sum(a_scores) == pytest.approx(0.0)


def _attack(cells: dict, total: int, k: int) -> None:
    """What a reader can do with a breakdown and its total: every shown cell has >= k, and the
    hidden cells are none, or at least two whose sum (total minus the shown ones) is >= k."""
    shown = {g: n for g, n in cells.items() if n is not None}
    hidden = [g for g, n in cells.items() if n is None]
    assert all(n >= k for n in shown.values())
    residual = total - sum(shown.values())
    if hidden and len(hidden) < len(cells):
        assert residual >= k and len(hidden) >= 2
    elif hidden:  # everything held back: the reader knows only the total
        assert residual == total
    else:
        assert residual == 0


def _parse(text: str) -> int | None:
    return int(text.split(" of ")[0]) if text[0].isdigit() else None


segments = st.tuples(
    st.sampled_from(["Surgery", "Medicine", "ED", "Radiology", None]),
    st.sampled_from(["consultant", "resident", "sas", None]),
    st.integers(min_value=0, max_value=14),
)


@given(st.lists(segments, min_size=1, max_size=14), st.sampled_from([3, 5, 7]))
@example([("Surgery", "consultant", 10), (None, "consultant", 2)], 5)  # doctors with no department
@example([("Surgery", "consultant", 10), ("ED", "resident", 2), ("ED", "consultant", 9)], 5)
@example([("ED", "consultant", 12), ("ED", "resident", 5), ("Surgery", "resident", 2)], 5)
@settings(max_examples=300)
def test_participation_figures_cannot_be_recovered_by_subtraction(rows, k):
    parts, cross = [], {}
    for dept, grade, responded in rows:
        if (dept, grade) in cross:
            continue
        cross[(dept, grade)] = responded
        parts.append(summary.queries.Participation(1, dept, grade, responded + 3, responded))
    s = summary.Summary("p", None, k)
    if not summary._fill_participation(s, parts, [1], None, k):
        assert s.respondents < k and not s.departments and not s.grades
        return
    total = sum(cross.values())
    assert s.respondents == total >= k
    for d in s.departments:  # a hidden department reads its reason and gives away nothing else
        if not d.shown:
            assert d.invited is None and d.rate is None and d.reason is not None
    # The attacker: every published group as a set of (department, grade) cells, then
    # least squares over every small set of cells (tests.disclosure_attack, not the auditor).
    name = {d.department: (d.department if d.recorded else None) for d in s.departments}
    grade_of = {v: g for g, v in summary.GRADE_LABELS.items()} | {summary.NO_GRADE: None}
    groups = [set(cross)]
    groups += [{c for c in cross if c[0] == name[d.department]} for d in s.departments if d.shown]
    groups += [
        {c for c in cross if c[1] == grade_of[g]}
        for g, v in s.grades.items()
        if _parse(v) is not None
    ]
    for line in s.cross:  # the full cross appears only with every cell >= k
        assert int(line.rsplit(": ", 1)[1].split(" of ")[0]) >= k
        who = line.rsplit(": ", 1)[0]
        groups += [{c for c in cross if _cross_label(c) == who}]
    assert isolated_sets(cross, groups, k) == []


def _cross_label(c) -> str:
    d, g = c
    return (
        f"{d or summary.NO_DEPARTMENT}, {summary.GRADE_LABELS.get(g, g) if g else summary.NO_GRADE}"
    )


def _derivable(cells: dict, total: int) -> list[frozenset]:
    """Groups a reader can compute: each shown cell, the hidden ones pooled, and complements."""
    everything = frozenset(cells)
    hidden = frozenset(g for g, n in cells.items() if n is None)
    groups = {frozenset([g]) for g in everything - hidden}
    if hidden:
        groups.add(hidden)
    groups |= {everything - g for g in groups}
    return [g for g in groups if g]


@given(
    st.dictionaries(st.integers(1, 6), st.integers(0, 30), min_size=1, max_size=6),
    st.integers(0, 12),
    st.sampled_from([3, 5]),
)
@example({1: 10}, 1, 5)  # one department and a few answers with no department recorded
@example({1: 10, 2: 2}, 0, 5)
@example({1: 10, 2: 9, 3: 1}, 2, 3)
@settings(max_examples=300)
def test_a_department_view_and_the_trust_view_together_reveal_no_small_group(cells, rest, k):
    """Trust figure minus department figure is the rest of the trust: 0 or at least k people."""
    trust_n = sum(cells.values()) + rest
    trust = {1: {7: ItemStatsFactory.of(trust_n)}}
    segs = [summary.queries.SegmentStats(d, ItemStatsFactory.of(n)) for d, n in cells.items()]
    cross = {
        (1, 7): {(d, None): n for d, n in cells.items()} | ({(None, None): rest} if rest else {})
    }
    for dept in cells:
        view = summary._department_cells(trust, segs, dept, k, cross)
        if 7 in view.get(1, {}):
            mine = view[1][7].n
            assert mine >= k
            assert trust_n - mine == 0 or trust_n - mine >= k


def test_a_department_view_shows_what_the_breakdown_shows():
    trust = {1: {7: ItemStatsFactory.of(19)}}
    segs = [
        summary.queries.SegmentStats(d, ItemStatsFactory.of(n)) for d, n in {1: 10, 2: 9}.items()
    ]
    cross = {(1, 7): {(1, None): 10, (2, None): 9}}
    assert summary._department_cells(trust, segs, 1, 5, cross)[1][7].n == 10
    cross = {(1, 7): {(1, None): 10, (2, None): 9, (None, None): 2}}  # 2 with no department
    trust = {1: {7: ItemStatsFactory.of(21)}}
    # 21 - 10 - 9 = the 2: the smaller department is held back, the larger still shown
    assert not summary._department_cells(trust, segs, 2, 5, cross)
    assert summary._department_cells(trust, segs, 1, 5, cross)[1][7].n == 10


def test_a_round_whose_audience_changed_shows_no_breakdown(core, fake):
    from storage.models import Round

    t = Trust(core, fake)
    parts = [("Big", "consultant", 30, 20), ("Other", "resident", 30, 12)]
    rid = t.round({"headline-engagement": [7] * 32}, participation=parts)
    with core.db.Session() as s, s.begin():
        s.get(Round, rid).audience_changed = True
    whole = summary.build(core, t.ws)
    assert whole.headline.mean == pytest.approx(7.0) and whole.respondents == 32
    assert all(d.reason == "changed" and d.responded is None for d in whole.departments)
    assert not whole.grades and not whole.cross and not whole.grades_withheld
    text = str(summary_blocks(whole, "x"))
    assert "doctors asked changed since the previous pulse" in text
    assert "20 of 30" not in text and "Response by department" not in text
    big = summary.build(core, t.ws, "Big")
    assert big.headline is None and "changed since the previous pulse" in big.suppressed_reason


class ItemStatsFactory:
    @staticmethod
    def of(n: int):
        return summary.ItemStats(1, 7, n, 3 * n, 9 * n, n // 2, n // 4)


def test_department_view_only_for_a_department_that_meets_the_minimum(core, fake):
    t = Trust(core, fake)
    agree = _keys(core, t.ws, "agree5")[0]
    parts = [("Big", None, 30, 20), ("Tiny", None, 4, 3), ("Other", None, 30, 12)]
    t.round(
        {"headline-engagement": [7] * 5},
        participation=parts,
        dept_answers={
            ("headline-engagement", "Big"): [8, 7, 6, 9, 8, 7, 6, 8, 7, 7, 8, 6],
            ("headline-engagement", "Other"): [5, 6, 5, 4, 6, 5],
            (agree, "Big"): [5, 4, 4, 5, 3, 4, 4, 5, 2, 4],
        },
    )
    tiny = summary.build(core, t.ws, "Tiny")
    assert tiny.suppressed_reason and "not shown" in tiny.suppressed_reason
    assert tiny.headline is None and not tiny.items
    big = summary.build(core, t.ws, "Big")
    assert big.suppressed_reason is None
    assert big.respondents == 20 and big.invited == 30
    head = [8, 7, 6, 9, 8, 7, 6, 8, 7, 7, 8, 6]
    assert big.headline.mean == pytest.approx(sum(head) / len(head))
    # the agree item: Big answered 10 of the trust's 10, so trust - Big is 0 people: fine
    assert _item(big, agree).display == "80% favourable"
    # the trust summary lists Tiny under the k label, never its numbers
    whole = summary.build(core, t.ws)
    rates = {d.department: d for d in whole.departments}
    assert rates["Tiny"].responded is None and rates["Tiny"].invited is None
    text = str(summary_blocks(whole, "x"))
    assert "Tiny: too few answered to report (fewer than 5)" in text and "of 4" not in text


def test_too_few_respondents_shows_no_figures(core, fake):
    t = Trust(core, fake)
    t.round({"headline-engagement": [9, 9, 8]}, participation=[(None, None, 30, 3)])
    s = summary.build(core, t.ws)
    assert s.suppressed_reason and s.headline is None and not s.items
    text = str(summary_blocks(s, "x"))
    assert "9" not in text.replace("fewer than", "") and "Fewer than 5 people" in text


def test_no_closed_round_yet_is_said_kindly(core, fake):
    ws = ensure_team(core, fake.team_id)
    s = summary.build(core, ws)
    assert s.period is None and "No pulse has closed yet" in s.suppressed_reason
    blocks = summary_blocks(s, "Medical engagement pulse")
    assert validate(blocks) == [] and len(blocks) == 2


comment_cells = st.dictionaries(
    st.tuples(
        st.sampled_from([1, 2, 3, None]),
        st.sampled_from([None, "stable-leadership", "quality-strategy", "devolved-authority"]),
    ),
    st.integers(1, 9),
    min_size=1,
)


@settings(max_examples=300, deadline=None)
@given(comment_cells, st.sampled_from([3, 5]))
def test_comment_lists_join_to_no_group_smaller_than_k(cells, k):
    """Attack 6: list the comments trust-wide, per theme and per department, then match texts
    across the lists. Each comment's label is the same everywhere, and the comments sharing a
    comment's evidence (which department lists hold it, and its label) are always >= k."""
    from integrations.slack.listeners.reports import comment_lines

    # Fewer than k comments in all: the trust-wide list rests on the period's respondents
    # (>= k, checked by /pulse comments), no department list or label is shown.
    assume(sum(cells.values()) >= k)
    plan = published.comment_plan(cells, k)
    texts = [(d, t, f"c{d}{t}{i}") for (d, t), n in cells.items() for i in range(n)]
    lists = {"trust": comment_lines(texts, plan)}
    for d in {d for d, _ in cells if d is not None}:
        mine = [x for x in texts if x[0] == d]
        if d in plan.listed:
            assert len(mine) >= k
            lists[d] = comment_lines(mine, plan)
        else:
            assert summary.comment_figures(cells, k, d) == ({}, None)
    for theme in {t for _, t in cells if t}:
        lines = comment_lines(texts, plan, theme)
        if lines is not None:
            lists[theme] = lines
    seen: dict[str, dict] = defaultdict(dict)
    for name, lines in lists.items():
        for line in lines:
            label, text = line[3:].split("_: ", 1)
            seen[text][name] = label
    evidence = {}
    for text, where in seen.items():
        assert len(set(where.values())) == 1, where  # one label in every list
        labels = set(where.values())
        evidence[text] = (frozenset(n for n in where if isinstance(n, int)), *labels)
    sizes = defaultdict(int)
    for e in evidence.values():
        sizes[e] += 1
    assert all(n >= k for n in sizes.values()), sizes
    shown, total = summary.comment_figures(cells, k)
    assert total == str(len(texts))
    for label, v in shown.items():  # the summary's counts are the lists' counts
        if v[0].isdigit():
            assert sum(f"_{label}_:" in line for line in lists["trust"]) == int(v)


def _label(theme):
    from questions.themes import LABELS as THEME_LABELS

    return THEME_LABELS.get(theme, theme) if theme else "Other"


# --------------------------------------------------------------------------- Block Kit


def test_summary_blocks_fit_slack_limits(core, fake):
    t = Trust(core, fake)
    keys = _keys(core, t.ws, "agree5", n=12)
    rng = random.Random(3)
    parts = [
        (f"Department {i} with a rather long name for a phone screen", g, 30, rng.randint(0, 25))
        for i in range(60)
        for g in ("consultant", "resident")
    ]
    for _ in range(3):
        t.round(
            {key: [rng.randint(1, 5) for _ in range(30)] for key in keys}
            | {"headline-engagement": [rng.randint(0, 10) for _ in range(80)]},
            participation=parts,
        )
    s = summary.build(core, t.ws)
    assert len(s.departments) == 60
    for detail in (False, True):
        blocks = summary_blocks(s, "Medical engagement pulse · weekly summary " * 5, detail=detail)
        assert validate(blocks) == [], validate(blocks)
        text = str(blocks)
        assert bool(re.search(r"95% interval \d", text)) == detail
    assert "More detail" in str(summary_blocks(s, "x"))
    assert "…and 20 more" in str(summary_blocks(s, "x", detail=True))


def test_the_block_kit_validator_catches_what_slack_would_refuse():
    from tests.blockkit import validate_message

    ok = {"type": "section", "text": {"type": "mrkdwn", "text": "fine"}}
    assert validate([ok]) == [] and validate_message("t", [ok]) == []
    bad = [
        [ok] * 51,
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "header", "text": {"type": "mrkdwn", "text": "bold"}}],
        [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}],
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "a"}] * 11}],
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "a"}] * 11}],
        [{"type": "section"}],
        [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "x" * 76},
                        "action_id": "a",
                    }
                ],
            }
        ],
        [
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "go"}}],
            }
        ],
        [{"type": "image", "image_url": "https://x"}],
        [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}],
        [{"type": "table"}],
        [{**ok, "block_id": "same"}, {**ok, "block_id": "same"}],
    ]
    for blocks in bad:
        assert validate(blocks), blocks
    assert validate_message("", [ok])
