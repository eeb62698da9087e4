"""CSV export of the k-protected aggregates: by period, theme, item, department and grade.

Only figures the summary could show leave this module: every row passes the minimum group size,
and the department and grade breakdowns carry complementary suppression.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from sqlalchemy import func, select

from bot import stats
from bot.core import Core
from bot.summary import on_0_100
from storage import anonymity, queries
from storage.models import Department, Response, Round

COLUMNS = [
    "period",
    "level",
    "theme",
    "item",
    "question",
    "department",
    "grade",
    "n",
    "score",
    "ci_low",
    "ci_high",
    "unit",
]


def _row(
    period, level, theme, item, text, dept, grade, n, mean: stats.Mean | None, k, unit="0-100"
) -> dict:
    row = {
        "period": period,
        "level": level,
        "theme": theme,
        "item": item,
        "question": text,
        "department": dept,
        "grade": grade,
        "unit": unit,
    }
    if n < k or mean is None or mean.estimate is None:
        return {**row, "n": anonymity.k_label(k), "score": "", "ci_low": "", "ci_high": ""}
    ci = mean.ci()
    return {
        **row,
        "n": n,
        "score": f"{mean.estimate:.1f}",
        "ci_low": f"{ci.lo:.1f}" if ci else "",
        "ci_high": f"{ci.hi:.1f}" if ci else "",
    }


def rows(core: Core, workspace_id: int, periods: int = 12) -> list[dict]:
    k = core.k
    out: list[dict] = []
    with core.db.Session() as s:
        rounds = queries.closed_periods(s, workspace_id, periods)
        ids = [r.round_id for r in rounds]
        stats_all = queries.item_stats(s, ids)
        infos = queries.versions(s, {st.version_id for st in stats_all})
        segments = _segment_stats(s, ids)
    label = {r.round_id: r.start.isoformat() for r in rounds}
    themes: dict[tuple[int, str], list[stats.Mean]] = defaultdict(list)
    for st in stats_all:
        info = infos[st.version_id]
        m = on_0_100(info, st)
        out.append(
            _row(label[st.round_id], "item", info.theme, info.key, info.text, "", "", st.n, m, k)
        )
        if not info.headline:
            themes[(st.round_id, info.theme)].append(m)
    for (rid, theme), parts in sorted(themes.items()):
        pooled = stats.pool_means(parts)
        out.append(_row(label[rid], "theme", theme, "", "", "", "", pooled.n, pooled, k))
    out += _breakdown_rows(segments, label, infos, k)
    return out


def _segment_stats(s, ids):
    """Per round, dimension and segment: the theme-free pooled 0-100 sums of all answers."""
    out = []
    for dim, col in (("department", Department.name), ("grade", Response.grade)):
        q = (
            select(
                Response.round_id,
                Response.version_id,
                col,
                func.count(),
                func.sum(Response.value),
                func.sum(Response.value * Response.value),
            )
            .where(Response.round_id.in_(ids), col.is_not(None))
            .group_by(Response.round_id, Response.version_id, col)
        )
        if dim == "department":
            q = q.join(Department, Department.id == Response.department_id)
        out += [(dim, *r) for r in s.execute(q)]
    return out


def _breakdown_rows(segments, label, infos, k) -> list[dict]:
    """The headline per department and per grade, with complementary suppression per breakdown."""
    out = []
    by: dict[tuple[int, str], dict[str, stats.Mean]] = defaultdict(dict)
    for dim, rid, vid, seg, n, total, total_sq in segments:
        info = infos.get(vid)
        if info is None or not info.headline:
            continue
        by[(rid, dim)][seg] = stats.Mean(n, float(total or 0), float(total_sq or 0))
    for (rid, dim), cells in sorted(by.items()):
        hidden = anonymity.suppress_breakdown({seg: m.n for seg, m in cells.items()}, k)
        for seg, m in sorted(cells.items()):
            mean = None if seg in hidden else m
            n = m.n if seg not in hidden else 0
            dept, grade = (seg, "") if dim == "department" else ("", seg)
            out.append(
                _row(
                    label[rid],
                    f"headline by {dim}",
                    "",
                    "headline-engagement",
                    "",
                    dept,
                    grade,
                    n,
                    mean,
                    k,
                    unit="0-10",
                )
            )
    return out


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
