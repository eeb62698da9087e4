"""`medpulse demo --platform teams`: the demo trust run through the Teams adapter.

The same simulated doctors as the Slack demo (``simulator.demo``), in a Microsoft Teams tenant
played by the fake Bot Connector (``simulator.fake_teams``): the app is installed in the
doctors' team and the leadership team with signed activities, the scheduler creates the rounds,
the outbox sends each doctor an Adaptive Card, the doctors tap it (signed ``adaptiveCard/action``
invokes), rounds close and every card is closed, and after each close the summary goes to the
leadership team with its chart inline. Written to the output folder: every summary card as JSON
beside its chart PNG, and one pulse card and one closed card as the doctors saw them.
"""

from __future__ import annotations

import base64
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from simulator.demo import (
    COMMENTS,
    LONDON,
    TRUST_NAME,
    Sim,
    _item_meta,
    demo_spec,
    run_rounds,
)
from simulator.fake_teams import answer_buttons, card_actions
from simulator.population import World


def run(doctors: int, rounds: int, out: Path, seed: int, quiet: bool, tmp: Path) -> list[Path]:
    from bot.clock import FakeClock
    from bot.settings import load_settings
    from server.runtime import build_core, build_wsgi
    from server.web import HttpServer
    from simulator.fake_teams import FakeTeams
    from storage.migrate import upgrade

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    sim = Sim(World(demo_spec(doctors, rounds, seed), prefix="UDEMO"))
    db_url = f"sqlite:///{tmp / 'demo.db'}"
    upgrade(db_url)
    clock = FakeClock(datetime(2026, 5, 4, 7, 0, tzinfo=LONDON))  # a Monday morning
    with FakeTeams() as fake, ThreadPoolExecutor(8) as pool:
        settings = load_settings(
            _env_file=None,
            DATABASE_URL=db_url,
            MEDPULSE_TRUST_NAME=TRUST_NAME,
            TEAMS_TENANT_RATE=50,
            **fake.env(),
        )
        core = build_core(settings, clock=clock)
        server = HttpServer(build_wsgi(core), host="127.0.0.1", port=0, threads=8).start()
        url = f"{server.url}/api/messages"
        try:
            people, leaders = _install(core, fake, url, sim)
            _simulate(core, fake, url, sim, people, leaders, rounds, clock, pool, quiet)
        finally:
            server.stop()
            core.db.dispose()
        return _write_outputs(fake, people, leaders, out)


def _install(core, fake, url: str, sim: Sim):
    """The medical director installs the app in both teams and points summaries at the
    leaders' team; the roster's departments and grades are stored as an import would."""
    from bot.people.roster import RosterReport, RosterRow, _store

    director = fake.add_user("Dr Medical Director")
    people = {d.user: fake.add_user(f"Dr {d.user[5:]}") for d in sim.doctors.values()}
    team = fake.add_team("All doctors", list(people.values()))
    leaders = fake.add_team("Medical leadership", [director])
    for t in (team, leaders):
        fake.install(t)
        fake.post(url, fake.installed_activity(t, by=director))
    fake.post(url, fake.message(director, "leaders", team=leaders))
    rows = [
        (RosterRow(n, None, None, d.department, d.grade), people[d.user].id)
        for n, d in enumerate(sim.doctors.values(), start=2)
    ]
    _store(core, fake.tenant_id, rows, RosterReport())
    return people, leaders


def _simulate(core, fake, url, sim, people, leaders, rounds, clock, pool, quiet) -> None:
    """Hour by hour: the scheduler ticks, the worker sends, the doctors tap; a summary goes to
    the leaders' team after each round closes."""
    from bot.delivery.outbox import DeliveryWorker
    from bot.insights.posting import post_summary
    from bot.rounds.scheduler import Scheduler

    scheduler = Scheduler(core, sync_audience=True)
    worker = DeliveryWorker(core, concurrency=8, backoff=0.01)
    seen: set[str] = set()
    run_rounds(
        core,
        clock,
        sim,
        scheduler,
        worker,
        rounds,
        quiet,
        answer=lambda: _answer_cards(core, fake, url, sim, people, seen, pool),
        on_close=lambda: post_summary(core, fake.tenant_id, leaders.id),
        tail=timedelta(days=1),
    )


def _answer_cards(core, fake, url, sim, people, seen: set[str], pool) -> None:
    """Doctors look at new cards (pulses and reminders) and decide whether to tap."""
    taps, comments = [], []
    for user, person in people.items():
        for msg in fake.messages_to(person):
            card = (msg.payload.get("attachments") or [{}])[0].get("content") or {}
            buttons = card_actions(card)
            if msg.id in seen or not buttons:
                continue
            seen.add(msg.id)
            d = sim.doctors[user]
            p = sim.world.respond_p(d.department, sim.round_no)
            reminder = "reminder" in card["body"][0]["text"]
            if user in sim.answered_this_round or sim.rng.random() > (p * 0.45 if reminder else p):
                continue
            sim.answered_this_round.add(user)
            taps += _choices(core, fake, sim, d, person, msg, card)
            if sim.rng.random() < 0.08:
                pulse = next(a["data"]["pulse"] for a in buttons if a["verb"] == "comment")
                data = {"pulse": pulse, "comment": COMMENTS[None]}
                comments.append(fake.card_action(person, "comment", data, msg.id))
    acts = taps + comments
    list(pool.map(lambda act: fake.post(url, act), acts))


def _choices(core, fake, sim, d, person, msg, card) -> list[dict]:
    buttons: dict[int, list[dict]] = {}
    for a in answer_buttons(card):
        _r, vid, _v = a["data"]["answer"].split(":")
        buttons.setdefault(int(vid), []).append(a)
    meta = _item_meta(core, set(buttons))
    out = []
    for vid, options in buttons.items():
        i = meta[vid]
        value = sim.world.answer(d, i.scale, i.theme, i.key, i.reverse, sim.round_no, i.headline)
        button = next(a for a in options if a["data"]["answer"].endswith(f":{value}"))
        out.append(fake.card_action(person, "answer", button["data"], msg.id))
    return out


def _write_outputs(fake, people, leaders, out: Path) -> list[Path]:
    """Each summary card as JSON (its chart replaced by the PNG's file name) beside the PNG,
    and one pulse card and one closed card as a doctor saw them."""
    from simulator import demo_output

    demo_output.reset(out)
    written: list[Path] = []
    summaries = [m for m in fake.channel_messages(leaders) if m.payload.get("attachments")]
    for n, msg in enumerate(summaries, start=1):
        card = json.loads(json.dumps(msg.payload["attachments"][0]["content"]))
        for block in card["body"]:
            if block.get("type") == "Image" and block["url"].startswith("data:image/png"):
                png = out / f"chart-{n:02d}-teams-summary.png"
                png.write_bytes(base64.b64decode(block["url"].split(",", 1)[1]))
                block["url"] = png.name
                written.append(png)
        path = out / f"summary-{n:02d}-teams-card.json"
        path.write_text(json.dumps(card, indent=2, ensure_ascii=False))
        written.append(path)
    doctor = next(iter(people.values()))
    history = fake.messages_to(doctor)
    if history:
        closed = history[0].payload["attachments"][0]["content"]
        path = out / "teams-closed-pulse-card.json"
        path.write_text(json.dumps(closed, indent=2, ensure_ascii=False))
        written.append(path)
    pulse = next((c.body for c in fake.ops("send") if "answer" in json.dumps(c.body or {})), None)
    if pulse:
        path = out / "teams-pulse-card.json"
        path.write_text(
            json.dumps(pulse["attachments"][0]["content"], indent=2, ensure_ascii=False)
        )
        written.append(path)
    return written
