"""The demo's region: three trusts on one medpulse (multi-workspace, each installed through OAuth
against the simulated Slack) compared month by month (issue 17).

What is simulated and what is real: each trust's closed pulses (who was asked and who answered, by
department, and the headline answers) come from simulated doctors and are written straight into a
throwaway database, so the region adds seconds, not the main demo's minutes. Everything after is
the real app over HTTP with signed requests: the installs, a department share in one trust,
``/pulse region join``, a trust mapping its own department name onto the shared specialty list,
the regional channel, and ``/pulse region post``, whose message and chart are written out.

Planted truths, so the comparison has something true to say: Emergency Medicine is hard to reach
in two trusts of three (named "A&E" and "ED" there) and Radiology ("Imaging") in one; Northfield
shares a department's results back after its fourth pulse and its doctors then answer more often
(about 15 points); Paediatrics and Obstetrics are in fewer than three trusts, so they get no
regional figure.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import tempfile
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
START = datetime(2026, 5, 4, 9, 0, tzinfo=LONDON)
PULSES = 8
SHARE_AFTER = 4  # Northfield shares results back after this many pulses
UPLIFT = 0.15  # ... and its doctors answer this much more often afterwards


@dataclass(frozen=True)
class DemoTrust:
    team: str
    name: str
    headline: float  # mean headline engagement, 0-10
    departments: tuple[tuple[str, int, float], ...]  # (name as the trust has it, doctors, rate)
    shares: bool = False


TRUSTS = (
    DemoTrust(
        "T0NORTH",
        "Northfield NHS Foundation Trust",
        6.6,
        (
            ("A&E", 40, 0.30),
            ("Cardiology", 30, 0.55),
            ("General Surgery", 36, 0.55),
            ("Paediatrics", 28, 0.62),
            ("Radiology", 20, 0.55),
        ),
        shares=True,
    ),
    DemoTrust(
        "T0SOUTH",
        "Southbank Hospitals NHS Trust",
        7.1,
        (
            ("Emergency Department", 44, 0.58),
            ("Cardiac Medicine", 26, 0.66),
            ("Surgery", 40, 0.60),
            ("Child Health", 30, 0.68),
            ("Imaging", 30, 0.16),
        ),
    ),
    DemoTrust(
        "T0EAST",
        "Eastmere University Hospitals",
        6.2,
        (
            ("ED", 38, 0.30),
            ("Cardio Ward", 24, 0.62),
            ("Surgical", 34, 0.64),
            ("Obs & Gynae", 30, 0.66),
            ("Radiology", 22, 0.52),
        ),
    ),
)


def admin(t: DemoTrust) -> str:
    return "UADM" + t.team[3:]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(url: str, cookie: str | None = None) -> tuple[int, dict, str]:
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def _install(fake, base: str, t: DemoTrust) -> None:
    """The OAuth install a trust's admin would click through."""
    code = f"code-{t.team}"
    fake.add_oauth_code(code, t.team, t.name, "xoxb-" + t.team.lower(), admin(t),
                        bot_user_id="UBOT" + t.team[3:])  # fmt: skip
    _, headers, page = _get(base + "/slack/install")
    state = re.search(r"state=([\w-]+)", page).group(1)
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    status, _, page = _get(f"{base}/slack/oauth_redirect?code={code}&state={state}", cookie)
    if status != 200:
        raise RuntimeError(f"demo install of {t.team} failed: {page[:200]}")


def _closed_round(s, ws: int, i: int):
    """The i-th pulse's closed round (and its audience, the first time), in a session."""
    from sqlalchemy import select

    from storage.models import Audience, Round

    opened = START + timedelta(days=14 * i)
    aud = s.scalar(select(Audience).where(Audience.workspace_id == ws))
    if aud is None:
        aud = Audience(workspace_id=ws, channel_id="CDOCS", name="doctors", created_at=opened)
        s.add(aud)
        s.flush()
    rnd = Round(workspace_id=ws, audience_id=aud.id, slot_key=f"demo-{i}", status="closed",
                seed=i, created_at=opened, period_start=date(opened.year, opened.month,
                opened.day), closes_at=opened + timedelta(days=5),
                closed_at=opened + timedelta(days=5))  # fmt: skip
    s.add(rnd)
    s.flush()
    return rnd


def _pulse(core, ws: int, t: DemoTrust, i: int, rng: random.Random, people: dict) -> None:
    """One closed pulse of simulated doctors: each answers with their own chance."""
    from sqlalchemy import select

    from storage.models import Department, QuestionItem, QuestionVersion, Response
    from storage.models import RoundParticipation as Part

    lift = UPLIFT if t.shares and i >= SHARE_AFTER else 0.0
    with core.db.Session() as s, s.begin():
        version = s.scalar(
            select(QuestionVersion.id)
            .join(QuestionItem)
            .where(QuestionItem.workspace_id == ws, QuestionItem.key == "headline-engagement")
        )
        rnd = _closed_round(s, ws, i)
        for name, _, _ in t.departments:
            dept = s.scalar(
                select(Department).where(Department.workspace_id == ws, Department.name == name)
            ) or Department(workspace_id=ws, name=name)
            s.add(dept)
            s.flush()
            answered = [c for c in people[name] if rng.random() < min(0.95, c + lift)]
            s.add(Part(round_id=rnd.id, department_id=dept.id, grade=None,
                       invited=len(people[name]), responded=len(answered)))  # fmt: skip
            for _ in answered:
                value = max(0, min(10, round(rng.gauss(t.headline, 1.8))))
                s.add(Response(workspace_id=ws, round_id=rnd.id, version_id=version, value=value))
        rnd.invited = sum(len(c) for c in people.values())


def run(out: Path, seed: int = 7) -> list[Path]:
    """Simulate the region, post its comparison through the real app, and write it out."""
    tmp = Path(tempfile.mkdtemp(prefix="medpulse-region-"))
    try:
        return _run(out, seed, tmp)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def _slash(fake, sender, text: str, user: str, timeout: float = 60.0) -> str:
    import time

    reply = sender.slash(text, user)
    shown = (reply.json() or {}).get("text", "")
    if shown.startswith("⏳"):
        end = time.monotonic() + timeout
        while time.monotonic() < end and not fake.response_posts(reply.response_key):
            time.sleep(0.05)
        shown = fake.response_posts(reply.response_key)[-1].body["text"]
    if "⚠️" in shown or "Nothing was posted" in shown:
        raise RuntimeError(f"demo: /pulse {text} was refused: {shown}")
    return shown


def _slack(fake) -> None:
    """Three workspaces, each with its admin; Northfield has the regional and A&E channels."""
    north = TRUSTS[0]
    for t in TRUSTS:
        fake.add_team(t.team, "xoxb-" + t.team.lower(), bot_user_id="UBOT" + t.team[3:],
                      name=t.name)  # fmt: skip
        fake.add_user(admin(t), name="admin." + t.team.lower(), team_id=t.team)
    fake.add_channel("CREGION", "region-leads", members=[admin(north)], team_id=north.team)
    fake.add_channel("CNAE", "ae-team", members=[admin(north)], team_id=north.team)


def _run(out: Path, seed: int, tmp: Path) -> list[Path]:
    from cryptography.fernet import Fernet

    from bot.clock import FakeClock
    from bot.settings import load_settings
    from server.runtime import build_core, build_wsgi
    from server.web import HttpServer
    from simulator.demo import blocks_text
    from simulator.fake_slack import FakeSlack
    from storage.migrate import upgrade

    db_url = f"sqlite:///{tmp / 'region.db'}"
    upgrade(db_url)
    secret = secrets.token_hex(16)
    with FakeSlack(bot_token="xoxb-unused") as fake:
        _slack(fake)
        settings = load_settings(
            _env_file=None, SLACK_BOT_TOKEN=None, SLACK_SIGNING_SECRET=secret,
            SLACK_API_URL=fake.api_url, DATABASE_URL=db_url, SLACK_CLIENT_ID="111.222",
            SLACK_CLIENT_SECRET="demo", MEDPULSE_ADMINS="",
            MEDPULSE_TOKEN_KEY=Fernet.generate_key().decode(), MEDPULSE_MIN_GROUP=5,
        )  # fmt: skip
        core = build_core(settings, clock=FakeClock(START))
        server = HttpServer(build_wsgi(core), host="127.0.0.1", port=0, threads=4).start()
        try:
            _script(core, fake, server.url, secret, random.Random(seed))
        finally:
            server.stop()
            core.db.dispose()
        return _write(fake, out, blocks_text)


def _script(core, fake, url: str, secret: str, rng: random.Random) -> None:
    """Install, run the pulses (Northfield shares back midway), then the region's commands."""
    from sqlalchemy import select

    from simulator.slack_requests import SlackSender
    from storage.models import Workspace

    north, east = TRUSTS[0], TRUSTS[2]
    senders = {}
    for t in TRUSTS:
        _install(fake, url, t)
        senders[t.team] = SlackSender(url + "/slack/events", secret, team_id=t.team,
                                      response_url_base=fake.response_url_base,
                                      bot_user_id="UBOT" + t.team[3:])  # fmt: skip
    with core.db.Session() as s:
        ws = {w.team_id: w.id for w in s.scalars(select(Workspace))}
    people = {
        t.team: {n: [min(0.95, max(0.02, rng.gauss(p, 0.12))) for _ in range(size)]
                 for n, size, p in t.departments}
        for t in TRUSTS
    }  # fmt: skip
    for i in range(PULSES):
        if i == SHARE_AFTER:  # Northfield shares A&E's results back into its channel
            core.clock.set(START + timedelta(days=14 * i - 2))
            _slash(fake, senders[north.team], 'share "department:A&E" <#CNAE|ae-team>',
                   admin(north))  # fmt: skip
        for t in TRUSTS:
            _pulse(core, ws[t.team], t, i, rng, people[t.team])
    core.clock.set(START + timedelta(days=14 * PULSES + 3))
    for t in TRUSTS:
        _slash(fake, senders[t.team], f'region join "name:{t.name}"', admin(t))
    _slash(fake, senders[east.team], 'region map "department:Cardio Ward" specialty:Cardiology',
           admin(east))  # fmt: skip
    _slash(fake, senders[north.team], "region channel <#CREGION|region-leads>", admin(north))
    _slash(fake, senders[north.team], "region post", admin(north))


def _write(fake, out: Path, blocks_text) -> list[Path]:
    (msg,) = [m for (ch, _), m in fake.messages.items() if ch == "CREGION" and m.blocks]
    (png,) = [f for f in fake.uploaded_files.values() if f.filename == "medpulse-region.png"]
    files = [
        out / "region-comparison.txt",
        out / "region-comparison.json",
        out / "region-chart.png",
    ]
    files[0].write_text(blocks_text(msg.blocks))
    files[1].write_text(json.dumps({"channel": "CREGION", "blocks": msg.blocks}, indent=2))
    files[2].write_bytes(png.data)
    return files
