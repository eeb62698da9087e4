"""Benchmark: one round to 10,000 doctors against the fake Slack with 150 ms latency, a 50/s
rate limit on chat.postMessage and 2% injected 503s that come after Slack delivered (the hard
case: the reply is lost, a blind resend would be a duplicate).

The real path: settings -> migrations -> audience sync from the fake's channel -> a manual round
with its outbox -> a `medpulse worker` SUBPROCESS sending until every delivery is `sent` (polled
in the database). Printed: the achieved send rate against the permitted 50/s (target >= 0.9,
overall and after the first 10 s), the duration against the ideal, the 429s and 503s met,
exactly one DM per doctor, and the worker's peak memory (VmHWM from /proc).

    python bench/fanout.py                 # 10,000 doctors, SQLite file in a temp dir
    python bench/fanout.py --doctors 2000  # quicker
    python bench/fanout.py --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    MEDPULSE,
    TOKEN,
    child_env,
    db_label,
    delivery_counts,
    dms_per_doctor,
    open_round,
    proc_memory_mb,
)

RATE = 50.0
LATENCY = 0.15
ERRORS = 0.02
RAMP = 10.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--doctors", type=int, default=10_000)
    ap.add_argument("--db", help="PostgreSQL server URL (a throwaway database is made and dropped)")
    ap.add_argument(
        "--concurrency", type=int, default=16, help="MEDPULSE_SEND_CONCURRENCY for the worker"
    )
    args = ap.parse_args(argv)

    from simulator.fake_slack import FakeSlack
    from storage.migrate import upgrade
    from storage.scratch import scratch_database

    url, drop = scratch_database(args.db, "medpulse_fanout")
    log_path = Path(tempfile.mkdtemp()) / "worker.log"
    try:
        upgrade(url)
        with FakeSlack(bot_token=TOKEN) as fake:
            core, ids, rnd, setup_s = open_round(fake, url, args.doctors, prefix="UF")
            fake.latency = LATENCY
            fake.rate_limit("chat.postMessage", RATE)
            fake.error_rate(
                "chat.postMessage", status=503, rate=ERRORS, seed=5, error_after_effect=True
            )
            env = child_env(fake, url, MEDPULSE_SEND_CONCURRENCY=str(args.concurrency))
            deadline = 3 * args.doctors / RATE + 120
            with open(log_path, "wb") as log:
                spawned = time.time()
                worker = subprocess.Popen(
                    [MEDPULSE, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
                )
                peak = rss = 0.0
                counts: dict[str, int] = {}
                try:
                    while True:
                        hwm, now_rss = proc_memory_mb(worker.pid)
                        peak, rss = max(peak, hwm), max(rss, now_rss)
                        counts = delivery_counts(core)
                        elapsed = time.time() - spawned
                        if counts.get("sent", 0) >= rnd.invited or elapsed > deadline:
                            break
                        if worker.poll() is not None:
                            break
                        time.sleep(0.5)
                    done_at = time.time()
                    hwm, _ = proc_memory_mb(worker.pid)
                    peak = max(peak, hwm)
                finally:
                    worker.send_signal(signal.SIGTERM)
                    try:
                        worker.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        worker.kill()
                        worker.wait()
            posts = fake.calls_to("chat.postMessage")
            lookups = len(fake.calls_to("conversations.history"))
            per_doctor = dms_per_doctor(fake)
        core.db.dispose()
    finally:
        drop()

    statuses = Counter(c.status for c in posts)
    lost_replies = sum(1 for c in posts if c.status == 503 and c.effect)
    delivered = sorted(c.time for c in posts if c.effect)
    first, last = (delivered[0], delivered[-1]) if delivered else (spawned, spawned)
    window = max(last - first, 1e-9)
    overall = len(delivered) / window
    steady_n = sum(1 for t in delivered if t >= first + RAMP)
    steady = steady_n / max(last - (first + RAMP), 1e-9) if window > 2 * RAMP else float("nan")
    wall = done_at - spawned
    sent = counts.get("sent", 0)
    exactly_once = (
        sent == args.doctors and set(per_doctor) == set(ids) and set(per_doctor.values()) == {1}
    )
    dupes = sum(1 for n in per_doctor.values() if n > 1)
    missing = len(set(ids) - set(per_doctor))
    ideal = args.doctors / RATE

    print(
        f"fan-out to {args.doctors:,} doctors · fake Slack {LATENCY * 1000:.0f} ms latency, "
        f"{RATE:.0f} msg/s limit, {ERRORS:.0%} 503s after delivery · {db_label(args.db)} · "
        f"`medpulse worker` subprocess, {args.concurrency} send threads"
    )
    print(f"  setup (audience sync + round + outbox, not timed below): {setup_s:.1f} s")
    print(
        f"  all {sent:,} deliveries `sent` {wall:.1f} s after the worker was started "
        f"(first DM at +{first - spawned:.1f} s, last at +{last - spawned:.1f} s); "
        f"ideal at {RATE:.0f}/s: {ideal:.0f} s"
    )
    print(
        f"  achieved {overall:.1f} DMs/s ÷ permitted {RATE:.0f}/s = {overall / RATE:.2f} overall "
        f"(first to last DM); {steady / RATE:.2f} steady state after the first {RAMP:.0f} s; "
        f"{sent / wall / RATE:.2f} counting process start-up  · target >= 0.90"
    )
    print(
        f"  chat.postMessage replies: {dict(sorted(statuses.items()))} "
        f"({statuses.get(429, 0)} × 429, {statuses.get(503, 0)} × 503 of which {lost_replies} "
        f"after delivery); conversations.history look-ups before resending: {lookups}"
    )
    print(
        f"  exactly one DM per doctor: {'yes' if exactly_once else 'NO'} "
        f"({len(per_doctor):,} of {args.doctors:,} doctors got one; {dupes} duplicates, "
        f"{missing} missing; database: {counts})"
    )
    print(
        f"  peak RSS of `medpulse worker` (VmHWM): {peak:.0f} MB (largest VmRSS seen {rss:.0f} MB)"
    )
    if worker.returncode not in (0, -signal.SIGTERM):
        print(f"  worker exited {worker.returncode}; log: {log_path}")
    if not exactly_once:
        print(f"  worker log: {log_path}")
    return 0 if exactly_once else 1


if __name__ == "__main__":
    raise SystemExit(main())
