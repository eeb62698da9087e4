"""Summary figures against values worked out independently (scipy as the oracle), k-anonymity
as an attacker sees it, like-with-like theme changes, and the Block Kit limits."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps
from sqlalchemy import select

from bot import summary
from bot.summary_blocks import summary_blocks
from bot.workspaces import ensure_team, new_version
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
        """answers: item key -> values; participation: [(dept, grade, invited, responded)]."""
        now = self.core.clock.now()
        participation = participation or [(None, None, 60, 40)]
        depts = {d: self.dept(d) for d, *_ in participation if d}
        depts |= {d: self.dept(d) for _, d in (dept_answers or {})}
        versions = {
            key: self.version(key) for key in [*answers, *(k for k, _ in (dept_answers or {}))]
        }
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
            for (key, dept), values in (dept_answers or {}).items():
                vid, did = versions[key], depts[dept]
                for v in values:
                    s.add(
                        Response(
                            workspace_id=self.ws,
                            round_id=rnd.id,
                            version_id=vid,
                            value=v,
                            department_id=did,
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


AGREE_ITEM = "org3-board-acts-on-views"


def _agree_key(core, ws) -> str:
    with core.db.Session() as s:
        return s.scalar(
            select(QuestionItem.key)
            .where(
                QuestionItem.workspace_id == ws,
                QuestionItem.scale == "agree5",
                QuestionItem.reverse.is_(False),
            )
            .order_by(QuestionItem.id)
        )


def _keys(core, ws, scale, reverse=False, n=1) -> list[str]:
    with core.db.Session() as s:
        return list(
            s.scalars(
                select(QuestionItem.key)
                .where(
                    QuestionItem.workspace_id == ws,
                    QuestionItem.scale == scale,
                    QuestionItem.reverse.is_(reverse),
                    QuestionItem.headline.is_(False),
                )
                .order_by(QuestionItem.id)
                .limit(n)
            )
        )


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
    items = {i.info.key: i for i in s.items}
    # agree5: favourable = 6 of 10; Wilson interval as scipy computes it
    fav = sps.binomtest(6, 10).proportion_ci(method="wilson")
    assert items[agree].display == "60% favourable"
    assert items[agree].ci == pytest.approx((100 * fav.low, 100 * fav.high))
    assert items[agree].distribution == {5: 2, 4: 4, 3: 2, 2: 1, 1: 1}
    # yes_no_unsure: % yes = 5 of 8
    assert items[yes_no].display == "62% yes"  # 62.5 rounds half to even
    # headline: mean with a t interval
    mean = sum(head) / len(head)
    lo, hi = sps.t.interval(0.95, len(head) - 1, loc=mean, scale=sps.sem(head))
    assert s.headline.mean == pytest.approx(mean)
    assert s.headline.ci == pytest.approx((lo, hi))
    assert s.respondents == 40 and s.invited == 60


def test_reverse_items_are_flipped_before_theme_scores(core, fake):
    t = Trust(core, fake)
    (rev,) = _keys(core, t.ws, "agree5", reverse=True)
    with core.db.Session() as s:
        theme = s.scalar(select(QuestionItem.theme).where(QuestionItem.key == rev))
        same_theme = s.scalar(
            select(QuestionItem.key).where(
                QuestionItem.theme == theme,
                QuestionItem.scale == "agree5",
                QuestionItem.reverse.is_(False),
                QuestionItem.headline.is_(False),
            )
        )
    rev_vals, fwd_vals = [1, 2, 1, 1, 2, 1], [5, 4, 5, 5, 4, 4]
    t.round({rev: rev_vals, same_theme: fwd_vals})
    s = summary.build(core, t.ws)
    th = next(x for x in s.themes if x.theme == theme)
    expected = [(6 - v - 1) * 25 for v in rev_vals] + [(v - 1) * 25 for v in fwd_vals]
    assert th.score == pytest.approx(sum(expected) / len(expected))
    items = {i.info.key: i for i in s.items}
    assert items[rev].display == "100% favourable"  # disagreeing with a bad statement is good


def test_changes_are_called_only_beyond_noise(core, fake):
    t = Trust(core, fake)
    agree = _keys(core, t.ws, "agree5")[0]
    rng = random.Random(1)
    t.round({agree: [rng.choice([2, 3, 4]) for _ in range(60)]})
    t.round({agree: [rng.choice([2, 3, 4]) for _ in range(60)]})
    noisy = {i.info.key: i for i in summary.build(core, t.ws).items}[agree]
    assert noisy.change == "no clear change"
    t.round({agree: [5] * 50 + [4] * 10})
    clear = {i.info.key: i for i in summary.build(core, t.ws).items}[agree]
    assert clear.change == "up"
    t.round({agree: [1, 2, 5, 4]})  # 4 answers: never an arrow
    few = {i.info.key: i for i in summary.build(core, t.ws).items}[agree]
    assert few.change == "too few answers to tell" and few.display.startswith("fewer than")


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
    it = next(i for i in s.items if i.info.key == agree)
    assert it.info.text == "A new wording of the question"
    assert it.change == "too few answers to tell"  # nothing to compare with: old wording excluded
    theme = next(x for x in s.themes if x.theme == it.info.theme)
    assert theme.compared_items == 0 and theme.change == "too few answers to tell"


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=2, max_size=9))
def test_department_participation_cannot_be_recovered_by_subtraction(counts):
    k = 5
    parts = [summary.queries.Participation(1, f"D{i}", None, 40, c) for i, c in enumerate(counts)]
    rates = summary.department_rates(parts, [1], k)
    shown = {d.department: d.responded for d in rates if d.responded is not None}
    hidden = [d for d in rates if d.responded is None]
    total = sum(counts)
    # what an attacker can work out: the hidden groups' sum
    hidden_sum = total - sum(shown.values())
    if hidden:
        assert len(hidden) >= 2 or len(hidden) == len(rates)
        assert hidden_sum >= k or len(hidden) == len(rates)
    for d in rates:
        if d.responded is not None:
            assert d.responded >= k


def test_too_few_respondents_shows_no_figures(core, fake):
    t = Trust(core, fake)
    t.round({"headline-engagement": [9, 9, 8]}, participation=[(None, None, 30, 3)])
    s = summary.build(core, t.ws)
    assert s.suppressed_reason and s.headline is None and not s.items
    text = str(summary_blocks(s, "x"))
    assert "9" not in text.replace("fewer than", "")


def test_summary_blocks_fit_slack_limits(core, fake):
    t = Trust(core, fake)
    keys = _keys(core, t.ws, "agree5", n=12)
    rng = random.Random(3)
    parts = [
        (f"Department {i} with a long name", g, 30, rng.randint(0, 25))
        for i in range(12)
        for g in ("consultant", "resident")
    ]
    for _ in range(3):
        t.round(
            {key: [rng.randint(1, 5) for _ in range(30)] for key in keys}
            | {"headline-engagement": [rng.randint(0, 10) for _ in range(80)]},
            participation=parts,
        )
    s = summary.build(core, t.ws)
    blocks = summary_blocks(s, "Medical engagement pulse · weekly summary", detail=True)
    assert validate(blocks) == []
    assert len(blocks) <= 50


def test_comments_of_a_period_under_k_respondents_never_appear(core, fake, slack):
    from storage.models import Comment

    t = Trust(core, fake)
    rid = t.round({"headline-engagement": [7, 7, 7]}, participation=[(None, None, 30, 3)])
    with core.db.Session() as s, s.begin():
        s.add(
            Comment(workspace_id=t.ws, round_id=rid, theme=None, text="a very identifying remark")
        )
    reply = slack.slash("comments", "UADMIN1").json()["text"]
    assert "a very identifying remark" not in reply and "fewer than 5" in reply
