"""Benchmark: one round to 10,000 doctors against the fake Slack with 150 ms latency, a 50/s
rate limit and 2% injected 503s (half after Slack already delivered: the hard case).

The real path: settings -> migrations -> audience sync from the fake's channel -> a round with its
outbox -> a `medpulse worker` SUBPROCESS sending until every delivery is recorded. Printed side by
side: the achieved send rate against the permitted 50/s (target >= 0.9), the ideal duration, the
429s and 503s met, exactly one DM per doctor, and the worker's peak memory.

    python bench/fanout.py                 # 10,000 doctors, SQLite
    python bench/fanout.py --doctors 2000  # quicker
    python bench/fanout.py --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE = 50.0
SECRET = "bench-secret"
TOKEN = "xoxb-bench"


def _peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _sent(core) -> int:
    from sqlalchemy import func, select

    from storage.models import Delivery

    with core.db.Session() as s:
        return s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--doctors", type=int, default=10_000)
    ap.add_argument(
        "--db", help="PostgreSQL server URL (a throwaway database is made); default SQLite"
    )
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args(argv)

    from bot.admin import set_audience
    from bot.clock import SystemClock
    from bot.fake_slack import FakeSlack
    from bot.rounds import create_round
    from bot.runtime import build_core
    from bot.settings import load_settings
    from bot.workspaces import ensure_team
    from storage.migrate import upgrade
    from storage.scratch import scratch_database

    url, drop = scratch_database(args.db, "medpulse_bench")
    upgrade(url)
    with FakeSlack(bot_token=TOKEN) as fake:
        ids = [f"UF{i:06d}" for i in range(args.doctors)]
        for uid in ids:
            fake.add_user(uid)
        fake.add_user("UADMIN1")
        fake.add_channel("C0DOCTORS", "doctors", members=ids)
        settings = load_settings(
            _env_file=None,
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
            DATABASE_URL=url,
            MEDPULSE_ADMINS="UADMIN1",
        )
        core = build_core(settings, clock=SystemClock())
        ensure_team(core, fake.team_id)
        t0 = time.perf_counter()
        aid = set_audience(core, fake.team_id, "UADMIN1", "C0DOCTORS", "doctors").audience_id
        rnd = create_round(core, aid, "manual:bench", manual=True)
        setup_s = time.perf_counter() - t0
        fake.latency = 0.15
        fake.rate_limit("chat.postMessage", RATE)
        fake.error_rate("chat.postMessage", status=503, rate=0.02, seed=5, error_after_effect=True)
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SLACK_", "MEDPULSE_", "DATABASE_URL"))
            },
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "DATABASE_URL": url,
            "MEDPULSE_SEND_CONCURRENCY": str(args.concurrency),
        }
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "medpulse"), "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        start = time.perf_counter()
        samples = []
        peak = 0.0
        try:
            while True:
                sent = _sent(core)
                now = time.perf_counter() - start
                samples.append((now, sent))
                peak = max(peak, _peak_rss_mb(worker.pid))
                if sent >= rnd.invited or now > 3 * args.doctors / RATE + 120:
                    break
                time.sleep(1.0)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        duration = samples[-1][0]
        per_user = collections.Counter(
            c.response["channel"]
            for c in fake.calls_to("chat.postMessage")
            if c.effect and c.response
        )
        statuses = collections.Counter(c.status for c in fake.calls_to("chat.postMessage"))
    core.db.dispose()
    drop()
    achieved = samples[-1][1] / duration
    after = [(t, n) for t, n in samples if t >= 10]
    steady = (
        (after[-1][1] - after[0][1]) / (after[-1][0] - after[0][0])
        if len(after) > 1 and after[-1][0] > after[0][0]
        else achieved
    )
    exactly_once = len(per_user) == args.doctors and set(per_user.values()) == {1}
    print(
        f"fan-out to {args.doctors:,} doctors · fake Slack 150 ms latency, {RATE:.0f} msg/s limit, 2% 503s ({'PostgreSQL' if args.db else 'SQLite'})"
    )
    print(f"  setup (audience sync + round + outbox): {setup_s:.1f} s")
    print(
        f"  sent {samples[-1][1]:,} in {duration:.0f} s   vs ideal {args.doctors / RATE:.0f} s at the permitted rate"
    )
    print(
        f"  achieved rate {achieved:.1f}/s ÷ permitted {RATE:.0f}/s = {achieved / RATE:.2f}  (steady state after 10 s: {steady / RATE:.2f})  target >= 0.90"
    )
    print(f"  Slack answers: {dict(sorted(statuses.items()))}")
    print(
        f"  exactly one DM per doctor: {'yes' if exactly_once else 'NO'} ({len(per_user):,} doctors; max {max(per_user.values()) if per_user else 0} per doctor)"
    )
    print(f"  peak RSS of `medpulse worker`: {peak:.0f} MB")
    return 0 if exactly_once else 1


if __name__ == "__main__":
    raise SystemExit(main())
