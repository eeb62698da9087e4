"""The summary model: what leadership reads, computed from SQL aggregates with honest statistics.

Rules carried out here:
* Scores per item: agree5 as % favourable (with its distribution), scale0_10 as a 0-10 mean,
  yes_no_unsure as % yes; each with n and a 95% interval (Wilson / Student t).
* Theme scores on one 0-100 scale after reverse-scoring, pooled over the theme's items, for the
  latest period and (for the chart) each of the last 6.
* What the summary *says* (changes, strengths, concerns, hard to reach, participation) is decided
  in ``bot.insights.claims`` and attached as ``Summary.claims``; the older per-item verdicts here
  (``change``, ``baseline_change``) are single unadjusted comparisons kept for the detail figures.
* Nothing is shown for fewer than k respondents, and nothing shown lets a reader subtract their
  way to such a group: every figure passes through storage.anonymity. In particular a theme pools
  only items whose own figure is shown, a breakdown always includes the "not recorded" group, and
  a department's own view shows exactly the cells the department breakdown would show.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from bot.core import Core
from bot.insights import claims as claims_model
from bot.insights import stats
from questions.grades import LABELS as GRADE_LABELS
from storage import anonymity, auditor, published, queries
from storage.queries import ItemStats, VersionInfo

THEME_MIN_ITEMS = 2  # below this, the summary says the theme rests on few items
NO_DEPARTMENT = "No department recorded"
NO_GRADE = "Grade not recorded"

PerRound = dict[int, dict[int, ItemStats]]  # round id -> version id -> stats
TrendPoint = tuple[str, float | None, tuple[float, float] | None, int]
THEME_TREND_PERIODS = 6


@dataclass
class ItemScore:
    info: VersionInfo
    n: int
    display: str  # "68% favourable", "7.1 / 10", "54% yes" or the k label
    score_100: float | None  # % favourable (or 10 x mean), for ranking strengths and concerns
    ci: tuple[float, float] | None  # in the display's unit (percent or 0-10)
    distribution: dict[int, int] = field(default_factory=dict)
    change: str = "too few answers to tell"
    baseline_change: str = "too few answers to tell"


@dataclass
class ThemeScore:
    theme: str
    n: int
    items: int  # items with a shown figure pooled into the score
    score: float | None
    ci: tuple[float, float] | None
    change: str
    compared_items: int  # items asked in this period and the previous one (same wording)
    baseline_change: str = "too few answers to tell"
    baseline_items: int = 0  # items asked in this period and in the last 6


@dataclass
class Headline:
    n: int
    mean: float | None
    ci: tuple[float, float] | None
    change: str
    label: str
    trend: list[tuple[str, float | None, tuple[float, float] | None]]
    baseline_change: str = "too few answers to tell"
    trend_n: list[int | None] = field(default_factory=list)  # answers behind each trend point


@dataclass
class DeptRate:
    department: str
    invited: int | None  # None when the group's figures are suppressed
    responded: int | None  # None when suppressed by the minimum group size
    rate: float | None
    falling: bool = False
    recorded: bool = True  # False for the group of doctors with no department
    reason: str | None = None  # why hidden: storage.auditor.SMALL, PROTECT or CHANGED

    @property
    def shown(self) -> bool:
        return self.responded is not None


@dataclass
class Summary:
    period: str | None
    department: str | None
    k: int
    respondents: int = 0
    invited: int = 0
    headline: Headline | None = None
    items: list[ItemScore] = field(default_factory=list)
    themes: list[ThemeScore] = field(default_factory=list)
    strengths: list[ItemScore] = field(default_factory=list)
    concerns: list[ItemScore] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    departments: list[DeptRate] = field(default_factory=list)
    grades: dict[str, str] = field(default_factory=dict)
    cross: list[str] = field(default_factory=list)  # department x grade, only if every cell >= k
    grades_withheld: bool = False
    hard_to_reach: list[str] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)  # theme label -> count or k label
    comments_total: str | None = None
    suppressed_reason: str | None = None
    claims: claims_model.Claims = field(default_factory=claims_model.Claims)
    # theme -> (period label, score, 95% interval, n) over the last periods, oldest first
    theme_trend: dict[str, list[TrendPoint]] = field(default_factory=dict)


# --------------------------------------------------------------------------- scoring one item


def _raw(st: ItemStats) -> stats.Mean:
    return stats.Mean(st.n, float(st.total), float(st.total_sq))


def on_0_100(info: VersionInfo, st: ItemStats) -> stats.Mean:
    """Answers of one item as a 0-100 mean, reverse-scored where agreeing is the bad answer."""
    if info.scale == "yes_no_unsure":
        m = stats.Proportion(st.high, st.n).as_mean_0_100()
        return m.transformed(-1.0, 100.0) if info.reverse else m
    return stats.mean_to_0_100(info.scale, _raw(st), reverse=info.reverse)


_favourable = claims_model.favourable  # one rule for what counts as favourable


def _ci(interval, scale: float = 1.0, top: float | None = None) -> tuple[float, float] | None:
    """Interval as a tuple, clipped to the scale (a t interval near a bound can pass it, and a
    score of 104 out of 100 would only confuse)."""
    if interval is None:
        return None
    lo, hi = scale * interval.lo, scale * interval.hi
    return (max(lo, 0.0), hi if top is None else min(hi, top))


def _min_n(k: int) -> int:
    """A change is judged only on groups that are both big enough to show and to mean something."""
    return max(stats.MIN_N, k)


def item_change(info: VersionInfo, now: ItemStats, before: ItemStats | None, k: int = 0) -> str:
    """Verdict on one item between two periods (or a period and its pooled baseline)."""
    if before is None or now.n < _min_n(k) or before.n < _min_n(k):
        return "too few answers to tell"
    if info.scale == "scale0_10":
        diff = stats.diff_means(_raw(now), _raw(before))
    else:
        diff = stats.diff_proportions(_favourable(info, now), _favourable(info, before))
    return stats.classify_change(diff, now.n, before.n, _min_n(k))


def item_figure(info: VersionInfo, st: ItemStats) -> tuple[float, tuple[float, float] | None, str]:
    """An item's figure in its own unit: (estimate, 95% interval, unit); needs ``st.n > 0``."""
    if info.scale == "scale0_10":
        m = _raw(st)
        return m.estimate, _ci(m.ci(), top=10.0), "mean 0-10"
    p = _favourable(info, st)
    unit = "% favourable"
    if info.scale == "yes_no_unsure":
        unit = "% no" if info.reverse else "% yes"
    return 100 * p.estimate, _ci(p.ci(), 100.0), unit


def _display(info: VersionInfo, st: ItemStats, k: int) -> tuple[str, tuple[float, float] | None]:
    if st.n < k:
        return anonymity.k_label(k), None
    if info.scale == "scale0_10":
        m = _raw(st)
        return f"{m.estimate:.1f} / 10", _ci(m.ci(), top=10.0)
    p = _favourable(info, st)
    word = "favourable"
    if info.scale == "yes_no_unsure":
        word = "no" if info.reverse else "yes"
    return f"{100 * p.estimate:.0f}% {word}", _ci(p.ci(), 100.0)


_pool = claims_model.pool


def score_items(
    latest: dict[int, ItemStats],
    previous: dict[int, ItemStats],
    history: list[dict[int, ItemStats]],
    infos: dict[int, VersionInfo],
    k: int,
) -> list[ItemScore]:
    """Every item of the latest period; ``history`` is the previous periods (newest first)."""
    out = []
    for vid, st in latest.items():
        info = infos[vid]
        display, ci = _display(info, st, k)
        shown = st.n >= k
        base = _pool([h[vid] for h in history[: stats.BASELINE_PERIODS] if vid in h])
        out.append(
            ItemScore(
                info,
                st.n,
                display,
                item_figure(info, st)[0] * (10.0 if info.scale == "scale0_10" else 1.0)
                if shown
                else None,
                ci,
                change=item_change(info, st, previous.get(vid), k),
                baseline_change=item_change(info, st, base, k),
            )
        )
    return out


# --------------------------------------------------------------------------- themes


def theme_mean(
    stats_by_version: dict[int, ItemStats],
    infos: dict[int, VersionInfo],
    theme: str,
    only: set[int] | None = None,
) -> tuple[stats.Mean, int]:
    """Pooled 0-100 mean of a theme's (non-headline) items, optionally only some versions."""
    parts = [
        on_0_100(infos[v], st)
        for v, st in stats_by_version.items()
        if infos[v].theme == theme and not infos[v].headline and (only is None or v in only)
    ]
    return stats.pool_means(parts), len(parts)


def _visible(per: dict[int, ItemStats], k: int) -> dict[int, ItemStats]:
    """Only items whose own figure is shown: pooling a hidden one into a shown theme score
    would let a reader subtract the other items and recover it."""
    return {v: st for v, st in per.items() if st.n >= k}


def _theme_change(
    now: dict[int, ItemStats], before: dict[int, ItemStats], infos, theme: str, k: int
) -> tuple[str, int]:
    """Like with like: only versions of the theme answered in both, each side pooled over them."""
    shared = set(now) & set(before)
    now_m, n_items = theme_mean(now, infos, theme, shared)
    before_m, _ = theme_mean(before, infos, theme, shared)
    if not n_items or now_m.n < _min_n(k) or before_m.n < _min_n(k):
        return "too few answers to tell", n_items
    diff = stats.diff_means(now_m, before_m)
    return stats.classify_change(diff, now_m.n, before_m.n, _min_n(k)), n_items


def score_themes(
    latest: dict[int, ItemStats],
    previous: dict[int, ItemStats],
    infos: dict[int, VersionInfo],
    k: int,
    history: list[dict[int, ItemStats]] | None = None,
) -> list[ThemeScore]:
    """Theme scores of the latest period, with changes against the previous and the last 6."""
    now = _visible(latest, k)
    before = _visible(previous, k)
    baseline: dict[int, ItemStats] = {}
    for vid in now:
        pooled = _pool([h[vid] for h in (history or [])[: stats.BASELINE_PERIODS] if vid in h])
        if pooled is not None:
            baseline[vid] = pooled
    out = []
    for theme in sorted({infos[v].theme for v in now if not infos[v].headline}):
        mean, n_items = theme_mean(now, infos, theme)
        change, compared = _theme_change(now, before, infos, theme, k)
        base_change, base_items = _theme_change(now, baseline, infos, theme, k)
        out.append(
            ThemeScore(
                theme,
                mean.n,
                n_items,
                mean.estimate,
                _ci(mean.ci(), top=100.0),
                change,
                compared,
                base_change,
                base_items,
            )
        )
    return out


def headline(
    history: list[tuple[str, dict[int, ItemStats]]], infos: dict[int, VersionInfo], k: int
) -> Headline | None:
    """The fixed 0-10 engagement item: trend over up to 12 periods, same wording only."""
    latest = history[0][1]
    vid = next((v for v in latest if infos[v].headline), None)
    if vid is None:
        return None
    trend, trend_n = [], []
    for label, per in reversed(history):
        st = per.get(vid)
        if st is None or st.n < k:
            trend.append((label, None, None))
            trend_n.append(None)
        else:
            m = _raw(st)
            trend.append((label, m.estimate, _ci(m.ci(), top=10.0)))
            trend_n.append(st.n)
    now = latest[vid]
    before = history[1][1].get(vid) if len(history) > 1 else None
    base = _pool([per[vid] for _, per in history[1 : 1 + stats.BASELINE_PERIODS] if vid in per])
    change = item_change(infos[vid], now, before, k)
    visible = now.n >= k
    mean = _raw(now)
    return Headline(
        now.n,
        mean.estimate if visible else None,
        _ci(mean.ci(), top=10.0) if visible else None,
        change,
        stats.headline_label(change),
        trend,
        item_change(infos[vid], now, base, k),
        trend_n,
    )


# --------------------------------------------------------------------------- participation


def order_key(key) -> tuple[bool, str]:
    """One fixed order for the groups of a breakdown (None last), so that ties in
    storage.anonymity's complementary choice fall the same way in every view of the same data."""
    return (key is None, str(key))


def _rates_by(parts: list[queries.Participation], attr: str) -> dict[str | None, dict[int, list]]:
    out: dict[str | None, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for p in parts:
        cell = out[getattr(p, attr)][p.round_id]
        cell[0] += p.invited
        cell[1] += p.responded
    return out


def department_rates(
    parts: list[queries.Participation], periods: list[int], k: int
) -> list[DeptRate]:
    """Response rate per department in the latest period, as ``participation_disclosure``
    allows (doctors with no department are a group of their own), lowest first.

    Falling: down at each of the last three periods, by ten points or more overall, judged only
    where the department was shown in all three (a trend of a hidden group is its figure).
    """
    by_dept = _rates_by(parts, "department")
    latest = periods[0]
    decisions = {r: participation_disclosure(parts, r, k)[0] for r in periods[:3]}
    decision = decisions[latest]
    out = []
    for dept, per in by_dept.items():
        if latest not in per:
            continue
        invited, responded = per[latest]
        name = dept or NO_DEPARTMENT
        reason = decision.reason(("department", dept))
        if reason is not None:
            out.append(DeptRate(name, None, None, None, recorded=dept is not None, reason=reason))
            continue
        last3 = [per[r] for r in periods[:3] if r in per]
        rates = [n / i for i, n in last3 if i]
        falling = (
            len(rates) == 3
            and all(d.shown(("department", dept)) for d in decisions.values())
            and rates[0] < rates[1] < rates[2]
            and rates[2] - rates[0] >= 0.10
        )
        rate = responded / invited if invited else None
        out.append(DeptRate(name, invited, responded, rate, falling, dept is not None))
    return sorted(out, key=lambda d: (d.rate is None, d.rate or 0.0, d.department))


def grade_rates(parts: list[queries.Participation], latest: int, k: int) -> dict[str, str]:
    """Response rate per grade group in the latest period, as the auditor allows."""
    by_grade = _rates_by([p for p in parts if p.round_id == latest], "grade")
    decision, _ = participation_disclosure(parts, latest, k)
    out = {}
    for g in sorted(by_grade, key=lambda g: (g is None, g or "")):
        invited, responded = by_grade[g][latest]
        label = GRADE_LABELS.get(g, g) if g else NO_GRADE
        reason = decision.reason(("grade", g))
        out[label] = (
            anonymity.hidden_label(reason, k)
            if reason is not None
            else f"{responded} of {invited} ({100 * responded / invited:.0f}%)"
        )
    return out


def _cross(parts: list[queries.Participation], latest: int) -> dict[tuple, list[int]]:
    cells: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for p in sorted(parts, key=lambda p: (order_key(p.department), order_key(p.grade))):
        if p.round_id == latest:
            cells[(p.department, p.grade)][0] += p.invited
            cells[(p.department, p.grade)][1] += p.responded
    return cells


def participation_disclosure(
    parts: list[queries.Participation], latest: int, k: int
) -> tuple[auditor.Disclosure, dict[tuple, list[int]]]:
    """The one decision on the latest period's respondents by department, grade and both, used
    by the summary, a department's view, its comments and the export alike; with the
    (department, grade) cells as [invited, responded]."""
    cells = _cross(parts, latest)
    counts = {key: n for key, (_, n) in cells.items()}
    changed = any(p.audience_changed for p in parts if p.round_id == latest)
    cross = published.cross_wanted(counts, k)
    return published.breakdowns(counts, k, cross=cross, changed=changed), cells


def published_departments(
    parts: list[queries.Participation], round_ids: list[int], k: int
) -> dict[int, frozenset[str]]:
    """Per pulse, the departments whose participation figure the auditor published that pulse
    (``participation_disclosure``): the only pulses a department's figure pooled over several
    may take in, since the pooled figure less the published ones would give a hidden one."""
    out = {}
    for r in round_ids:
        decision, cells = participation_disclosure(parts, r, k)
        out[r] = frozenset(
            d for d, _ in cells if d is not None and decision.shown(("department", d))
        )
    return out


def _fill_cross(summary: Summary, parts: list[queries.Participation], latest: int, k: int) -> None:
    """Department x grade where the auditor shows its cells; the grade line is replaced by one
    sentence when every grade is held back and not only for being small."""
    decision, cells = participation_disclosure(parts, latest, k)
    for (d, g), (invited, responded) in sorted(cells.items(), key=lambda kv: str(kv[0])):
        if decision.shown(("cell", (d, g))):
            who = f"{d or NO_DEPARTMENT}, {GRADE_LABELS.get(g, g) if g else NO_GRADE}"
            summary.cross.append(f"{who}: {responded} of {invited}")
    reasons = {decision.reason(("grade", g)) for _, g in cells}
    if reasons == {auditor.CHANGED}:  # said once for the whole breakdown by the renderer
        summary.grades = {}
    elif None not in reasons and reasons - {auditor.SMALL}:
        summary.grades = {}
        summary.grades_withheld = True


# --------------------------------------------------------------------------- comments


def comment_figures(
    cells: dict[tuple[int | None, str | None], int],
    k: int,
    department_id: int | None = None,
    changed: bool = False,
) -> tuple[dict[str, str], str | None]:
    """Comments per theme label (trust-wide, or of one department) and how many in all.

    Counted exactly as ``/pulse comments`` labels them (``storage.published.comment_plan``):
    a theme's count is its labelled comments, each label covering >= k of them; "Other
    themes" holds the rest (0 or >= k); a theme with comments but no label reads as held back.
    A department's figures only where its comment list may be shown.
    """
    from questions.themes import LABELS as THEME_LABELS

    plan = published.comment_plan(cells, k, changed)
    if department_id is not None:
        if department_id not in plan.listed:
            return {}, None
        cells = {c: n for c, n in cells.items() if c[0] == department_id}
    if not cells:
        return {}, None
    labelled: dict[str, int] = defaultdict(int)
    present: dict[str, int] = defaultdict(int)
    other = 0
    for (d, t), n in cells.items():
        label = plan.label(d, t)
        if label is None:
            other += n
            if t is not None:
                present[t] += n
        else:
            labelled[label] += n
    shown = {
        THEME_LABELS.get(t, t): str(n)
        for t, n in sorted(labelled.items(), key=lambda kv: (-kv[1], kv[0]))
    }
    for t in sorted(set(present) - set(labelled)):
        reason = auditor.SMALL if present[t] < k else auditor.PROTECT
        shown[THEME_LABELS.get(t, t)] = anonymity.hidden_label(reason, k)
    if other:
        shown[OTHER_THEMES] = str(other)
    return shown, str(sum(cells.values()))


OTHER_THEMES = "Other themes"


# --------------------------------------------------------------------------- build


def period_label(d: date, year: bool = True) -> str:
    return f"{d.day} {d:%b %Y}" if year else f"{d.day} {d:%b}"


def build(
    core: Core, workspace_id: int, department: str | None = None, periods: int = 12
) -> Summary:
    """Everything the weekly summary shows, for the whole trust or one department."""
    k = core.k
    with core.db.Session() as s:
        rounds = queries.closed_periods(s, workspace_id, periods)
        summary = Summary(period_label(rounds[0].start) if rounds else None, department, k)
        if not rounds:
            summary.suppressed_reason = (
                "No pulse has closed yet, so there is nothing to summarise. "
                "The first summary comes after the first pulse closes."
            )
            return summary
        round_ids = [r.round_id for r in rounds]
        per_round = _per_round(queries.item_stats(s, round_ids))
        dept_id = queries.department_id(s, workspace_id, department) if department else None
        if department:
            segs = queries.segment_stats(s, round_ids, "department")
            cross = queries.answer_cross(s, round_ids)
            per_round = _department_cells(per_round, segs, dept_id, k, cross)
        infos = queries.versions(s, {v for d in per_round.values() for v in d})
        parts = queries.participation(s, round_ids)
        comments = queries.comment_cells(s, round_ids[:1])
        agree = {
            vid
            for vid, st in per_round.get(round_ids[0], {}).items()
            if infos[vid].scale == "agree5" and st.n >= k
        }
        dists = queries.distributions(s, round_ids[0], agree, dept_id)
    if not _fill_participation(summary, parts, round_ids, department, k):
        return summary
    _fill_scores(summary, per_round, rounds, infos, dists, k)
    summary.comments, summary.comments_total = comment_figures(
        comments, k, dept_id, rounds[0].audience_changed
    )
    _fill_claims(summary, per_round, rounds, infos, parts)
    return summary


def _fill_claims(summary: Summary, per_round: PerRound, rounds, infos, parts) -> None:
    """The claims, and the older fields read from them (so every statement has evidence)."""
    depts, published = None, None
    if summary.department is None:
        shown = {
            d.department: (d.invited, d.responded)
            for d in summary.departments
            if d.recorded and d.shown and d.invited
        }
        # A department hidden because the audience changed gets no claim at all: even "too few
        # answered" would say more than the whole-audience figures the auditor allows.
        hidden = [
            d.department
            for d in summary.departments
            if d.recorded and not d.shown and d.reason != auditor.CHANGED
        ]
        depts = (shown, hidden)
        recent, earlier = claims_model.windows(len(rounds))
        window = [r.round_id for r in rounds[: recent + earlier]]
        published = published_departments(parts, window, summary.k)
    found = claims_model.build(
        per_round,
        rounds,
        infos,
        summary.k,
        (summary.invited, summary.respondents),
        depts,
        parts,
        published,
    )
    summary.claims = found
    summary.changes = [c.text for c in found.of("change")]
    summary.hard_to_reach = [c.text for c in found.of("hard_to_reach")]
    by_key = {f"item:{i.info.key}": i for i in summary.items}
    summary.strengths = [by_key[c.subject] for c in found.of("strength") if c.subject in by_key]
    summary.concerns = [by_key[c.subject] for c in found.of("concern") if c.subject in by_key]
    h = summary.headline
    if h is not None:
        claim = found.about("headline")
        h.label = (
            ("Rising" if claim.direction == "up" else "Falling")
            if claim
            else ("First pulse" if found.pulses < 2 else "No clear change")
        )


def _per_round(all_stats: list[ItemStats]) -> PerRound:
    out: PerRound = defaultdict(dict)
    for st in all_stats:
        out[st.round_id][st.version_id] = st
    return out


def _department_cells(
    trust: PerRound,
    segs: list[queries.SegmentStats],
    dept_id: int | None,
    k: int,
    cross: dict[tuple[int, int], dict[tuple, int]] | None = None,
) -> PerRound:
    """The department's own figure of each item, kept only where the auditor shows that
    department's group in the item's one breakdown table (``item_disclosure``), the same
    decision the export prints: so the department's view and the trust's together reveal
    nothing the breakdown would not."""
    out: PerRound = defaultdict(dict)
    for seg in segs:
        st = seg.stats
        if seg.segment != dept_id or st.version_id not in trust.get(st.round_id, {}):
            continue
        cells = (cross or {}).get((st.round_id, st.version_id), {})
        if item_disclosure(cells, k).shown(("department", dept_id)):
            out[st.round_id][st.version_id] = st
    return out


def item_disclosure(cells: dict[tuple, int], k: int) -> auditor.Disclosure:
    """What may be shown of one item's answers in one period, by department and by grade: the
    one decision behind the summary, a department's view and the export."""
    return published.breakdowns(cells, k)


def _fill_participation(
    summary: Summary, parts: list[queries.Participation], round_ids: list[int], dept, k: int
) -> bool:
    """Who responded; False (with the reason set) when no figure may be shown."""
    latest = [p for p in parts if p.round_id == round_ids[0]]
    rates = department_rates(parts, round_ids, k)
    if dept is not None:
        mine = shown_department(rates, dept)
        if mine is None:
            summary.suppressed_reason = department_held_back(dept, k, rates)
            return False
        summary.invited, summary.respondents = mine.invited, mine.responded
        return True
    summary.invited = sum(p.invited for p in latest)
    summary.respondents = sum(p.responded for p in latest)
    if summary.respondents < k:
        summary.suppressed_reason = (
            f"Fewer than {k} people responded in the latest period, so no figures are shown."
        )
        return False
    summary.departments = rates
    summary.grades = grade_rates(parts, round_ids[0], k)
    _fill_cross(summary, parts, round_ids[0], k)
    return True


def shown_department(rates: list[DeptRate], dept: str) -> DeptRate | None:
    """The department's participation if its figures may be shown on their own, else None:
    the one rule for a department's own summary and its own comments."""
    mine = next((d for d in rates if d.department == dept and d.recorded), None)
    return mine if mine is not None and mine.shown else None


def department_held_back(dept: str, k: int, rates: list[DeptRate] | None = None) -> str:
    """Why a department's own view is empty, with the auditor's reason when ``rates`` say it."""
    mine = next((d for d in rates or [] if d.department == dept and d.recorded), None)
    if mine is not None and mine.reason == auditor.CHANGED:
        return (
            f"{dept}'s figures are not shown this period: the doctors asked changed since the "
            "previous pulse, so only figures for everyone are published. Anonymity comes "
            "first; the trust summary still includes their answers."
        )
    return (
        f"{dept}'s figures are not shown this period: fewer than {k} of its doctors "
        "responded, or its figures would let a smaller group's answers be worked out "
        "from the trust-wide ones. Anonymity comes first; the trust summary still "
        "includes their answers."
    )


def _fill_scores(summary: Summary, per_round: PerRound, rounds, infos, dists, k: int) -> None:
    round_ids = [r.round_id for r in rounds]
    latest = per_round.get(round_ids[0], {})
    previous = per_round.get(round_ids[1], {}) if len(round_ids) > 1 else {}
    history = [per_round.get(r, {}) for r in round_ids[1:]]
    items = score_items(latest, previous, history, infos, k)
    for it in items:
        it.distribution = dists.get(it.info.version_id, {})
    summary.items = sorted(items, key=lambda i: (i.info.theme, i.info.key))
    summary.themes = score_themes(latest, previous, infos, k, history)
    labelled = [(period_label(r.start, False), per_round.get(r.round_id, {})) for r in rounds]
    summary.headline = headline(labelled, infos, k)
    summary.theme_trend = theme_trend(labelled[:THEME_TREND_PERIODS], infos, k)


def theme_trend(labelled, infos, k: int) -> dict[str, list[TrendPoint]]:
    """Each theme's score in each of the last periods (newest last), pooled over the items shown
    that period; a period with no shown item of the theme is left out of its line."""
    out: dict[str, list[TrendPoint]] = {}
    for label, per in reversed(labelled):
        visible = _visible(per, k)
        for theme in sorted({infos[v].theme for v in visible if not infos[v].headline}):
            mean, _ = theme_mean(visible, infos, theme)
            point = (label, mean.estimate, _ci(mean.ci(), top=100.0), mean.n)
            out.setdefault(theme, []).append(point)
    return out
