"""Benchmark: fairness between trusts. Two workspaces share one delivery worker; one (the flooded
trust) has a round of 120 doctors and Slack throttles it hard (2 DMs/s, then 429 with
Retry-After), the other (the quiet trust) starts a round of 6 doctors while the flood is being
throttled. The quiet trust's round time (its round created -> its last DM `sent`) is measured
alone and beside the flood; the target is within 1.5x of alone.

The real path: migrations, two workspaces (each with its own bot token in the fake Slack, 150 ms
latency), audience sync, rounds with their outbox, and the real DeliveryWorker (16 send threads,
one adaptive limiter per workspace) polling the database.

    python bench/fairness.py
    python bench/fairness.py --runs 5
    python bench/fairness.py --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ADMIN, db_label, settings_for  # noqa: E402

QUIET, FLOOD = "T0QUIET", "T0FLOOD"
TOKENS = {QUIET: "xoxb-quiet", FLOOD: "xoxb-flood"}
SIZES = {QUIET: 6, FLOOD: 120}
LATENCY = 0.15
FLOOD_RATE = 2.0  # DMs/s Slack allows the flooded trust; beyond it, 429 Retry-After
TARGET = 1.5


def _trust(fake, core, team: str) -> int:
    """A workspace with its channel of doctors as the audience; returns the audience id."""
    from bot.admin.operations import set_audience
    from bot.people.workspaces import ensure_team

    fake.add_team(team, TOKENS[team], bot_user_id="UBOT" + team[-1], name=team.lower())
    ids = [f"U{team[2]}{i:05d}" for i in range(SIZES[team])]
    for uid in ids:
        fake.add_user(uid, team_id=team)
    fake.add_user(ADMIN, team_id=team)
    fake.add_channel("C" + team, "doctors", members=ids, team_id=team)
    ensure_team(core, team)
    return set_audience(core, team, ADMIN, "C" + team, "doctors").audience_id


def _all_sent(core, round_id: int) -> bool:
    from sqlalchemy import func, select

    from storage.models import Delivery

    with core.db.Session() as s:
        left = s.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.round_id == round_id, Delivery.status != "sent"
            )
        )
    return left == 0


def scenario(server: str | None, flooded: bool) -> dict[str, float]:
    """One run on a fresh database: the quiet trust's round time, with or without the flood."""
    from bot.clock import SystemClock
    from bot.delivery.outbox import DeliveryWorker
    from bot.rounds.lifecycle import create_round
    from server.runtime import GatewayCache, build_core
    from simulator.fake_slack import FakeSlack
    from storage.migrate import upgrade
    from storage.scratch import scratch_database

    url, drop = scratch_database(server, "medpulse_fairness")
    try:
        upgrade(url)
        with FakeSlack(bot_token="xoxb-unused") as fake:
            settings = settings_for(fake, url)
            core = build_core(settings, clock=SystemClock())
            core.gateway_for = GatewayCache(settings, TOKENS.get)
            audiences = {team: _trust(fake, core, team) for team in (FLOOD, QUIET)}
            fake.latency = LATENCY
            fake.rate_limit("chat.postMessage", FLOOD_RATE, burst=2, team_id=FLOOD)
            worker = DeliveryWorker(core, concurrency=settings.send_concurrency, backoff=0.05)
            stop = threading.Event()
            loop = threading.Thread(target=worker.run_forever, args=(stop, 0.05), daemon=True)
            loop.start()
            try:
                # Warm up (connections, limiters, statement caches) in both scenarios alike.
                warm = create_round(core, audiences[QUIET], "manual:warm-up", manual=True)
                while not _all_sent(core, warm.round_id):
                    time.sleep(0.01)
                if flooded:
                    create_round(core, audiences[FLOOD], "manual:flood", manual=True)
                    while not any(c.status == 429 for c in fake.calls_to("chat.postMessage")):
                        time.sleep(0.01)  # the flood is being throttled now
                start = time.perf_counter()
                quiet = create_round(core, audiences[QUIET], "manual:quiet", manual=True)
                while not _all_sent(core, quiet.round_id):
                    time.sleep(0.01)
                took = time.perf_counter() - start
                flood_sent = 0
                if flooded:
                    from bench.common import delivery_counts

                    flood_sent = delivery_counts(core).get("sent", 0) - 2 * SIZES[QUIET]
            finally:
                stop.set()
                loop.join(timeout=120)
                worker.shutdown()
            throttled = sum(1 for c in fake.calls_to("chat.postMessage") if c.status == 429)
            core.db.dispose()
    finally:
        drop()
    return {"quiet_s": took, "throttled": throttled, "flood_sent": flood_sent}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="PostgreSQL server URL (a throwaway database is made and dropped)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each scenario (median reported)")
    args = ap.parse_args(argv)

    alone = [scenario(args.db, flooded=False) for _ in range(args.runs)]
    beside = [scenario(args.db, flooded=True) for _ in range(args.runs)]
    a = statistics.median(r["quiet_s"] for r in alone)
    b = statistics.median(r["quiet_s"] for r in beside)
    ratio = b / a
    print(
        f"fairness between trusts · {db_label(args.db)} · fake Slack {LATENCY * 1000:.0f} ms "
        f"latency · one DeliveryWorker, 16 send threads · median of {args.runs} runs each"
    )
    print(
        f"  quiet trust ({SIZES[QUIET]} DMs) alone: {a:.2f} s  (runs: "
        + ", ".join(f"{r['quiet_s']:.2f}" for r in alone)
        + ")"
    )
    print(
        f"  quiet trust beside a flooded one ({SIZES[FLOOD]} DMs, throttled to {FLOOD_RATE:.0f}/s "
        f"with 429 Retry-After): {b:.2f} s  (runs: "
        + ", ".join(f"{r['quiet_s']:.2f}" for r in beside)
        + ")"
    )
    print(
        f"  ratio {ratio:.3f} · target <= {TARGET} · "
        f"{'met' if ratio <= TARGET else 'NOT met'}; per flooded run, 429s met and the flood's "
        "DMs sent by the time the quiet round was done: "
        + ", ".join(f"{r['throttled']} / {r['flood_sent']}" for r in beside)
    )
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
