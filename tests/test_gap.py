"""The perception gap against figures worked out independently (scipy's t interval as the
oracle), the minimum group size as a reader would try to get round it, and the summary section."""

from __future__ import annotations

import math
import random
import re
from datetime import date, timedelta

from scipy import stats as sps
from sqlalchemy import select

from bot.insights import checklist, gap
from bot.people.workspaces import ensure_team
from storage.models import Audience, QuestionItem, QuestionVersion, Response, Round

REFS = list(checklist.QUESTIONS)


class Trust:
    """Closed rounds with chosen answers, written straight into the real schema."""

    def __init__(self, core, fake):
        self.core = core
        self.ws = ensure_team(core, fake.team_id)
        with core.db.Session() as s, s.begin():
            aud = Audience(
                workspace_id=self.ws, channel_id="C0DOCS", name="d", created_at=core.clock.now()
            )
            s.add(aud)
            s.flush()
            self.audience = aud.id
            rows = s.execute(
                select(
                    QuestionItem.source,
                    QuestionItem.key,
                    QuestionItem.scale,
                    QuestionItem.reverse,
                    QuestionVersion.id,
                )
                .join(QuestionVersion, QuestionVersion.item_id == QuestionItem.id)
                .where(QuestionItem.workspace_id == self.ws)
                .where(QuestionVersion.version == QuestionItem.current_version)
            ).all()
        self.items: dict[str, list[tuple[str, str, bool, int]]] = {}
        for source, key, scale, reverse, vid in rows:
            self.items.setdefault(source, []).append((key, scale, reverse, vid))
        self.rounds = 0

    def round(self, answers: dict[int, list[int]], status: str = "closed") -> int:
        """answers: version id -> raw values."""
        self.rounds += 1
        now = self.core.clock.now() + timedelta(days=self.rounds)
        with self.core.db.Session() as s, s.begin():
            rnd = Round(
                workspace_id=self.ws,
                audience_id=self.audience,
                slot_key=f"r{self.rounds}",
                status=status,
                seed=1,
                created_at=now,
                period_start=date(2026, 9, 1) + timedelta(days=14 * self.rounds),
                closes_at=now,
                closed_at=now if status == "closed" else None,
                invited=0,
            )
            s.add(rnd)
            s.flush()
            for vid, values in answers.items():
                for v in values:
                    s.add(Response(workspace_id=self.ws, round_id=rnd.id, version_id=vid, value=v))
            return rnd.id

    def rate(self, leader: str, ratings: dict[str, int]) -> None:
        checklist.record(self.core, self.ws, leader, ratings, {})


def _score(scale: str, reverse: bool, v: int) -> float:
    """Our own reading of the 0-100 scale (design.md), written out rather than imported."""
    if scale == "agree5":
        return ((6 - v if reverse else v) - 1) * 25.0
    if scale == "scale0_10":
        return v * 10.0
    yes = 100.0 if v == 1 else 0.0
    return 100.0 - yes if reverse else yes


def _raw(rng: random.Random, scale: str, n: int) -> list[int]:
    choices = {"agree5": [1, 2, 3, 4, 5], "scale0_10": list(range(11)), "yes_no_unsure": [1, 0, -1]}
    return [rng.choice(choices[scale]) for _ in range(n)]


def test_bank_gives_every_checklist_question_items_of_several_kinds(core, fake):
    t = Trust(core, fake)
    assert all(t.items.get(ref) for ref in REFS)
    kinds = {(scale, reverse) for ref in REFS for _, scale, reverse, _ in t.items[ref]}
    assert ("agree5", True) in kinds and ("yes_no_unsure", False) in kinds


def test_doctors_scores_and_gaps_match_an_independent_calculation(core, fake):
    t = Trust(core, fake)
    rng = random.Random(8)
    given: list[tuple[str, str, bool, list[int]]] = []  # per closed round in the window
    for r in range(5):
        answers: dict[int, list[int]] = {}
        for ref in REFS:
            for _, scale, reverse, vid in t.items[ref]:
                n = rng.choice([0, 2, 4, 5, 9, 14, 30])  # some groups below k = 5
                values = _raw(rng, scale, n)
                if values:
                    answers[vid] = values
                    if 1 <= r <= 3:  # round 0 is too old (the window is 3), round 4 still open
                        given.append((ref, scale, reverse, values))
        t.round(answers, status="open" if r == 4 else "closed")
    leaders = {ref: rng.randint(1, 5) for ref in REFS}
    t.rate("UA", leaders)

    got = {row.ref: row for row in gap.rows(core, t.ws)}
    assert gap.WINDOW == 3
    flagged = 0
    for ref in REFS:
        scores = [
            _score(scale, reverse, v)
            for r, scale, reverse, values in given
            if r == ref and len(values) >= core.k
            for v in values
        ]
        row = got[ref]
        assert row.leaders == (leaders[ref] - 1) * 25.0
        assert row.n == len(scores) >= core.k
        mean = sum(scores) / len(scores)
        sd = math.sqrt(sum((x - mean) ** 2 for x in scores) / (len(scores) - 1))
        half = sps.t.ppf(0.975, len(scores) - 1) * sd / math.sqrt(len(scores))
        assert math.isclose(row.doctors, mean, abs_tol=1e-9)
        assert math.isclose(row.doctors_ci[0], mean - half, abs_tol=1e-6)
        assert math.isclose(row.doctors_ci[1], mean + half, abs_tol=1e-6)
        assert math.isclose(row.gap, row.leaders - mean, abs_tol=1e-9)
        assert row.flagged == (not mean - half <= row.leaders <= mean + half)
        flagged += row.flagged
    assert 0 < flagged < len(REFS)  # the data exercise both sides of the rule


def test_small_groups_read_as_the_k_label_never_as_a_number(core, fake):
    t = Trust(core, fake)
    few, pieces, enough = REFS[0], REFS[1], REFS[2]
    key_few = next(i for i in t.items[few] if i[1] == "agree5" and not i[2])
    two = [i for i in t.items[pieces]][:2]
    assert len(two) == 2
    key_enough = next(i for i in t.items[enough] if i[1] == "agree5" and not i[2])
    t.round(
        {
            key_few[3]: [5] * (core.k - 1),
            # Two items with k-1 answers each: more than k answers, but possibly only k-1
            # people, and each group alone is hidden in the summary. Still withheld.
            two[0][3]: [5] * (core.k - 1),
            two[1][3]: [5] * (core.k - 1),
            key_enough[3]: [1] * core.k,
        }
    )
    t.rate("UA", dict.fromkeys(REFS, 1))
    got = {row.ref: row for row in gap.rows(core, t.ws)}
    for ref in (few, pieces):
        row = got[ref]
        assert row.doctors is None and row.doctors_ci is None
        assert row.gap is None and not row.flagged
        line = gap.gap_line(row, core.k)
        assert "fewer than 5 responses" in line
        assert "100" not in line  # the doctors' 100 is nowhere to be read
    assert got[few].n == core.k - 1 and got[pieces].n == 2 * (core.k - 1)
    assert got[enough].doctors == 0.0 and got[enough].n == core.k
    assert "not asked yet" in gap.gap_line(got[REFS[5]], core.k)
    assert gap.flagged_lines(core, t.ws) == []  # no figure shown differs from the leaders'


def _rounds_for(t: Trust, targets: dict[str, int], n: int = 40) -> None:
    """One closed round where each given question's doctors answer about ``targets[ref]``."""
    rng = random.Random(3)
    answers = {}
    for ref, target in targets.items():
        key = next(i for i in t.items[ref] if i[1] == "agree5" and not i[2])
        centre = 1 + target / 25
        answers[key[3]] = [
            min(5, max(1, round(centre + rng.choice([-1, 0, 0, 1])))) for _ in range(n)
        ]
    t.round(answers)


def test_summary_section_shows_the_largest_gaps(core, fake):
    t = Trust(core, fake)
    assert gap.flagged_lines(core, t.ws) == []  # no checklist, no pulses
    targets = {REFS[0]: 25, REFS[1]: 50, REFS[2]: 25, REFS[3]: 0, REFS[4]: 100}
    _rounds_for(t, targets)
    t.rate("UA", {REFS[0]: 5, REFS[1]: 5, REFS[2]: 4, REFS[3]: 5, REFS[4]: 3})
    t.rate("UB", {REFS[0]: 5, REFS[1]: 4, REFS[2]: 4, REFS[3]: 5, REFS[4]: 3})
    rows = {r.ref: r for r in gap.rows(core, t.ws)}
    flagged = sorted((r for r in rows.values() if r.flagged), key=lambda r: -abs(r.gap))
    assert len(flagged) > 3

    lines = gap.flagged_lines(core, t.ws)
    assert len(lines) == 3
    text = "\n".join(lines)
    gaps = [int(g) for g in re.findall(r"gap ([+-]\d+)", text)]
    assert gaps == [round(r.gap) for r in flagged[:3]]
    assert REFS[5] not in text and "Org 6" not in text  # unflagged questions stay out
