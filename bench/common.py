"""Shared pieces of the benchmarks: a trust in the fake Slack with an open, real round; child
processes of `medpulse` with a clean environment; peak memory from /proc; percentiles."""

from __future__ import annotations

import os
import socket
import statistics
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECRET = "bench-secret"
TOKEN = "xoxb-bench"
ADMIN = "UADMIN1"
CHANNEL = "C0DOCTORS"
MEDPULSE = str(Path(sys.executable).parent / "medpulse")


def settings_for(fake, db_url: str, **extra):
    """Settings as the processes under test will see them (no .env file, DMs not spread)."""
    from bot.settings import load_settings

    return load_settings(
        _env_file=None,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.api_url,
        DATABASE_URL=db_url,
        MEDPULSE_ADMINS=ADMIN,
        MEDPULSE_SPREAD_MINUTES="0",
        **extra,
    )


def child_env(fake, db_url: str, **extra: str) -> dict[str, str]:
    """The environment for a `medpulse` subprocess: ours without any Slack/medpulse settings
    (so a developer's .env or shell cannot leak in), plus the fake Slack and the database."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "MEDPULSE_", "DATABASE_URL", "PORT", "WEB_THREADS"))
    }
    return {
        **keep,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": db_url,
        "MEDPULSE_ADMINS": ADMIN,
        "MEDPULSE_SPREAD_MINUTES": "0",
        **extra,
    }


def open_round(fake, db_url: str, doctors: int, prefix: str = "UD"):
    """A workspace whose channel of ``doctors`` people is the audience, and a manual round to
    all of them with its outbox written. Returns (core, doctor ids, round result, setup seconds)
    where setup covers the audience sync and the round (not adding users to the fake)."""
    from bot.admin.operations import set_audience
    from bot.clock import SystemClock
    from bot.people.workspaces import ensure_team
    from bot.rounds.lifecycle import create_round
    from server.runtime import build_core

    ids = [f"{prefix}{i:06d}" for i in range(doctors)]
    for uid in ids:
        fake.add_user(uid)
    fake.add_user(ADMIN)
    fake.add_channel(CHANNEL, "doctors", members=ids)
    core = build_core(settings_for(fake, db_url), clock=SystemClock())
    start = time.perf_counter()
    ensure_team(core, fake.team_id)
    audience = set_audience(core, fake.team_id, ADMIN, CHANNEL, "doctors").audience_id
    rnd = create_round(core, audience, "manual:bench", manual=True)
    setup = time.perf_counter() - start
    if not rnd.created or rnd.invited != doctors:
        raise RuntimeError(f"round not created for all doctors: {rnd}")
    return core, ids, rnd, setup


def delivery_counts(core) -> dict[str, int]:
    from sqlalchemy import func, select

    from storage.models import Delivery

    with core.db.Session() as s:
        return dict(
            s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )


def dms_per_doctor(fake) -> dict[str, int]:
    """Delivered DMs per doctor, counting those whose reply was lost (what ``fake.dms_to``
    counts), grouped in one pass over the call log rather than one pass per doctor."""
    out: dict[str, int] = {}
    for c in fake.calls_to("chat.postMessage"):
        if c.effect and c.response is not None:
            ch = c.response.get("channel", "")
            if ch.startswith("D"):
                out[ch[1:]] = out.get(ch[1:], 0) + 1
    return out


def proc_memory_mb(pid: int) -> tuple[float, float]:
    """(peak RSS, current RSS) of a live process in MB, from /proc (VmHWM, VmRSS)."""
    hwm = rss = float("nan")
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    except OSError:
        pass
    return hwm, rss


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 30.0) -> None:
    """Until something answers HTTP at ``url`` (any status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s")


def percentile_ms(values: list[float], q: int) -> float:
    """The q-th percentile of seconds, in ms (inclusive method, so p99 of 1,000 is real)."""
    if len(values) < 2:
        return float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def db_label(server_url: str | None) -> str:
    return "PostgreSQL" if server_url else "SQLite file"
