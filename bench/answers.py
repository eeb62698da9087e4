"""Benchmark: doctors tapping answers over HTTP, beside a bare Bolt app that only acks.

Both apps run in their own `medpulse`-style process behind the same waitress server and thread
count, and receive the same correctly signed block_actions. The medpulse taps are real answers to
a real open round (300 doctors, delivered through the outbox to the fake Slack first).

Phase A, fixed offered load (default 50 taps/s for 20 s): p50 / p99 ack latency (target p99 under
150 ms). Phase B, closed loop with 16 concurrent clients for 15 s: taps per second, and the ratio to
the bare app (target >= 0.7).

    python bench/answers.py
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret"
TOKEN = "xoxb-bench"

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
serve(SlackRequestHandler(app), host="127.0.0.1", port=int(sys.argv[1]), threads=8, _quiet=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # the server answered
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def _taps(fake, doctors: list[str]) -> list[tuple[str, dict, dict]]:
    """Every answer button of every doctor's pulse: (user, button, message)."""
    from tests.helpers import answer_buttons

    out = []
    for uid in doctors:
        call = fake.dms_to(uid)[0]
        msg = fake.message(call.response["channel"], call.response["ts"])
        api = msg.to_api()
        for buttons in answer_buttons(msg):
            for btn in buttons:
                out.append((uid, btn, api))
    return out


def _fixed_load(sender, taps, rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    rng = random.Random(1)

    def one(tap):
        uid, btn, msg = tap
        t = time.perf_counter()
        reply = sender.block_action(uid, btn["action_id"], btn["value"], message=msg)
        dt = time.perf_counter() - t
        if reply.status == 200:
            with lock:
                latencies.append(dt)

    with ThreadPoolExecutor(64) as pool:
        start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            target = start + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, rng.choice(taps))
    return latencies


def _closed_loop(sender, taps, clients: int, seconds: float) -> float:
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def client(i):
        rng = random.Random(i)
        while time.perf_counter() < stop:
            uid, btn, msg = rng.choice(taps)
            if sender.block_action(uid, btn["action_id"], btn["value"], message=msg).status == 200:
                done[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / seconds


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 2 else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args(argv)

    from bot.admin import set_audience
    from bot.clock import SystemClock
    from bot.delivery import DeliveryWorker
    from bot.fake_slack import FakeSlack
    from bot.rounds import create_round
    from bot.runtime import build_core
    from bot.settings import load_settings
    from bot.slack_requests import SlackSender
    from bot.workspaces import ensure_team
    from storage.migrate import upgrade

    db = f"sqlite:///{Path(tempfile.mkdtemp()) / 'answers.db'}"
    upgrade(db)
    procs = []
    with FakeSlack(bot_token=TOKEN) as fake:
        doctors = [f"UA{i:05d}" for i in range(300)]
        for uid in doctors:
            fake.add_user(uid)
        fake.add_channel("C0DOCTORS", "doctors", members=doctors)
        settings = load_settings(
            _env_file=None,
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
            DATABASE_URL=db,
        )
        core = build_core(settings, clock=SystemClock())
        ensure_team(core, fake.team_id)
        aid = set_audience(core, fake.team_id, "UADMIN1", "C0DOCTORS", "doctors").audience_id
        create_round(core, aid, "manual:bench", manual=True)
        worker = DeliveryWorker(core, concurrency=16)
        while worker.run_once():
            pass
        worker.shutdown()
        taps = _taps(fake, doctors)
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SLACK_", "MEDPULSE_", "DATABASE_URL", "PORT"))
            },
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "DATABASE_URL": db,
        }
        med_port, bare_port = _free_port(), _free_port()
        procs.append(
            subprocess.Popen(
                [str(Path(sys.executable).parent / "medpulse"), "web"],
                env={**env, "PORT": str(med_port)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", BARE_APP, str(bare_port), SECRET, fake.api_url],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        try:
            _wait_up(f"http://127.0.0.1:{med_port}/healthz")
            _wait_up(f"http://127.0.0.1:{bare_port}/")
            results = {}
            for name, port in (("medpulse", med_port), ("bare Bolt", bare_port)):
                sender = SlackSender(
                    f"http://127.0.0.1:{port}/slack/events", SECRET, team_id=fake.team_id
                )
                _closed_loop(sender, taps, 4, 2.0)  # warm up
                lat = _fixed_load(sender, taps, args.rate, args.seconds)
                tput = _closed_loop(sender, taps, args.clients, 15.0)
                results[name] = (lat, tput)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=30)
        core.db.dispose()
    print(
        f"answer taps over HTTP (signed block_actions), waitress with 8 threads, {os.cpu_count()} cores"
    )
    print(
        f"  {'':10} {'p50 ms':>8} {'p99 ms':>8} {'taps ok':>8} {'max taps/s':>11}   (phase A: {args.rate:.0f} taps/s for {args.seconds:.0f} s; B: {args.clients} clients)"
    )
    for name, (lat, tput) in results.items():
        print(f"  {name:10} {_pct(lat, 50):8.1f} {_pct(lat, 99):8.1f} {len(lat):8d} {tput:11.1f}")
    med, bare = results["medpulse"], results["bare Bolt"]
    print(f"  medpulse p99 at {args.rate:.0f} taps/s: {_pct(med[0], 99):.0f} ms (target < 150 ms)")
    print(f"  throughput medpulse ÷ bare Bolt: {med[1] / bare[1]:.2f} (target >= 0.70)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
