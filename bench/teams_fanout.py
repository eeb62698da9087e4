"""Benchmark: one pulse to every member of a Teams team, through the Teams gateway, against the
fake Bot Connector with a per-tenant limit, latency and faults.

The path is the adapter's, not yet the core's (the core cannot serve Teams until issue 15):
roster (paged members) -> for each member, on 16 threads: create the 1:1, send the pulse card
(``TeamsGateway.send_pulse``, at most once) under one ``TenantPacer``. The fake answers every
call after ``--latency`` seconds, throttles the tenant with a token bucket at ``--rate`` calls a
second (429 with Retry-After), refuses 2% of sends with 503 before posting (retried), and fails
0.2% of calls with 504 *after* posting (the reply is lost: a send becomes ``uncertain`` and is
not repeated; a create is repeated, Teams returns the same 1:1).

Printed: connector calls a second that the limit admitted (all kinds count against the tenant's
limit; 429s do not) against the permitted rate (target >= 0.9, from the fake's own log, first to last call),
outcomes, the 429s and faults met, and the check that nobody got two pulses.

    python bench/teams_fanout.py                  # 2,000 doctors, 25 calls/s, 150 ms
    python bench/teams_fanout.py --doctors 10000  # the issue's size (about 14 minutes)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrations.msteams.connector import BotConnector, Outcome, TokenSource  # noqa: E402
from integrations.msteams.gateway import TeamsGateway  # noqa: E402
from integrations.msteams.pacer import TenantPacer  # noqa: E402
from simulator.fake_teams import FakeTeams  # noqa: E402

QUESTIONS = [
    {
        "id": f"v{i}",
        "text": text,
        "options": [{"value": str(v), "label": str(v)} for v in range(11)],
    }
    for i, text in enumerate(
        ["How likely are you to recommend this trust as a place to work?", "I feel valued."], 1
    )
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--doctors", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=25.0, help="permitted calls/s for the tenant")
    ap.add_argument("--latency", type=float, default=0.15)
    ap.add_argument("--threads", type=int, default=16)
    args = ap.parse_args(argv)

    with FakeTeams() as fake:
        doctors = [fake.add_user() for _ in range(args.doctors)]
        team = fake.add_team("Trust doctors", doctors, installed=True)
        fake.latency = args.latency
        fake.rate_limit(args.rate, burst=args.rate)
        fake.error_rate("send", 503, 0.02, seed=1)
        fake.error_rate("*", 504, 0.002, seed=2, after_effect=True)
        pacer = TenantPacer(args.rate)
        tokens = TokenSource(
            fake.app_id, fake.app_password, fake.token_url.replace("{tenant}", fake.tenant_id)
        )
        connector = BotConnector(
            tokens,
            app_id=fake.app_id,
            tenant_id=fake.tenant_id,
            before_request=pacer.wait,
            on_throttled=pacer.throttled,
        )
        gateway = TeamsGateway(connector)
        view = {"ref": "round-1", "questions": QUESTIONS, "k": 5, "closes": "Friday"}

        def deliver(member):
            to = gateway.open_dm(fake.service_url, member.id)
            return member.id, gateway.send_pulse(to, view).outcome

        print(
            f"Teams fan-out to {args.doctors:,} doctors · fake Bot Connector {args.latency * 1000:.0f}"
            f" ms latency, {args.rate:g} calls/s per tenant, 2% 503 on send before posting, 0.2%"
            f" 504 after posting · {args.threads} threads, one TenantPacer at {args.rate:g}/s"
        )
        started = time.monotonic()
        members = gateway.roster(fake.service_url, team.id)
        with ThreadPoolExecutor(args.threads) as pool:
            outcomes = dict(pool.map(deliver, members))
        elapsed = time.monotonic() - started

        calls = [c for c in fake.calls if c.op not in ("token", "openid", "keys")]
        admitted = [c for c in calls if c.status != 429]  # what the tenant's limit let through
        span = calls[-1].time - calls[0].time
        achieved = len(admitted) / span
        statuses = Counter(c.status for c in calls)
        kinds = Counter(c.op for c in calls)
        counts = Counter(len(fake.messages_to(d)) for d in doctors)
        by_outcome = Counter(o.value for o in outcomes.values())
        sent_once = all(
            len(fake.messages_to(d)) == 1 for d in doctors if outcomes[d.id] is Outcome.SENT
        )
        print(
            f"  {len(calls):,} connector calls in {span:.1f} s ({dict(kinds)}); wall {elapsed:.1f} s"
        )
        print(
            f"  achieved {achieved:.1f} calls/s ÷ permitted {args.rate:g}/s = "
            f"{achieved / args.rate:.2f} · target >= 0.90"
        )
        print(f"  replies: {dict(sorted(statuses.items()))}")
        print(f"  outcomes: {dict(by_outcome)}")
        print(
            f"  pulses per doctor: {dict(sorted(counts.items()))}; "
            f"every 'sent' doctor exactly one: {'yes' if sent_once else 'NO'}; "
            f"nobody two: {'yes' if max(counts) <= 1 else 'NO'}"
        )
    return 0 if sent_once and max(counts) <= 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
