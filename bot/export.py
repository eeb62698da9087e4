"""CSV export of the k-protected aggregates: by period, theme, item, department and grade.

Only figures the summary could show leave this module, under the same rules and the same
functions: an item or theme figure needs k answers; department and grade breakdowns (of response
rates and of each item) carry complementary suppression with the not-recorded group as a cell;
a grade breakdown that together with the department one would isolate a small group is left out;
and a department x grade table appears only when every cell reaches k. Suppressed rows keep
their labels and read "fewer than k responses" with every figure blank.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from sqlalchemy import select

from bot import stats
from bot.core import Core
from bot.summary import (
    GRADE_LABELS,
    NO_DEPARTMENT,
    NO_GRADE,
    UNRECORDED,
    hidden_cells,
    item_figure,
    on_0_100,
    order_key,
)
from storage import anonymity, queries
from storage.models import Round
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


def _figure(row: dict, n: int, k: int, value, ci, unit: str, shown: bool = True) -> dict:
    """Fill the figures of a row, or only the k label when the group may not be shown."""
    if not shown or n < k:
        return row | {"n": anonymity.k_label(k)}
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
        out += _participation_rows(period, [p for p in parts if p.round_id == r.round_id], k)
        out += _item_rows(period, mine, infos, k)
        out += _theme_rows(period, mine, infos, k)
        segs = {
            "department": [x for x in by_dept if x.stats.round_id == r.round_id],
            "grade": [x for x in by_grade if x.stats.round_id == r.round_id],
        }
        out += _segment_rows(period, mine, infos, segs, cross, names, k)
    return out


def _participation_rows(period: str, parts: list[queries.Participation], k: int) -> list[dict]:
    if not parts:
        return []
    invited = sum(p.invited for p in parts)
    responded = sum(p.responded for p in parts)
    overall = _blank(period, "response rate", invited=invited if responded >= k else "")
    out = [_figure(overall, responded, k, 100 * responded / max(invited, 1), None, "% responded")]
    cells: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for p in sorted(parts, key=lambda p: (order_key(p.department), order_key(p.grade))):
        cells[(p.department, p.grade)][0] += p.invited
        cells[(p.department, p.grade)][1] += p.responded
    counts = {key: n for key, (_, n) in cells.items()}
    show_grades = not anonymity.linked_breakdown_risks(counts, k)
    for dim, pick in (("department", 0), ("grade", 1)):
        if dim == "grade" and not show_grades:
            continue
        groups: dict = defaultdict(lambda: [0, 0])
        for key, (i, n) in cells.items():
            groups[key[pick]][0] += i
            groups[key[pick]][1] += n
        counts_1d = {g: groups[g][1] for g in sorted(groups, key=order_key)}
        hidden = anonymity.suppress_breakdown(counts_1d, k)
        for g, (i, n) in sorted(groups.items(), key=lambda kv: order_key(kv[0])):
            label = _dept_label(g) if dim == "department" else _grade_label(g)
            row = _blank(period, f"response rate by {dim}", **{dim: label})
            shown = g not in hidden
            row["invited"] = i if shown else ""
            out.append(_figure(row, n, k, 100 * n / max(i, 1), None, "% responded", shown))
    if anonymity.cross_breakdown_allowed(counts, k) and len({d for d, _ in cells}) > 1:
        for (d, g), (i, n) in cells.items():
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
    """Each item by department and by grade, with complementary suppression per breakdown."""
    out = []
    for st in sorted(mine, key=lambda st: (infos[st.version_id].theme, infos[st.version_id].key)):
        info = infos[st.version_id]
        risky = anonymity.linked_breakdown_risks(
            _ordered_cross(cross.get((st.round_id, st.version_id), {})), k
        )
        for dim in ("department", "grade"):
            if dim == "grade" and risky:
                continue
            cells = {x.segment: x.stats for x in segs[dim] if x.stats.version_id == st.version_id}
            if not cells:
                continue
            hidden = hidden_cells({g: c.n for g, c in cells.items()}, st.n, k)
            rest = st.n - sum(c.n for c in cells.values())
            for g in sorted(cells, key=order_key):
                label = names.get(g, str(g)) if dim == "department" else _grade_label(g)
                row = _item_row(period, f"item by {dim}", info, **{dim: label})
                value, ci, unit = item_figure(info, cells[g])
                out.append(_figure(row, cells[g].n, k, value, ci, unit, g not in hidden))
            if rest > 0:  # derivable as the total minus the cells, so it is a cell too
                label = NO_DEPARTMENT if dim == "department" else NO_GRADE
                row = _item_row(period, f"item by {dim}", info, **{dim: label})
                others = _minus(st, list(cells.values()))
                value, ci, unit = item_figure(info, others)
                out.append(_figure(row, rest, k, value, ci, unit, UNRECORDED not in hidden))
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


def _ordered_cross(cells: dict[tuple, int]) -> dict[tuple, int]:
    """The cross in the fixed breakdown order, so the risk check sees the suppression shown."""
    return {
        key: cells[key]
        for key in sorted(cells, key=lambda key: (order_key(key[0]), order_key(key[1])))
    }


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
    with core.db.Session() as s:
        return (
            s.scalar(
                select(Round.id)
                .where(Round.workspace_id == workspace_id, Round.status == "closed")
                .limit(1)
            )
            is not None
        )
