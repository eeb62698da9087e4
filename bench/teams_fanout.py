"""Benchmark: one round to every member of a Teams team through the real app and outbox, against
the fake Bot Connector with a per-tenant limit, latency and faults; then tap-to-card latency.

The path is the product's: the app (``build_core`` + ``build_wsgi`` from the TEAMS_* settings)
is installed in a team of N doctors with a signed activity (the roster is read page by page and
becomes the audience), an admin's signed ``send now`` creates the round, and the delivery worker
(the core's ``DeliveryWorker``, the same outbox as Slack's) sends each
doctor a pulse card through ``TeamsGateway.send_dm`` (1:1 created on first use, at most once per
tag), every call paced by one ``TenantPacer``. The fake answers each call after ``--latency``
seconds, throttles the tenant with a token bucket at ``--rate`` calls a second (429 with
Retry-After), refuses 2% of sends with 503 before posting (retried) and fails 0.2% of all calls
with 504 *after* their effect (a lost reply: a create is repeated and Teams returns the same 1:1;
a send is uncertain and never repeated).

Printed: connector calls a second the limit admitted (429s do not count), over the permitted rate
(target >= 0.9; from the fake's own log, first to last call of the fan-out); outcomes; pulses per
doctor (target: exactly one each); then ``--taps`` signed answer taps sent open-loop at
``--tap-rate`` a second to /api/messages, and the latency from request to the invoke's reply
(p50, p95, p99).

    python bench/teams_fanout.py                   # 2,000 doctors, 25 calls/s, 150 ms
    python bench/teams_fanout.py --doctors 10000   # the issue's size (about 14 minutes)
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bot.delivery.outbox import DeliveryWorker  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from server.runtime import build_core, build_wsgi  # noqa: E402
from server.web import HttpServer  # noqa: E402
from simulator.fake_teams import FakeTeams, answer_buttons  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Delivery  # noqa: E402


def _fan_out(fake, core, url, doctors, admin, team, threads: int) -> tuple[float, dict]:
    """Install, send now, run the outbox until nothing is pending; (elapsed, outcomes)."""
    fake.post(url, fake.installed_activity(team, by=admin), timeout=600)
    fake.post(url, fake.message(admin, "send now", team=team), timeout=600)
    worker = DeliveryWorker(core, concurrency=threads, backoff=0.05)
    stop = threading.Event()
    started = time.monotonic()
    thread = threading.Thread(target=worker.run_forever, args=(stop, 0.2), daemon=True)
    thread.start()
    while True:
        with core.db.Session() as s:
            left = s.scalar(
                select(func.count(Delivery.id)).where(Delivery.status.in_(("pending", "sending")))
            )
        if not left:
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    stop.set()
    thread.join()
    worker.shutdown()
    with core.db.Session() as s:
        outcomes = dict(
            s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
    return elapsed, outcomes


def _pulse_cards(fake) -> dict[str, list]:
    """User ID -> the pulse cards in their 1:1 (read once: the fake looks chats up one by one)."""
    out: dict[str, list] = {}
    for conv in list(fake.conversations.values()):
        if conv.user_id is None:
            continue
        out[conv.user_id] = [
            a for a in conv.activities.values() if not a.deleted and "answer" in str(a.payload)
        ]
    return out


def _taps(fake, url, doctors, n: int, rate: float) -> list[float]:
    """``n`` answer taps, open loop at ``rate`` a second; each one's seconds to its reply."""
    rng = random.Random(5)
    cards = []
    sent = _pulse_cards(fake)
    for d in rng.sample(doctors, min(n, len(doctors))):
        [msg] = sent[d.id]
        card = msg.payload["attachments"][0]["content"]
        buttons = answer_buttons(card)
        cards.append(fake.card_action(d, "answer", rng.choice(buttons)["data"], msg.id))
    latencies: list[float] = []
    lock = threading.Lock()

    def tap(activity):
        t0 = time.perf_counter()
        resp = fake.post(url, activity, timeout=60)
        took = time.perf_counter() - t0
        assert resp.status_code == 200 and "Recorded" in resp.json()["value"], resp.text
        with lock:
            latencies.append(took)

    start = time.perf_counter()
    with ThreadPoolExecutor(64) as pool:
        for i, activity in enumerate(cards):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(tap, activity)
    return sorted(latencies)


def _pct(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--doctors", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=25.0, help="permitted calls/s for the tenant")
    ap.add_argument("--latency", type=float, default=0.15)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--taps", type=int, default=1000)
    ap.add_argument("--tap-rate", type=float, default=50.0)
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="medpulse-teams-bench-"))
    try:
        return _run(args, f"sqlite:///{tmp / 'bench.db'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(args, db_url: str) -> int:
    upgrade(db_url)
    with FakeTeams() as fake:
        admin = fake.add_user("Dr Admin")
        doctors = [fake.add_user() for _ in range(args.doctors - 1)]
        team = fake.add_team("Trust doctors", [admin, *doctors])
        fake.install(team)
        settings = load_settings(
            _env_file=None, DATABASE_URL=db_url, TEAMS_TENANT_RATE=args.rate, **fake.env()
        )
        core = build_core(settings)
        server = HttpServer(build_wsgi(core), host="127.0.0.1", port=0, threads=16).start()
        url = f"{server.url}/api/messages"
        fake.latency = args.latency
        fake.rate_limit(args.rate, burst=args.rate)
        fake.error_rate("send", 503, 0.02, seed=1)
        fake.error_rate("*", 504, 0.002, seed=2, after_effect=True)
        print(
            f"Teams fan-out to {args.doctors:,} doctors through the app and outbox · fake Bot "
            f"Connector {args.latency * 1000:.0f} ms latency, {args.rate:g} calls/s per tenant, "
            f"2% 503 on send before posting, 0.2% 504 after the effect · {args.threads} sending "
            f"threads, one TenantPacer at {args.rate:g}/s"
        )
        mark = len(fake.calls)
        elapsed, outcomes = _fan_out(fake, core, url, doctors, admin, team, args.threads)
        # The fan-out proper: from the first 1:1 created (after the install, the roster sync
        # and the two replies in the channel) to the last card sent.
        log = fake.calls[mark:]
        first = next(i for i, c in enumerate(log) if c.op == "create_conversation")
        calls = [c for c in log[first:] if c.op in ("create_conversation", "send")]
        admitted = [c for c in calls if c.status != 429]
        span = calls[-1].time - calls[0].time
        achieved = len(admitted) / span
        statuses = Counter(c.status for c in calls)
        kinds = Counter(c.op for c in calls)
        everyone = [admin, *doctors]
        cards = _pulse_cards(fake)
        per_doctor = Counter(len(cards.get(d.id, [])) for d in everyone)
        print(
            f"  {len(calls):,} create/send calls in {span:.1f} s ({dict(kinds)}); wall {elapsed:.1f} s"
        )
        print(
            f"  achieved {achieved:.1f} calls/s ÷ permitted {args.rate:g}/s = "
            f"{achieved / args.rate:.2f} · target >= 0.90"
        )
        print(f"  replies: {dict(sorted(statuses.items()))}")
        print(f"  outbox: {outcomes}")
        print(
            f"  pulse cards per doctor: {dict(sorted(per_doctor.items()))}; "
            f"exactly one each: {'yes' if set(per_doctor) == {1} else 'NO'}"
        )
        fake.error_rate("send", 503, 0)
        fake.error_rate("*", 504, 0)
        lat = _taps(fake, url, doctors, args.taps, args.tap_rate)
        print(
            f"  {len(lat)} taps at {args.tap_rate:g}/s: tap-to-card p50 {_pct(lat, 0.5) * 1000:.0f} ms,"
            f" p95 {_pct(lat, 0.95) * 1000:.0f} ms, p99 {_pct(lat, 0.99) * 1000:.0f} ms"
        )
        server.stop()
        core.db.dispose()
    ok = set(per_doctor) == {1} and achieved / args.rate >= 0.9
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
