"""The summary model: what leadership reads, computed from SQL aggregates with honest statistics.

Rules carried out here:
* Scores per item: agree5 as % favourable (with its distribution), scale0_10 as a 0-10 mean,
  yes_no_unsure as % yes; each with n and a 95% interval (Wilson / Student t).
* Theme scores on one 0-100 scale after reverse-scoring, pooled over the theme's items.
* A change is "up"/"down" only when the 95% interval of the difference excludes zero; below 10
  answers it is "too few answers to tell". Themes compare like with like: only versions asked in
  both periods (a reworded item is a new version and never trends with its old wording).
* Nothing is shown for fewer than k respondents: every figure passes through storage.anonymity.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from bot import stats
from bot.core import Core
from storage import anonymity, queries
from storage.queries import ItemStats, VersionInfo

THEME_MIN_ITEMS = 2  # below this, the summary says the theme rests on few items
RANK_MIN_N = 10  # answers an item needs to be named a strength or a concern


@dataclass
class ItemScore:
    info: VersionInfo
    n: int
    display: str  # "68% favourable", "7.1 / 10", "54% yes" or the k label
    score_100: float | None  # for ranking strengths and concerns
    ci: tuple[float, float] | None
    distribution: dict[int, int] = field(default_factory=dict)
    change: str = "too few answers to tell"
    baseline_change: str = "too few answers to tell"


@dataclass
class ThemeScore:
    theme: str
    n: int
    items: int
    score: float | None
    ci: tuple[float, float] | None
    change: str
    compared_items: int


@dataclass
class Headline:
    n: int
    mean: float | None
    ci: tuple[float, float] | None
    change: str
    label: str
    trend: list[tuple[str, float | None, tuple[float, float] | None]]


@dataclass
class DeptRate:
    department: str
    invited: int
    responded: int | None  # None when hidden by the minimum group size
    rate: float | None
    falling: bool
    small: bool = False  # hidden because fewer than k responded (not to protect a neighbour)


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
    hard_to_reach: list[str] = field(default_factory=list)
    comments: dict[str, int] = field(default_factory=dict)
    suppressed_reason: str | None = None


def _raw(st: ItemStats) -> stats.Mean:
    return stats.Mean(st.n, float(st.total), float(st.total_sq))


def on_0_100(info: VersionInfo, st: ItemStats) -> stats.Mean:
    """Answers of one item as a 0-100 mean, reverse-scored where agreeing is the bad answer."""
    if info.scale == "yes_no_unsure":
        m = stats.Proportion(st.high, st.n).as_mean_0_100()
        return m.transformed(-1.0, 100.0) if info.reverse else m
    return stats.mean_to_0_100(info.scale, _raw(st), reverse=info.reverse)


def _favourable(info: VersionInfo, st: ItemStats) -> stats.Proportion:
    return stats.Proportion(st.low if info.reverse else st.high, st.n)


def _ci(interval) -> tuple[float, float] | None:
    return None if interval is None else (interval.lo, interval.hi)


def item_change(info: VersionInfo, now: ItemStats, before: ItemStats | None) -> str:
    if before is None:
        return "too few answers to tell"
    if info.scale == "scale0_10":
        if now.n < 2 or before.n < 2:
            return "too few answers to tell"
        diff = stats.diff_means(_raw(now), _raw(before))
    else:
        diff = stats.diff_proportions(_favourable(info, now), _favourable(info, before))
    return stats.classify_change(diff, now.n, before.n)


def _display(info: VersionInfo, st: ItemStats, k: int) -> tuple[str, tuple[float, float] | None]:
    if st.n < k:
        return anonymity.k_label(k), None
    if info.scale == "scale0_10":
        m = _raw(st)
        return f"{m.estimate:.1f} / 10", _ci(m.ci())
    p = _favourable(info, st)
    word = "yes" if info.scale == "yes_no_unsure" else "favourable"
    if info.scale == "yes_no_unsure" and info.reverse:
        word = "no"
    lo_hi = _ci(p.ci())
    return f"{100 * p.estimate:.0f}% {word}", None if lo_hi is None else (
        100 * lo_hi[0],
        100 * lo_hi[1],
    )


def score_items(
    latest: dict[int, ItemStats],
    previous: dict[int, ItemStats],
    history: list[dict[int, ItemStats]],
    infos: dict[int, VersionInfo],
    k: int,
) -> list[ItemScore]:
    out = []
    for vid, st in latest.items():
        info = infos[vid]
        display, ci = _display(info, st, k)
        score = on_0_100(info, st).estimate if st.n >= k else None
        base = _pool([h[vid] for h in history if vid in h])
        out.append(
            ItemScore(
                info,
                st.n,
                display,
                score,
                ci,
                change=item_change(info, st, previous.get(vid))
                if st.n >= k
                else "too few answers to tell",
                baseline_change=item_change(info, st, base)
                if st.n >= k
                else "too few answers to tell",
            )
        )
    return out


def _pool(parts: list[ItemStats]) -> ItemStats | None:
    if not parts:
        return None
    return ItemStats(
        parts[0].round_id,
        parts[0].version_id,
        sum(p.n for p in parts),
        sum(p.total for p in parts),
        sum(p.total_sq for p in parts),
        sum(p.high for p in parts),
        sum(p.low for p in parts),
    )


def theme_mean(
    stats_by_version: dict[int, ItemStats], infos, theme: str, only: set[int] | None = None
):
    parts = [
        on_0_100(infos[v], st)
        for v, st in stats_by_version.items()
        if infos[v].theme == theme and not infos[v].headline and (only is None or v in only)
    ]
    return stats.pool_means(parts), len(parts)


def score_themes(latest, previous, infos, k: int) -> list[ThemeScore]:
    themes = sorted({infos[v].theme for v in latest if not infos[v].headline})
    out = []
    for theme in themes:
        mean, n_items = theme_mean(latest, infos, theme)
        shared = set(latest) & set(previous)
        now_shared, n_shared = theme_mean(latest, infos, theme, shared)
        before_shared, _ = theme_mean(previous, infos, theme, shared)
        change = "too few answers to tell"
        if n_shared and now_shared.n >= 2 and before_shared.n >= 2:
            diff = stats.diff_means(now_shared, before_shared)
            change = stats.classify_change(diff, now_shared.n, before_shared.n)
        visible = mean.n >= k
        out.append(
            ThemeScore(
                theme,
                mean.n,
                n_items,
                mean.estimate if visible else None,
                _ci(mean.ci()) if visible else None,
                change if visible else "too few answers to tell",
                n_shared,
            )
        )
    return out


def headline(history: list[tuple[str, dict[int, ItemStats]]], infos, k: int) -> Headline | None:
    """The fixed 0-10 engagement item: trend over up to 12 periods, same wording only."""
    latest_label, latest = history[0]
    vid = next((v for v in latest if infos[v].headline), None)
    if vid is None:
        return None
    trend = []
    for label, per in reversed(history):
        st = per.get(vid)
        if st is None or st.n < k:
            trend.append((label, None, None))
        else:
            m = _raw(st)
            trend.append((label, m.estimate, _ci(m.ci())))
    now = latest[vid]
    before = history[1][1].get(vid) if len(history) > 1 else None
    change = item_change(infos[vid], now, before) if now.n >= k else "too few answers to tell"
    mean = _raw(now)
    visible = now.n >= k
    return Headline(
        now.n,
        mean.estimate if visible else None,
        _ci(mean.ci()) if visible else None,
        change,
        stats.headline_label(change),
        trend,
    )


def department_rates(
    parts: list[queries.Participation], periods: list[int], k: int
) -> list[DeptRate]:
    """Response rate per department (k-protected), with those falling three periods running."""
    by_dept: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for p in parts:
        if p.department:
            cell = by_dept[p.department][p.round_id]
            cell[0] += p.invited
            cell[1] += p.responded
    latest = periods[0]
    counts = {d: v[latest][1] for d, v in by_dept.items() if latest in v}
    hidden = anonymity.suppress_breakdown(counts, k) if counts else set()
    out = []
    for dept, per in by_dept.items():
        if latest not in per:
            continue
        invited, responded = per[latest]
        rates = [per[r][1] / per[r][0] for r in periods[:3] if r in per and per[r][0]]
        # Falling: down at each of the last three periods, by ten points or more overall.
        falling = len(rates) == 3 and rates[0] < rates[1] < rates[2] and rates[2] - rates[0] >= 0.10
        shown = dept not in hidden
        out.append(
            DeptRate(
                dept,
                invited,
                responded if shown else None,
                responded / invited if shown and invited else None,
                falling,
                small=responded < k,
            )
        )
    return sorted(out, key=lambda d: (d.rate is None, d.rate if d.rate is not None else 0))


def hard_to_reach(rates: list[DeptRate], k: int, overall: float | None) -> list[str]:
    """Departments with fewer than k responses, the two lowest rates if below the trust's
    overall rate, and any falling three periods running."""
    shown = [d for d in rates if d.rate is not None and overall is not None and d.rate < overall]
    lowest = {d.department for d in shown[:2]}
    out = []
    for d in rates:
        why = []
        if d.small:
            why.append(f"fewer than {k} of {d.invited} responded")
        elif d.department in lowest and d.rate is not None:
            why.append(f"{100 * d.rate:.0f}% responded")
        if d.falling:
            why.append("falling for 3 periods")
        if why:
            out.append(f"{d.department} ({', '.join(why)})")
    return out


def grade_rates(parts: list[queries.Participation], latest: int, k: int) -> dict[str, str]:
    invited: dict[str, int] = defaultdict(int)
    responded: dict[str, int] = defaultdict(int)
    for p in parts:
        if p.round_id == latest and p.grade:
            invited[p.grade] += p.invited
            responded[p.grade] += p.responded
    hidden = anonymity.suppress_breakdown(dict(responded), k) if responded else set()
    return {
        g: anonymity.k_label(k)
        if g in hidden
        else f"{responded[g]} of {invited[g]} ({100 * responded[g] / invited[g]:.0f}%)"
        for g in sorted(invited)
    }


def build(
    core: Core, workspace_id: int, department: str | None = None, periods: int = 12
) -> Summary:
    """Everything the weekly summary shows, for the whole trust or one department."""
    k = core.k
    with core.db.Session() as s:
        rounds = queries.closed_periods(s, workspace_id, periods)
        summary = Summary(rounds[0].start.strftime("%-d %b %Y") if rounds else None, department, k)
        if not rounds:
            summary.suppressed_reason = "No pulse has closed yet, so there is nothing to summarise."
            return summary
        dept_id = queries.department_id(s, workspace_id, department) if department else None
        round_ids = [r.round_id for r in rounds]
        per_round: dict[int, dict[int, ItemStats]] = defaultdict(dict)
        for st in queries.item_stats(s, round_ids, dept_id):
            per_round[st.round_id][st.version_id] = st
        infos = queries.versions(s, {v for d in per_round.values() for v in d})
        parts = queries.participation(s, round_ids)
        comments = queries.comment_counts(s, round_ids[:1], dept_id)
        latest_items = per_round.get(round_ids[0], {})
        dists = {
            vid: queries.distribution(s, round_ids[0], vid, dept_id)
            for vid, st in latest_items.items()
            if infos[vid].scale == "agree5" and st.n >= k
        }
    _fill_participation(summary, parts, round_ids, department, k)
    if summary.respondents < k:
        summary.suppressed_reason = (
            f"Fewer than {k} people responded in the latest period, so no figures are shown."
        )
        return summary
    _fill_scores(summary, per_round, round_ids, rounds, infos, dists, k)
    summary.comments = {t or "other": n for t, n in comments.items()}
    return summary


def _fill_participation(summary: Summary, parts, round_ids, department, k) -> None:
    latest = [
        p
        for p in parts
        if p.round_id == round_ids[0] and (department is None or p.department == department)
    ]
    summary.invited = sum(p.invited for p in latest)
    summary.respondents = sum(p.responded for p in latest)
    if department is None:
        summary.departments = department_rates(parts, round_ids, k)
        overall = summary.respondents / summary.invited if summary.invited else None
        summary.hard_to_reach = hard_to_reach(summary.departments, k, overall)
        summary.grades = grade_rates(parts, round_ids[0], k)


def _fill_scores(summary, per_round, round_ids, rounds, infos, dists, k) -> None:
    latest = per_round.get(round_ids[0], {})
    previous = per_round.get(round_ids[1], {}) if len(round_ids) > 1 else {}
    history = [per_round.get(r, {}) for r in round_ids[1:7]]
    items = score_items(latest, previous, history, infos, k)
    for it in items:
        it.distribution = dists.get(it.info.version_id, {})
    summary.items = items
    summary.themes = score_themes(latest, previous, infos, k)
    labelled = [(r.start.strftime("%-d %b"), per_round.get(r.round_id, {})) for r in rounds]
    summary.headline = headline(labelled, infos, k)
    # Strengths and concerns need enough answers to mean something, not just k.
    ranked = sorted(
        (
            i
            for i in items
            if i.score_100 is not None and not i.info.headline and i.n >= max(k, RANK_MIN_N)
        ),
        key=lambda i: i.score_100,
    )

    # Named only when clearly on one side of the scale's midpoint (50 = neutral).
    summary.concerns = [i for i in ranked[:3] if i.score_100 < 45]
    summary.strengths = [
        i for i in reversed(ranked[-3:]) if i.score_100 > 55 and i not in summary.concerns
    ]
    summary.changes = _changes(items, summary.themes)


def _changes(items: list[ItemScore], themes: list[ThemeScore]) -> list[str]:
    out = []
    for t in themes:
        if t.change in ("up", "down"):
            out.append(f"{_theme_label(t.theme)}: {t.change} since the last pulse")
    for it in items:
        if it.change in ("up", "down") and not it.info.headline:
            out.append(f"“{it.info.text}” {it.change} since the last pulse")
        elif it.baseline_change in ("up", "down") and not it.info.headline:
            out.append(f"“{it.info.text}” {it.baseline_change} on the last 6 pulses")
    return out


def _theme_label(theme: str) -> str:
    from bot.pulses import THEME_LABELS

    return THEME_LABELS.get(theme, theme)
