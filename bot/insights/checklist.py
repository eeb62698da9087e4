"""Leadership's own view: the 14 checklist questions, rated by leaders, kept quarter by quarter.

Leaders rate each question from 1 ("not in place") to 5 ("embedded"). Several leaders may answer;
the leadership view is the mean of each leader's latest rating in the latest quarter, put on the
same 0-100 scale as the doctors' pulse scores so the two can be read side by side.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.admin import audit
from bot.core import Core
from storage.models import Assessment, AssessmentRating

# Our own short prompts for leaders, one per checklist question (see shared checklist.md).
QUESTIONS: dict[str, str] = {
    "checklist:organisations:1": "Our culture strategy names medical engagement explicitly and is reviewed regularly.",
    "checklist:organisations:2": "The board and executives (non-executives too) are visibly committed to medical engagement, and it changes how we work.",
    "checklist:organisations:3": "The chief executive, chair, medical and nursing directors promote engagement and talk with doctors often.",
    "checklist:organisations:4": "Governance and structure seek high medical engagement; many doctors hold formal QI or governance roles.",
    "checklist:organisations:5": "We have a stated goal for engaging doctors, and our formal structure reflects it.",
    "checklist:organisations:6": "Talent management and succession planning grow a pipeline of medical leaders.",
    "checklist:organisations:7": "Resident doctors get leadership development in quality, safety and improvement, and are empowered to lead change.",
    "checklist:leaders:1": "How we attract, recruit, induct and develop medical leaders and consultants is reviewed regularly.",
    "checklist:leaders:2": "Those processes connect clearly to the aims, values and goals of the trust and the division.",
    "checklist:leaders:3": "Doctors take part in strategic planning and prioritising, and plan and answer for their own services.",
    "checklist:leaders:4": "We are building our capacity to develop leadership and quality improvement methods.",
    "checklist:leaders:5": "Doctors engage with job planning, appraisal and revalidation, and those processes are fit for purpose.",
    "checklist:leaders:6": "Doctors in leadership roles have time for the role, and their contribution is recorded and valued.",
    "checklist:leaders:7": "Consultant, SAS and leadership appointments are competitive, competency-based and reflect our values.",
}
SCALE = [(1, "Not in place"), (2, "Planned"), (3, "Started"), (4, "Established"), (5, "Embedded")]


def to_0_100(mean_rating: float) -> float:
    return (mean_rating - 1) / 4 * 100


def cycle_of(when: datetime) -> str:
    return f"{when.year}-Q{(when.month - 1) // 3 + 1}"


def record(
    core: Core, workspace_id: int, leader: str, ratings: dict[str, int], notes: dict[str, str]
) -> int:
    """Store one leader's assessment; unknown questions or out-of-range ratings are refused."""
    bad = [ref for ref, r in ratings.items() if ref not in QUESTIONS or r not in range(1, 6)]
    if bad or not ratings:
        raise ValueError(f"invalid ratings for {bad or 'every question'}")
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        a = Assessment(workspace_id=workspace_id, leader=leader, cycle=cycle_of(now), taken_at=now)
        s.add(a)
        s.flush()
        for ref, rating in ratings.items():
            note = (notes.get(ref) or "").strip()[:1000] or None
            s.add(AssessmentRating(assessment_id=a.id, ref=ref, rating=rating, note=note))
        audit.record(
            s,
            workspace_id,
            leader,
            "checklist self-assessment",
            None,
            f"{len(ratings)} questions, {a.cycle}",
            now,
        )
        return a.id


@dataclass(frozen=True)
class LeadershipView:
    cycle: str | None
    leaders: int
    score: dict[str, float]  # ref -> 0-100
    raters: dict[str, int]


def leadership_view(core: Core, workspace_id: int) -> LeadershipView:
    """Each leader's latest rating in the latest quarter, averaged per question."""
    with core.db.Session() as s:
        rows = s.execute(
            select(
                Assessment.cycle,
                Assessment.leader,
                Assessment.taken_at,
                AssessmentRating.ref,
                AssessmentRating.rating,
            )
            .join(AssessmentRating, AssessmentRating.assessment_id == Assessment.id)
            .where(Assessment.workspace_id == workspace_id)
            .order_by(Assessment.taken_at)
        ).all()
    if not rows:
        return LeadershipView(None, 0, {}, {})
    cycle = max(r[0] for r in rows)
    latest: dict[tuple[str, str], int] = {}
    for c, leader, _, ref, rating in rows:
        if c == cycle:
            latest[(leader, ref)] = rating  # later rows overwrite: latest per leader wins
    per_ref: dict[str, list[int]] = defaultdict(list)
    for (_, ref), rating in latest.items():
        per_ref[ref].append(rating)
    return LeadershipView(
        cycle,
        len({leader for leader, _ in latest}),
        {ref: to_0_100(sum(v) / len(v)) for ref, v in per_ref.items()},
        {ref: len(v) for ref, v in per_ref.items()},
    )


def history(core: Core, workspace_id: int) -> dict[str, int]:
    """How many assessments each quarter has: the checklist is meant to be re-run."""
    with core.db.Session() as s:
        cycles = s.scalars(select(Assessment.cycle).where(Assessment.workspace_id == workspace_id))
        out: dict[str, int] = defaultdict(int)
        for c in cycles:
            out[c] += 1
    return dict(sorted(out.items()))
