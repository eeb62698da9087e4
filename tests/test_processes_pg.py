"""Several processes on PostgreSQL: two `medpulse web` and two `medpulse worker`.

A scheduled round reaches everyone exactly once (delivery claims use SKIP LOCKED), answers land
through either web process, exactly one worker runs the scheduler (an advisory lock), and
killing it hands the schedule to the other. Always PostgreSQL: this is what it is about.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.admin.operations import set_audience
from bot.clock import SystemClock
from bot.people.workspaces import ensure_team
from server.runtime import build_core
from simulator.slack_requests import SlackSender
from storage.migrate import upgrade
from storage.models import Delivery, Response, Round, Schedule
from storage.scratch import scratch_database
from tests.conftest import ADMIN, SECRET, TOKEN, make_settings
from tests.helpers import answer_buttons, dms_of_kind, doctors, pulse_message, wait_for

PG = os.environ.get("MEDPULSE_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MEDPULSE = str(Path(sys.executable).parent / "medpulse")
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def pg_url():
    url, drop = scratch_database(PG, "medpulse_procs")
    upgrade(url)
    yield url
    drop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    def __init__(self, fake, url, tmp_path):
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MEDPULSE_"))},
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
            "DATABASE_URL": url,
            "MEDPULSE_ADMINS": ADMIN,
            "MEDPULSE_TICK_SECONDS": "1",
            "MEDPULSE_SPREAD_MINUTES": "0",
        }
        self.tmp = tmp_path
        self.procs: dict[str, tuple[subprocess.Popen, Path]] = {}

    def start(self, name: str, *args: str, port: int | None = None) -> None:
        log = self.tmp / f"{name}.log"
        env = dict(self.env, PORT=str(port)) if port else self.env
        p = subprocess.Popen(
            [MEDPULSE, *args], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=self.tmp
        )
        self.procs[name] = (p, log)

    def log(self, name: str) -> str:
        return self.procs[name][1].read_text()

    def stop_all(self) -> None:
        for p, _ in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _ in self.procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _due_now(core, audience_id: int, minutes_ago: int) -> None:
    """Make the schedule's latest slot a few minutes ago, set long before it: due at once."""
    now = datetime.now(UTC).astimezone(LONDON)
    slot = now - timedelta(minutes=minutes_ago)
    with core.db.Session() as s, s.begin():
        sched = s.scalar(select(Schedule).where(Schedule.audience_id == audience_id))
        sched.cadence, sched.weekday = "weekly", slot.weekday()
        sched.local_time = slot.strftime("%H:%M")
        sched.out_of_hours = True
        sched.updated_at = datetime.now(UTC) - timedelta(hours=2)


def test_two_webs_two_workers_one_round_each_doctor_once_and_failover(fake, pg_url, tmp_path):
    ids = doctors(fake, 40)
    core = build_core(make_settings(fake, pg_url, MEDPULSE_SPREAD_MINUTES=0), clock=SystemClock())
    ensure_team(core, fake.team_id)
    audience_id = set_audience(core, fake.team_id, ADMIN, "C0DOCTORS", "doctors").audience_id
    fake.latency = 0.01
    ports = [_free_port(), _free_port()]
    procs = Procs(fake, pg_url, tmp_path)
    try:
        procs.start("web1", "web", port=ports[0])
        procs.start("web2", "web", port=ports[1])
        procs.start("worker1", "worker")
        procs.start("worker2", "worker")
        for port in ports:
            wait_for(lambda port=port: _healthy(port), timeout=30, what="web up")
        _due_now(core, audience_id, minutes_ago=3)
        wait_for(
            lambda: _count(core, Delivery, Delivery.status == "sent") == 40,
            timeout=60,
            what="round sent",
        )
        assert _count(core, Round) == 1
        assert all(len(dms_of_kind(fake, u, "pulse")) == 1 for u in ids)
        holders = [n for n in ("worker1", "worker2") if "now runs the scheduler" in procs.log(n)]
        assert len(holders) == 1, holders

        # Answers through both web processes.
        for i, uid in enumerate(ids[:20]):
            sender = SlackSender(
                f"http://127.0.0.1:{ports[i % 2]}/slack/events",
                SECRET,
                response_url_base=fake.response_url_base,
            )
            msg = pulse_message(fake, uid)
            btn = answer_buttons(msg)[0][3]
            assert (
                sender.block_action(
                    uid, btn["action_id"], btn["value"], message=msg.to_api()
                ).status
                == 200
            )
        assert _count(core, Response) == 20

        # Kill the scheduler's process; the other takes the schedule over.
        holder = holders[0]
        other = "worker2" if holder == "worker1" else "worker1"
        procs.procs[holder][0].send_signal(signal.SIGKILL)
        procs.procs[holder][0].wait(timeout=10)
        wait_for(lambda: "now runs the scheduler" in procs.log(other), timeout=30, what="takeover")
        _due_now(core, audience_id, minutes_ago=1)
        wait_for(lambda: _count(core, Round) == 2, timeout=30, what="second round by the standby")
        wait_for(
            lambda: _count(core, Delivery, Delivery.status == "sent") == 80,
            timeout=60,
            what="second round sent",
        )
        assert all(len(dms_of_kind(fake, u, "pulse")) == 2 for u in ids)
    finally:
        procs.stop_all()
        core.db.dispose()
    for name in ("web1", "web2", other):
        assert procs.procs[name][0].returncode == 0, procs.log(name)[-2000:]


def _count(core, model, *where) -> int:
    with core.db.Session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))
