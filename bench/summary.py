"""Benchmark: a full summary over 1,000,000 stored answers, aggregated in SQL.

Builds a trust with 12 closed fortnightly periods and N answers (default 1,000,000) in the real
schema, then times `bot.insights.summary.build` (every figure of the weekly summary: item and theme
scores, changes, participation), one department's view, and, beside them in the same run, a pandas `groupby` of the same
rows already in memory (the baseline: what an in-process loop over loaded data would cost at best).

    python bench/summary.py                        # SQLite file in a temp dir
    python bench/summary.py --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    python bench/summary.py --answers 200000       # a quicker run
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _core(url: str):
    from bot.clock import FakeClock
    from bot.settings import load_settings
    from server.runtime import build_core
    from storage.migrate import upgrade

    upgrade(url)
    settings = load_settings(_env_file=None, DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-bench")
    from datetime import UTC, datetime

    return build_core(settings, clock=FakeClock(datetime(2026, 11, 24, 9, tzinfo=UTC)))


def _setup_rounds(core, periods: int):
    """Workspace, departments, closed rounds and their participation; returns ids."""
    from sqlalchemy import select

    from bot.people.workspaces import ensure_team
    from questions.grades import GRADES
    from storage.models import (
        Audience,
        Department,
        QuestionItem,
        QuestionVersion,
        Round,
        RoundParticipation,
    )

    ws = ensure_team(core, "TBENCH")
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        aud = Audience(workspace_id=ws, channel_id="CB", name="b", created_at=now)
        depts = [Department(workspace_id=ws, name=f"Department {i}") for i in range(8)]
        s.add_all([aud, *depts])
        s.flush()
        rounds = []
        for p in range(periods):
            r = Round(
                workspace_id=ws,
                audience_id=aud.id,
                slot_key=f"b{p}",
                status="closed",
                seed=1,
                created_at=now,
                period_start=date(2026, 1, 6) + timedelta(days=14 * p),
                closes_at=now,
                closed_at=now + timedelta(minutes=p),
                invited=2000,
            )
            s.add(r)
            s.flush()
            rounds.append(r.id)
            for d in depts:
                for g in GRADES:
                    s.add(
                        RoundParticipation(
                            round_id=r.id, department_id=d.id, grade=g, invited=60, responded=40
                        )
                    )
        versions = s.execute(
            select(QuestionVersion.id, QuestionItem.scale)
            .join(QuestionItem)
            .where(QuestionItem.workspace_id == ws)
        ).all()
        return ws, rounds, [d.id for d in depts], versions


def _answers(n: int, rounds, depts, versions, seed: int = 1):
    from questions.grades import GRADES

    rng = np.random.default_rng(seed)
    rnd = rng.choice(rounds, n)
    vidx = rng.integers(0, len(versions), n)
    vid = np.array([v for v, _ in versions])[vidx]
    scale = np.array([sc for _, sc in versions])[vidx]
    value = np.where(
        scale == "scale0_10",
        rng.integers(0, 11, n),
        np.where(scale == "agree5", rng.integers(1, 6, n), rng.integers(-1, 2, n)),
    )
    dept = np.array(depts)[rng.integers(0, len(depts), n)]
    grade = np.array(GRADES)[rng.integers(0, len(GRADES), n)]
    return rnd, vid, value, dept, grade


def _load(core, ws, cols) -> float:
    started = time.perf_counter()
    rnd, vid, value, dept, grade = cols
    n = len(rnd)
    ids = [uuid.uuid4().hex for _ in range(n)]
    raw = core.db.engine.raw_connection()
    try:
        cur = raw.cursor()
        if core.db.is_postgres:
            buf = io.StringIO()
            for i in range(n):
                buf.write(
                    f"{ids[i]}\t{ws}\t{rnd[i]}\t{vid[i]}\t{value[i]}\t{dept[i]}\t{grade[i]}\n"
                )
            buf.seek(0)
            with cur.copy(
                "COPY responses (id, workspace_id, round_id, version_id, value, department_id, grade) FROM STDIN"
            ) as copy:
                copy.write(buf.read())
        else:
            rows = zip(
                ids,
                [ws] * n,
                rnd.tolist(),
                vid.tolist(),
                value.tolist(),
                dept.tolist(),
                grade.tolist(),
                strict=True,
            )
            cur.executemany(
                "INSERT INTO responses (id, workspace_id, round_id, version_id, value, department_id, grade) VALUES (?,?,?,?,?,?,?)",
                rows,
            )
        raw.commit()
        if core.db.is_postgres:
            cur.execute("ANALYZE responses")
            raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def _time(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--db", help="PostgreSQL server URL (a throwaway database is made); default SQLite"
    )
    ap.add_argument("--answers", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    import pandas as pd

    from bot.insights import summary
    from storage.scratch import scratch_database

    url, drop = scratch_database(args.db, "medpulse_bench")
    try:
        core = _core(url)
        ws, rounds, depts, versions = _setup_rounds(core, 12)
        cols = _answers(args.answers, rounds, depts, versions)
        load_s = _load(core, ws, cols)
        summary.build(core, ws)  # warm caches, as a running process would be
        sql_s, model = _time(lambda: summary.build(core, ws), args.repeat)
        dept_s, _ = _time(lambda: summary.build(core, ws, "Department 0"), args.repeat)
        rnd, vid, value, dept, grade = cols
        frame = pd.DataFrame(
            {"round_id": rnd, "version_id": vid, "value": value, "department_id": dept}
        )
        frame["sq"] = frame["value"] ** 2
        frame["high"] = (frame["value"] >= 4).astype(int)

        def pandas_groupby():
            return frame.groupby(["round_id", "version_id"]).agg(
                n=("value", "size"),
                total=("value", "sum"),
                total_sq=("sq", "sum"),
                high=("high", "sum"),
            )

        pd_s, grouped = _time(pandas_groupby, args.repeat)
        core.db.dispose()
    finally:
        drop()
    backend = "PostgreSQL" if args.db else "SQLite"
    print(
        f"summary over {args.answers:,} stored answers, 12 periods, {len(versions)} question versions ({backend})"
    )
    print(f"  load (not timed in the ratio): {load_s:.1f} s")
    print(
        f"  medpulse summary.build (SQL GROUP BY + statistics + k-anonymity): {1000 * sql_s:8.1f} ms (median of {args.repeat})"
    )
    print(
        f"  one department's view (adds a GROUP BY department):             {1000 * dept_s:8.1f} ms (median of {args.repeat})"
    )
    print(
        f"  baseline: pandas groupby of the same rows already in memory:   {1000 * pd_s:8.1f} ms (median of {args.repeat})"
    )
    print(
        f"  ratio summary / pandas groupby: {sql_s / pd_s:.2f}   (target: summary well under 1 s)"
    )
    print(
        f"  headline items: {len(model.items)}, themes: {len(model.themes)}, groups: {len(grouped)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
