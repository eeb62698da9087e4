"""The perception gap: leaders' rating of each checklist question beside doctors' pulse scores.

For each of the 14 checklist questions, doctors' score is the pooled 0-100 mean of the answers to
the items drawn from it (reverse-scored items flipped) over the latest closed periods. A gap is
flagged only where the leadership figure lies outside the doctors' 95% interval, and nothing is
shown for doctors' groups under the minimum group size.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import Core
from bot.insights import checklist, stats
from bot.insights.summary import on_0_100
from storage import anonymity, queries

WINDOW = 3  # closed periods pooled for the doctors' view (rotation asks each item now and then)


@dataclass(frozen=True)
class GapRow:
    ref: str
    question: str
    leaders: float | None
    raters: int
    doctors: float | None  # None: no answers, or fewer than k
    doctors_ci: tuple[float, float] | None
    n: int  # answers behind the doctors' figure (all answers, when it is withheld)
    gap: float | None
    flagged: bool


def doctors_by_ref(core: Core, workspace_id: int) -> tuple[dict[str, stats.Mean], dict[str, int]]:
    """Pooled 0-100 means per checklist reference over the latest closed periods, from SQL sums,
    and how many answers each reference had in all (to tell "too few" from "not asked").

    Only (round, item version) groups that reach k enter the pool: the summary hides smaller
    ones, and pooling them with shown groups would let a reader recover them by subtraction.
    Each pooled group is at least k different people, so the pool is too.
    """
    with core.db.Session() as s:
        periods = queries.closed_periods(s, workspace_id, WINDOW)
        per_item = queries.item_stats(s, [p.round_id for p in periods])
        infos = queries.versions(s, {st.version_id for st in per_item})
    parts: dict[str, list[stats.Mean]] = {}
    answers: dict[str, int] = {}
    for st in per_item:
        info = infos[st.version_id]
        if not info.source.startswith("checklist:"):
            continue
        answers[info.source] = answers.get(info.source, 0) + st.n
        shown = anonymity.protect(st, st.n, core.k)
        if not isinstance(shown, anonymity.Suppressed):
            parts.setdefault(info.source, []).append(on_0_100(info, shown))
    return {ref: stats.pool_means(ms) for ref, ms in parts.items()}, answers


def rows(core: Core, workspace_id: int) -> list[GapRow]:
    k = core.k
    view = checklist.leadership_view(core, workspace_id)
    doctors, answers = doctors_by_ref(core, workspace_id)
    out = []
    for ref, question in checklist.QUESTIONS.items():
        lead = view.score.get(ref)
        mean = doctors.get(ref)
        visible = mean is not None and mean.n >= k and mean.estimate is not None
        doc = mean.estimate if visible else None
        ci = mean.ci() if visible else None
        ci_t = (ci.lo, ci.hi) if ci else None
        gap = lead - doc if lead is not None and doc is not None else None
        flagged = bool(gap is not None and ci_t and not (ci_t[0] <= lead <= ci_t[1]))
        out.append(
            GapRow(
                ref,
                question,
                lead,
                view.raters.get(ref, 0),
                doc,
                ci_t,
                mean.n if visible else answers.get(ref, 0),
                gap,
                flagged,
            )
        )
    return out


#: A short name for each checklist question, in the words a board uses (never "Org 2").
NAMES = {
    "checklist:organisations:1": "Culture strategy",
    "checklist:organisations:2": "Board commitment",
    "checklist:organisations:3": "Top team promotes engagement",
    "checklist:organisations:4": "Governance and QI roles",
    "checklist:organisations:5": "A goal for engaging doctors",
    "checklist:organisations:6": "Talent and succession",
    "checklist:organisations:7": "Resident doctors lead improvement",
    "checklist:leaders:1": "Recruiting and developing leaders",
    "checklist:leaders:2": "Links to the trust's values",
    "checklist:leaders:3": "Doctors in planning",
    "checklist:leaders:4": "Leadership and QI capacity",
    "checklist:leaders:5": "Job planning and appraisal",
    "checklist:leaders:6": "Time for leadership roles",
    "checklist:leaders:7": "Fair, values-based appointments",
}


def _ref_label(ref: str) -> str:
    return NAMES.get(ref, ref)


def gap_line(r: GapRow, k: int) -> str:
    lead = f"{r.leaders:.0f}" if r.leaders is not None else "not rated"
    if r.doctors is None:
        doc = anonymity.k_label(k) if r.n else "not asked yet"
    else:
        doc = (
            f"{r.doctors:.0f} ({r.doctors_ci[0]:.0f}–{r.doctors_ci[1]:.0f})"
            if r.doctors_ci
            else f"{r.doctors:.0f}"
        )
    flag = f" · *gap {r.gap:+.0f}*" if r.flagged else ""
    return f"*{_ref_label(r.ref)}*: leaders {lead} · doctors {doc}{flag}"


FLAGGED_TITLE = "*Where leaders and doctors see it differently* (0–100; `/pulse gap` for all 14)"


def flagged_lines(core: Core, workspace_id: int, limit: int = 3) -> list[str]:
    """The widest flagged gaps, widest first, for the weekly summary (under ``FLAGGED_TITLE``);
    none when no shown figure differs from the leaders'."""
    flagged = sorted((r for r in rows(core, workspace_id) if r.flagged), key=lambda r: -abs(r.gap))
    return [gap_line(r, core.k) for r in flagged[:limit]]
