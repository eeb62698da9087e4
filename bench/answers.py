"""Benchmark: doctors tapping answers over HTTP, beside a bare Bolt app that only acks.

Both apps run as their own process (own GIL) behind waitress with the same thread count, and
receive the same correctly signed block_actions. The medpulse side is a real `medpulse web`
subprocess; its taps are real answers to a real open round (300 doctors, delivered through the
outbox to the fake Slack first, buttons taken from the messages the fake holds). The bare side is
slack_bolt.App with one `@app.action(re.compile(".*"))` listener that only acks, wrapped by
slack_bolt.adapter.wsgi.SlackRequestHandler.

Phase A, fixed offered load (default 50 taps/s for 20 s, open loop): p50 / p99 ack latency,
measured from each tap's scheduled time (target p99 < 150 ms). Phase B, closed loop (16
concurrent clients for 15 s): taps per second, and medpulse ÷ bare (target >= 0.7).

    python bench/answers.py [--rate 50] [--seconds 20] [--clients 16] [--closed-seconds 15]
    python bench/answers.py --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    MEDPULSE,
    SECRET,
    TOKEN,
    child_env,
    cpu_seconds,
    db_label,
    free_port,
    open_round,
    percentile_ms,
    wait_up,
)

DOCTORS = 300
THREADS = 8  # waitress threads for both apps (medpulse's WEB_THREADS default)

BARE_APP = """
import re, sys
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress import serve
app = App(signing_secret=sys.argv[2], client=WebClient(token="xoxb-bare", base_url=sys.argv[3]),
          token_verification_enabled=False)
@app.action(re.compile(".*"))
def only_ack(ack):
    ack()
serve(SlackRequestHandler(app), host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[4]),
      _quiet=True)
"""


class _Bodies:
    """Signed block_actions bodies, built once so the load generator spends its CPU on sending."""

    def __init__(self, fake, doctors: list[str]) -> None:
        from simulator.slack_requests import SlackSender
        from tests.helpers import answer_buttons, pulse_message

        class Capture(SlackSender):
            def _post(self, body, content_type, **_):
                return body, content_type

        sender = Capture(
            "http://unused/", SECRET, team_id=fake.team_id, response_url_base=fake.response_url_base
        )
        self.sender = sender
        self.bodies: list[tuple[bytes, str]] = []
        for uid in doctors:
            msg = pulse_message(fake, uid)
            api = msg.to_api()
            for buttons in answer_buttons(msg):
                for btn in buttons:
                    self.bodies.append(
                        sender.block_action(uid, btn["action_id"], btn["value"], message=api)
                    )
        self.sign()

    def sign(self) -> None:
        """(Re)sign every body with a fresh timestamp (Slack's window is 5 minutes)."""
        ts = int(time.time())
        self.signed = [
            (body, {"Content-Type": ctype, **self.sender.signed_headers(body, ts)})
            for body, ctype in self.bodies
        ]


def _drained(fake, quiet: float = 1.0, limit: float = 60.0) -> float:
    """Seconds until the fake Slack saw no new response-URL POST for ``quiet`` seconds (the
    redraws of the taps just sent have all landed), not counting that quiet second."""
    start = last_change = time.perf_counter()
    seen = len(fake.calls_to("response_url"))
    while time.perf_counter() - last_change < quiet and time.perf_counter() - start < limit:
        time.sleep(0.05)
        now = len(fake.calls_to("response_url"))
        if now != seen:
            seen, last_change = now, time.perf_counter()
    return last_change - start


def _tap(port: int, body: bytes, headers: dict) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/slack/events", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return 0
    finally:
        conn.close()


def _fixed_load(port, taps, rate: float, seconds: float) -> tuple[list[float], int]:
    """Open loop: tap i is due at start + i/rate whatever happened to the others; latency is
    from that due time to the reply, so a stalled server cannot hide its queue."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    rng = random.Random(1)

    def one(due, tap):
        status = _tap(port, *tap)
        dt = time.perf_counter() - due
        with lock:
            if status == 200:
                latencies.append(dt)
            else:
                errors[0] += 1

    with ThreadPoolExecutor(64) as pool:
        start = time.perf_counter() + 0.05
        for i in range(int(rate * seconds)):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, due, rng.choice(taps))
    return latencies, errors[0]


def _closed_loop(port, taps, clients: int, seconds: float) -> tuple[float, int]:
    done = [0] * clients
    errors = [0] * clients
    stop = time.perf_counter() + seconds

    def client(i):
        rng = random.Random(100 + i)
        while time.perf_counter() < stop:
            if _tap(port, *rng.choice(taps)) == 200:
                done[i] += 1
            else:
                errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - start), sum(errors)


def _answers_stored(core) -> tuple[int, int]:
    from sqlalchemy import func, select

    from bot.rounds import answers
    from storage.models import Response

    with core.db.Session() as s:
        rows = s.execute(answers.asked_rows(select(*answers.ASKED_COLUMNS))).all()
        return (
            s.scalar(select(func.count()).select_from(Response)),
            len(answers.answered(core, s, [answers.Asked(*r) for r in rows])),
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--closed-seconds", type=float, default=15.0)
    ap.add_argument(
        "--redraw-latency",
        type=float,
        default=0.1,
        help="seconds the fake Slack takes per response-URL POST (real Slack: ~0.05-0.3)",
    )
    ap.add_argument("--db", help="PostgreSQL server URL (a throwaway database is made and dropped)")
    args = ap.parse_args(argv)

    from bot.delivery.outbox import DeliveryWorker
    from simulator.fake_slack import FakeSlack
    from storage.migrate import upgrade
    from storage.scratch import scratch_database

    url, drop = scratch_database(args.db, "medpulse_answers")
    logs = Path(tempfile.mkdtemp())
    procs: list[subprocess.Popen] = []
    results: dict[str, dict] = {}
    try:
        upgrade(url)
        with FakeSlack(bot_token=TOKEN) as fake:
            core, doctors, rnd, _ = open_round(fake, url, DOCTORS, prefix="UA")
            worker = DeliveryWorker(core, concurrency=16)
            while worker.run_once():
                pass
            worker.shutdown()
            taps = _Bodies(fake, doctors)
            fake.method_latency["response_url"] = args.redraw_latency
            med_port, bare_port = free_port(), free_port()
            env = child_env(fake, url, PORT=str(med_port), WEB_THREADS=str(THREADS))
            with open(logs / "web.log", "wb") as wlog, open(logs / "bare.log", "wb") as blog:
                procs.append(
                    subprocess.Popen(
                        [MEDPULSE, "web"], env=env, stdout=wlog, stderr=subprocess.STDOUT
                    )
                )
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-c",
                            BARE_APP,
                            str(bare_port),
                            SECRET,
                            fake.api_url,
                            str(THREADS),
                        ],
                        stdout=blog,
                        stderr=subprocess.STDOUT,
                    )
                )
            apps = (("medpulse", med_port, procs[0].pid), ("bare Bolt", bare_port, procs[1].pid))
            try:
                wait_up(f"http://127.0.0.1:{med_port}/healthz")
                wait_up(f"http://127.0.0.1:{bare_port}/")
                for name, port, _ in apps:  # warm up: imports, connections, first queries
                    _closed_loop(port, taps.signed, 4, 2.0)
                    results[name] = {}
                updates_before = len(fake.calls_to("response_url"))
                for name, port, pid in apps:
                    taps.sign()
                    cpu = cpu_seconds(pid)
                    lat, err = _fixed_load(port, taps.signed, args.rate, args.seconds)
                    drain = _drained(fake)  # medpulse's redraws finish before the next phase
                    results[name].update(
                        lat=lat, lat_err=err, cpu_a=cpu_seconds(pid) - cpu, drain_a=drain
                    )
                for name, port, pid in apps:
                    taps.sign()
                    cpu = cpu_seconds(pid)
                    tput, err = _closed_loop(port, taps.signed, args.clients, args.closed_seconds)
                    drain = _drained(fake)
                    results[name].update(
                        tput=tput, tput_err=err, cpu_b=cpu_seconds(pid) - cpu, drain_b=drain
                    )
                updates = len(fake.calls_to("response_url")) - updates_before
            finally:
                for p in procs:
                    p.send_signal(signal.SIGTERM)
                for p in procs:
                    try:
                        p.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        p.kill()
            stored, answered = _answers_stored(core)
            core.db.dispose()
    finally:
        drop()

    med, bare = results["medpulse"], results["bare Bolt"]
    print(
        f"answer taps over HTTP (signed block_actions) · waitress {THREADS} threads per app, "
        f"each app its own process · {db_label(args.db)} · {os.cpu_count()} cores"
    )
    print(
        f"  {len(taps.bodies):,} distinct answer buttons of {DOCTORS} doctors' delivered pulses "
        f"(round {rnd.round_id})"
    )
    print(
        f"  phase A: {args.rate:.0f} taps/s offered for {args.seconds:.0f} s (open loop) · "
        f"phase B: {args.clients} clients back to back for {args.closed_seconds:.0f} s"
    )
    print(
        f"  {'':10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'ok':>6} {'err':>4} "
        f"{'taps/s':>8} {'err':>4} {'server CPU ms/tap (A, B)':>25}"
    )
    for name, r in results.items():
        lat = r["lat"]
        print(
            f"  {name:10} {percentile_ms(lat, 50):8.1f} {percentile_ms(lat, 99):8.1f} "
            f"{max(lat, default=0) * 1000:8.1f} {len(lat):6d} {r['lat_err']:4d} "
            f"{r['tput']:8.1f} {r['tput_err']:4d} "
            f"{r['cpu_a'] * 1000 / max(len(lat), 1):>15.1f} "
            f"{r['cpu_b'] * 1000 / max(r['tput'] * args.closed_seconds, 1):>9.1f}"
        )
    p99 = percentile_ms(med["lat"], 99)
    ratio = med["tput"] / bare["tput"]
    print(
        f"  medpulse p99 at {args.rate:.0f} taps/s: {p99:.0f} ms (target < 150 ms: "
        f"{'met' if p99 < 150 else 'MISSED'})"
    )
    print(
        f"  throughput medpulse ÷ bare Bolt: {ratio:.3f} (target >= 0.70: "
        f"{'met' if ratio >= 0.7 else 'MISSED'})"
    )
    print(
        f"  work behind the medpulse taps: {updates:,} ephemeral notes through response URLs at "
        "the fake "
        f"Slack ({args.redraw_latency * 1000:.0f} ms each); {stored:,} answer rows stored, "
        f"{answered}/{DOCTORS} doctors with a stored answer (derived from the links)"
    )
    print(
        f"  notes all landed {med['drain_a']:.1f} s (A) and {med['drain_b']:.1f} s (B) after "
        "the last tap; server CPU per tap includes them"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
