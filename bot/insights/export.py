"""CSV export of the k-protected aggregates: by period, theme, item, department and grade.

Only figures the summary could show leave this module, decided by the same objects: an item or
theme figure needs k answers; the department and grade breakdowns of each item are the item's
``item_disclosure`` and those of response rates the period's ``participation_disclosure``
(storage.auditor over the department x grade cells: no combination of the rows isolates fewer
than k); a department x grade table appears only when every cell reaches k; a round whose
audience changed has no breakdown at all. Hidden rows keep their labels and read "fewer than k
responses" or "held back to protect a smaller group", with every figure blank.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from bot.core import Core
from bot.insights import stats
from bot.insights.summary import (
    GRADE_LABELS,
    NO_DEPARTMENT,
    NO_GRADE,
    item_disclosure,
    item_figure,
    on_0_100,
    order_key,
    participation_disclosure,
)
from storage import anonymity, queries
from storage.queries import ItemStats, VersionInfo

COLUMNS = [
    "period",
    "level",
    "theme",
    "item",
    "version",
    "question",
    "department",
    "grade",
    "n",
    "invited",
    "score",
    "ci_low",
    "ci_high",
    "unit",
]


def _blank(period: str, level: str, **labels) -> dict:
    return {c: "" for c in COLUMNS} | {"period": period, "level": level} | labels


def _figure(row: dict, n: int, k: int, value, ci, unit: str, reason: str | None = None) -> dict:
    """Fill the figures of a row, or only why it is hidden (the auditor's reason, or too few)."""
    if reason is not None or n < k:
        return row | {"n": anonymity.hidden_label(reason, k)}
    return row | {
        "n": n,
        "score": f"{value:.1f}",
        "ci_low": f"{ci[0]:.1f}" if ci else "",
        "ci_high": f"{ci[1]:.1f}" if ci else "",
        "unit": unit,
    }


def rows(core: Core, workspace_id: int, periods: int = 12) -> list[dict]:
    """Every exportable row, oldest period first."""
    k = core.k
    with core.db.Session() as s:
        rounds = queries.closed_periods(s, workspace_id, periods)
        ids = [r.round_id for r in rounds]
        all_stats = queries.item_stats(s, ids)
        infos = queries.versions(s, {st.version_id for st in all_stats})
        by_dept = queries.segment_stats(s, ids, "department")
        by_grade = queries.segment_stats(s, ids, "grade")
        cross = queries.answer_cross(s, ids)
        names = queries.department_names(s, workspace_id)
        parts = queries.participation(s, ids)
    out: list[dict] = []
    for r in reversed(rounds):
        period = r.start.isoformat()
        mine = [st for st in all_stats if st.round_id == r.round_id]
        out += _participation_rows(period, parts, r.round_id, k)
        out += _item_rows(period, mine, infos, k)
        out += _theme_rows(period, mine, infos, k)
        segs = {
            "department": [x for x in by_dept if x.stats.round_id == r.round_id],
            "grade": [x for x in by_grade if x.stats.round_id == r.round_id],
        }
        out += _segment_rows(period, mine, infos, segs, cross, names, k)
    return out


def _participation_rows(
    period: str, parts: list[queries.Participation], round_id: int, k: int
) -> list[dict]:
    """Response rates overall, by department, by grade and by both, exactly as the summary's
    ``participation_disclosure`` shows them."""
    mine = [p for p in parts if p.round_id == round_id]
    if not mine:
        return []
    invited = sum(p.invited for p in mine)
    responded = sum(p.responded for p in mine)
    overall = _blank(period, "response rate", invited=invited if responded >= k else "")
    out = [_figure(overall, responded, k, 100 * responded / max(invited, 1), None, "% responded")]
    decision, cells = participation_disclosure(parts, round_id, k)
    for dim, pick in (("department", 0), ("grade", 1)):
        groups: dict = defaultdict(lambda: [0, 0])
        for key, (i, n) in cells.items():
            groups[key[pick]][0] += i
            groups[key[pick]][1] += n
        for g, (i, n) in sorted(groups.items(), key=lambda kv: order_key(kv[0])):
            label = _dept_label(g) if dim == "department" else _grade_label(g)
            row = _blank(period, f"response rate by {dim}", **{dim: label})
            reason = decision.reason((dim, g))
            row["invited"] = i if reason is None else ""
            out.append(_figure(row, n, k, 100 * n / max(i, 1), None, "% responded", reason))
    for (d, g), (i, n) in cells.items():
        if decision.shown(("cell", (d, g))):
            row = _blank(
                period,
                "response rate by department and grade",
                department=_dept_label(d),
                grade=_grade_label(g),
                invited=i,
            )
            out.append(_figure(row, n, k, 100 * n / max(i, 1), None, "% responded"))
    return out


def _item_row(period: str, level: str, info: VersionInfo, **labels) -> dict:
    return _blank(
        period,
        level,
        theme=info.theme,
        item=info.key,
        version=str(info.version),
        question=info.text,
        **labels,
    )


def _item_rows(period: str, mine: list[ItemStats], infos, k: int) -> list[dict]:
    out = []
    for st in sorted(mine, key=lambda st: (infos[st.version_id].theme, infos[st.version_id].key)):
        info = infos[st.version_id]
        value, ci, unit = item_figure(info, st)
        out.append(_figure(_item_row(period, "item", info), st.n, k, value, ci, unit))
    return out


def _theme_rows(period: str, mine: list[ItemStats], infos, k: int) -> list[dict]:
    """Pooled 0-100 theme scores over the items whose own figure is shown (as in the summary)."""
    parts: dict[str, list[stats.Mean]] = defaultdict(list)
    for st in mine:
        info = infos[st.version_id]
        if not info.headline and st.n >= k:
            parts[info.theme].append(on_0_100(info, st))
    out = []
    for theme, means in sorted(parts.items()):
        m = stats.pool_means(means)
        ci = m.ci()
        row = _blank(period, "theme", theme=theme)
        out.append(_figure(row, m.n, k, m.estimate, (ci.lo, ci.hi) if ci else None, "0-100"))
    return out


def _segment_rows(period, mine, infos, segs, cross, names, k: int) -> list[dict]:
    """Each item by department and by grade, as the item's one ``item_disclosure`` shows it
    (the same decision a department's own summary reads)."""
    out = []
    for st in sorted(mine, key=lambda st: (infos[st.version_id].theme, infos[st.version_id].key)):
        info = infos[st.version_id]
        decision = item_disclosure(cross.get((st.round_id, st.version_id), {}), k)
        for dim in ("department", "grade"):
            cells = {x.segment: x.stats for x in segs[dim] if x.stats.version_id == st.version_id}
            if not cells:
                continue
            for g in sorted(cells, key=order_key):
                label = names.get(g, str(g)) if dim == "department" else _grade_label(g)
                row = _item_row(period, f"item by {dim}", info, **{dim: label})
                value, ci, unit = item_figure(info, cells[g])
                out.append(_figure(row, cells[g].n, k, value, ci, unit, decision.reason((dim, g))))
            rest = st.n - sum(c.n for c in cells.values())
            if rest > 0:  # the answers with no segment recorded are a group of the breakdown
                label = NO_DEPARTMENT if dim == "department" else NO_GRADE
                row = _item_row(period, f"item by {dim}", info, **{dim: label})
                value, ci, unit = item_figure(info, _minus(st, list(cells.values())))
                out.append(_figure(row, rest, k, value, ci, unit, decision.reason((dim, None))))
    return out


def _minus(total: ItemStats, parts: list[ItemStats]) -> ItemStats:
    """The answers no segment holds: sufficient statistics subtract exactly."""
    return ItemStats(
        total.round_id,
        total.version_id,
        total.n - sum(p.n for p in parts),
        total.total - sum(p.total for p in parts),
        total.total_sq - sum(p.total_sq for p in parts),
        total.high - sum(p.high for p in parts),
        total.low - sum(p.low for p in parts),
    )


def _dept_label(name: str | None) -> str:
    return name or NO_DEPARTMENT


def _grade_label(grade: str | None) -> str:
    return GRADE_LABELS.get(grade, grade) if grade else NO_GRADE


def to_csv(data: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(data)
    return buf.getvalue()


def has_data(core: Core, workspace_id: int) -> bool:
    """Whether there is anything to export (a closed round)."""
    with core.db.Session() as s:
        return queries.has_closed_round(s, workspace_id)
