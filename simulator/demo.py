"""`medpulse demo`: a simulated trust run through the real code path, no Slack needed.

300 doctors in 8 departments answer 12 fortnightly pulses. Everything real runs: the Bolt app over
HTTP with signed requests, the scheduler with an injected clock, delivery through the outbox, the
database, the weekly summaries. Only Slack is simulated (the package's fake Web API) and so are the
doctors, who tap buttons in the DMs they receive. One department is hard to reach and one theme
improves over time, so the summaries have something true to say. Output goes to ./demo-output/.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from simulator.population import Dept, Doctor, Plant, TrustSpec, World

LONDON = ZoneInfo("Europe/London")
IMPROVING_THEME = "junior-doctor-involvement"
HARD_TO_REACH = "Radiology"
TRUST_NAME = "Northfield NHS Foundation Trust (demo)"
DEPARTMENTS = [
    Dept("Emergency Medicine", 0.72, -0.1),
    Dept("Acute Medicine", 0.68, 0.0),
    Dept("Surgery", 0.62, -0.2),
    Dept("Paediatrics", 0.74, 0.3),
    Dept("Anaesthetics", 0.66, 0.2),
    Dept("Obstetrics & Gynaecology", 0.64, 0.0),
    Dept("Psychiatry", 0.70, 0.25),
    Dept(HARD_TO_REACH, 0.70, -0.3),
]


def demo_spec(doctors: int = 300, rounds: int = 12, seed: int = 7) -> TrustSpec:
    """The demo trust and the only two things planted in it: Radiology answers about one pulse
    in four from the start (the others about two in three), and resident doctors' involvement
    rises steadily (about 42 to 85 on 0-100 over 12 pulses). Every item has the same footing
    otherwise, so anything else a summary claimed as a change would be false."""
    return TrustSpec(
        "Demo trust",
        doctors,
        rounds,
        DEPARTMENTS,
        [
            Plant("dept_hard_to_reach", HARD_TO_REACH, 0.24, 1),
            Plant("theme_rising", IMPROVING_THEME, 0.16, 1, base=-0.8),
        ],
        seed,
        item_sd=0.0,
    )


COMMENTS = {
    "stable-leadership": "The medical director came to our handover this month. More of that, please.",
    "quality-strategy": "Quality improvement still feels like extra work on top of the day job.",
    "medical-leadership-structure": "Clinical leads need protected time that actually happens.",
    "devolved-authority": "We proposed a new clinic template and it went nowhere for six months.",
    "values-based-recruitment": "The last consultant interviews asked good questions about values.",
    "appraisal-and-development": "Job planning was rushed again; appraisal was helpful though.",
    "junior-doctor-involvement": "The new resident QI forum has been genuinely useful.",
    "learning-from-others": "Visiting another trust's same-day emergency care unit helped us.",
    None: "Rota gaps are the biggest thing affecting morale right now.",
}


@dataclass
class Sim:
    world: World
    round_no: int = 0
    handled: set[tuple[str, str]] = field(default_factory=set)
    seen_calls: int = 0
    last_label: str = ""
    answered_this_round: set[str] = field(default_factory=set)

    @property
    def doctors(self) -> dict[str, Doctor]:
        return self.world.doctors

    @property
    def rng(self) -> random.Random:
        return self.world.rng


def _progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {label:<44}")
    sys.stderr.flush()


def _setup_slack(fake, docs: dict[str, Doctor]) -> None:
    fake.add_user("UDEMOADMIN", name="medical.director", real_name="Dr Medical Director")
    for d in docs.values():
        fake.add_user(d.user, name=d.user.lower(), email=f"{d.user.lower()}@trust.example")
    fake.add_user("UOTHERBOT", name="rota-bot", is_bot=True)
    # The medical director reads the leadership channel; only the simulated doctors (and a bot,
    # which the audience sync leaves out) are in the doctors' channel, each with a department.
    fake.add_channel("C0DOCTORS", "all-doctors", members=[*docs, "UOTHERBOT"])
    fake.add_channel("C0LEADERS", "medical-leadership", members=["UDEMOADMIN"])
    fake.add_channel("C0EDLEADS", "ed-leads", members=["UDEMOADMIN"])


def _roster(docs: dict[str, Doctor]) -> str:
    rows = ["slack_id,department,grade"]
    rows += [f"{d.user},{d.department},{d.grade}" for d in docs.values()]
    return "\n".join(rows)


def _item_meta(core, version_ids: set[int]) -> dict:
    from storage import queries

    with core.db.Session() as s:
        return queries.versions(s, version_ids)


def _answer_dms(core, fake, sender, sim: Sim, pool: ThreadPoolExecutor) -> int:
    """Doctors look at new DMs (pulses and reminders) and decide whether to answer."""
    todo = []
    calls = fake.calls_to("chat.postMessage")
    new, sim.seen_calls = calls[sim.seen_calls :], len(calls)
    for call in new:
        if not call.effect or call.response is None:
            continue
        channel, ts = call.response["channel"], call.response["ts"]
        user = channel[1:]
        if (channel, ts) in sim.handled or user not in sim.doctors:
            continue
        sim.handled.add((channel, ts))
        d = sim.doctors[user]
        tag = ((call.params.get("metadata") or {}).get("event_payload") or {}).get("tag", "")
        p = sim.world.respond_p(d.department, sim.round_no)
        p = p * 0.45 if tag.startswith("reminder") else p
        if user in sim.answered_this_round or sim.rng.random() > p:
            continue
        sim.answered_this_round.add(user)
        todo.append((d, fake.message(channel, ts)))
    versions = {
        int(e["value"].split(":")[1])
        for _, msg in todo
        for b in msg.blocks or []
        if b["type"] == "actions" and b.get("block_id", "").startswith("q-")
        for e in b["elements"]
    }
    meta = _item_meta(core, versions) if versions else {}
    taps = []
    for d, msg in todo:
        for b in msg.blocks or []:
            if b["type"] != "actions" or not b.get("block_id", "").startswith("q-"):
                continue
            vid = int(b["block_id"][2:])
            i = meta[vid]
            value = sim.world.answer(
                d, i.scale, i.theme, i.key, i.reverse, sim.round_no, i.headline
            )
            btn = next(e for e in b["elements"] if e["value"].endswith(f":{value}"))
            taps.append((d.user, btn, msg.to_api(), i.theme))
    list(
        pool.map(
            lambda t: sender.block_action(t[0], t[1]["action_id"], t[1]["value"], message=t[2]),
            taps,
        )
    )
    _comment(sender, sim, todo, taps)
    return len(taps)


def _comment(sender, sim: Sim, todo, taps) -> None:
    themes = {user: theme for user, _, _, theme in taps if theme != "stable-leadership"}
    for d, msg in todo:
        if sim.rng.random() > 0.08:
            continue
        round_id = msg.blocks[-2]["elements"][0]["value"]
        theme = themes.get(d.user) if sim.rng.random() < 0.7 else None
        text = COMMENTS.get(theme, COMMENTS[None])
        state = {"comment": {"text": text}}
        if theme:
            state["theme"] = {
                "theme": {"type": "static_select", "selected_option": {"value": theme}}
            }
        sender.view_submission(d.user, "pulse_comment", state, private_metadata=round_id)


def blocks_text(blocks: list[dict]) -> str:
    """A plain reading of Block Kit, as a person would see it (for the demo's .txt files)."""

    def txt(obj) -> str:
        return (obj or {}).get("text", "") if isinstance(obj, dict) else str(obj or "")

    lines: list[str] = []
    for b in blocks:
        kind = b.get("type")
        if kind == "header":
            lines += ["", txt(b.get("text")).upper(), ""]
        elif kind == "section":
            if b.get("text"):
                lines.append(txt(b["text"]))
            lines += [txt(f) for f in b.get("fields", [])]
        elif kind == "context":
            lines.append(
                "  " + "  ".join(txt(e) for e in b.get("elements", []) if e.get("type") != "image")
            )
        elif kind == "divider":
            lines.append("-" * 60)
        elif kind == "actions":
            lines.append("  " + "  ".join(f"[{txt(e.get('text'))}]" for e in b.get("elements", [])))
        elif kind == "image":
            lines.append(f"(image: {b.get('alt_text', '')})")
    return "\n".join(lines).strip() + "\n"


def _write_outputs(fake, out: Path) -> list[Path]:
    """Every summary posted to a leaders channel, as Block Kit JSON, text, and its PNG chart."""
    from simulator import demo_output

    demo_output.reset(out)
    written = []
    n = 0
    for (channel, _ts), msg in sorted(fake.messages.items(), key=lambda kv: float(kv[0][1])):
        if not channel.startswith("C") or not msg.blocks:
            continue
        n += 1
        stem = out / f"summary-{n:02d}-{channel}"
        stem.with_suffix(".json").write_text(
            json.dumps({"channel": channel, "blocks": msg.blocks}, indent=2)
        )
        stem.with_suffix(".txt").write_text(blocks_text(msg.blocks))
        written += [stem.with_suffix(".json"), stem.with_suffix(".txt")]
    for i, f in enumerate(sorted(fake.uploaded_files.values(), key=lambda f: f.id), start=1):
        if f.data:
            path = out / f"chart-{i:02d}-{f.channel or 'dm'}-{f.filename}"
            path.write_bytes(f.data)
            written.append(path)
    return written


def run(
    doctors: int, rounds: int, out: Path, seed: int, quiet: bool = False, platform: str = "slack"
) -> list[Path]:
    """Run the simulation on a scratch database that is deleted afterwards, however it ends."""
    import shutil

    tmp = Path(tempfile.mkdtemp(prefix="medpulse-demo-"))
    try:
        if platform == "teams":  # simulator.demo_teams: the same trust through the Teams adapter
            from simulator import demo_teams

            return demo_teams.run(doctors, rounds, out, seed, quiet, tmp)
        return _run(doctors, rounds, out, seed, quiet, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(doctors: int, rounds: int, out: Path, seed: int, quiet: bool, tmp: Path) -> list[Path]:
    import logging

    from bot.clock import FakeClock
    from bot.people.roster import import_roster
    from bot.settings import load_settings
    from server.runtime import build_core, build_wsgi
    from server.web import HttpServer
    from simulator.fake_slack import FakeSlack
    from simulator.slack_requests import SlackSender
    from storage.migrate import upgrade

    logging.getLogger("waitress.queue").setLevel(
        logging.ERROR
    )  # busy-queue notes are expected here
    sim = Sim(World(demo_spec(doctors, rounds, seed), prefix="UDEMO"))
    secret = secrets.token_hex(16)
    db_url = f"sqlite:///{tmp / 'demo.db'}"
    upgrade(db_url)
    clock = FakeClock(datetime(2026, 5, 4, 7, 0, tzinfo=LONDON))  # a Monday morning
    with FakeSlack(bot_token="xoxb-demo") as fake, ThreadPoolExecutor(8) as pool:
        _setup_slack(fake, sim.doctors)
        settings = load_settings(
            _env_file=None,
            SLACK_BOT_TOKEN="xoxb-demo",
            SLACK_SIGNING_SECRET=secret,
            SLACK_API_URL=fake.api_url,
            DATABASE_URL=db_url,
            MEDPULSE_ADMINS="UDEMOADMIN",
            MEDPULSE_TRUST_NAME=TRUST_NAME,
        )
        core = build_core(settings, clock=clock)
        server = HttpServer(build_wsgi(core), host="127.0.0.1", port=0, threads=8).start()
        sender = SlackSender(
            server.url + "/slack/events",
            secret,
            team_id=fake.team_id,
            response_url_base=fake.response_url_base,
        )
        try:
            _wait_reply(fake, sender.slash("audience <#C0DOCTORS|all-doctors>", "UDEMOADMIN"))
            import_roster(core, fake.team_id, _roster(sim.doctors))
            for cmd in (
                "leaders <#C0LEADERS|medical-leadership>",
                'leaders <#C0EDLEADS|ed-leads> "department:Emergency Medicine"',
            ):
                _wait_reply(fake, sender.slash(cmd, "UDEMOADMIN"))
            _leaders_rate_the_checklist(fake, sender)
            _simulate(core, fake, sender, sim, rounds, clock, pool, quiet)
            _wait_reply(fake, sender.slash("checklist export", "UDEMOADMIN"))
            _wait_for_upload(fake, "medpulse-checklist.png")
        finally:
            server.stop()
            core.db.dispose()
        return _write_outputs(fake, out)


def _leaders_rate_the_checklist(fake, sender) -> None:
    """The leadership team's self-assessment: rosier than the doctors' view, as it often is."""
    from bot.insights.checklist import QUESTIONS

    rng = random.Random(11)
    for leader in ("UDEMOADMIN",):
        state = {
            f"rate|{ref}": {
                "rating": {
                    "type": "static_select",
                    "selected_option": {"value": str(rng.choice([3, 4, 4, 5]))},
                }
            }
            for ref in QUESTIONS
        }
        sender.view_submission(leader, "leadership_checklist", state)


def _record_action(sender) -> None:
    text = "Resident doctors asked for a say in improvement work: a monthly resident QI forum now runs, with protected time."
    state = {
        "text": {"text": {"type": "plain_text_input", "value": text}},
        "theme": {
            "theme": {"type": "static_select", "selected_option": {"value": IMPROVING_THEME}}
        },
        "grade": {"grade": {"type": "static_select", "selected_option": {"value": "resident"}}},
    }
    sender.view_submission("UDEMOADMIN", "leadership_action", state)


def _wait_for_upload(fake, filename: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(f.filename == filename and f.data for f in fake.uploaded_files.values()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the demo app did not upload {filename}")
        time.sleep(0.05)


def _wait_reply(fake, reply, timeout: float = 20.0) -> str:
    """The command's answer: the ack itself, or what followed on the response_url."""
    text = (
        (reply.json() or {}).get("text", "") if reply.body_text.startswith("{") else reply.body_text
    )
    if text.startswith("⏳"):
        deadline = time.monotonic() + timeout
        while not fake.response_posts(reply.response_key):
            if time.monotonic() > deadline:
                raise RuntimeError("the demo app did not answer a command")
            time.sleep(0.02)
        text = fake.response_posts(reply.response_key)[0].body.get("text", "")
    if text.startswith("⚠️"):
        raise RuntimeError(f"the demo app refused a setup command: {text}")
    return text


def _simulate(core, fake, sender, sim, rounds, clock, pool, quiet):
    """Hour by hour: the scheduler ticks, the worker sends, the doctors read and tap."""
    from bot.delivery.limiter import LimiterConfig, LimiterRegistry
    from bot.delivery.outbox import DeliveryWorker
    from bot.insights.posting import post_due_summaries
    from bot.rounds.scheduler import Scheduler

    scheduler = Scheduler(core, sync_audience=True, on_summary=post_due_summaries)
    # The simulated Slack has no rate limit, so start fast; real workspaces start at 20/s.
    fast = LimiterRegistry(LimiterConfig(rate=300.0, burst=50.0, max_rate=500.0))
    worker = DeliveryWorker(core, limiters=fast, concurrency=8, backoff=0.01)

    def new_round(number: int) -> None:
        if number == rounds // 2 + 1:
            _record_action(sender)

    run_rounds(
        core,
        clock,
        sim,
        scheduler,
        worker,
        rounds,
        quiet,
        answer=lambda: _answer_dms(core, fake, sender, sim, pool),
        on_round=new_round,
        tail=timedelta(days=7),
    )


def run_rounds(
    core,
    clock,
    sim,
    scheduler,
    worker,
    rounds,
    quiet,
    *,
    answer,
    tail,
    on_round=None,
    on_close=None,
) -> None:
    """The demo's clock, hour by hour, for either platform: the scheduler ticks, the worker
    sends, ``answer`` lets the doctors read and tap; ``on_round(n)`` when round n is created,
    ``on_close()`` when another round has closed. Ends ``tail`` after the last round closes
    (the schedule is paused once every round has been created)."""
    from sqlalchemy import func, select

    from storage.models import Round

    end = None
    closed_seen = 0
    try:
        while True:
            report = scheduler.tick()
            if report.created:
                sim.round_no += 1
                sim.answered_this_round = set()
                if on_round is not None:
                    on_round(sim.round_no)
            while worker.run_once():
                pass
            answer()
            with core.db.Session() as s:
                closed = s.scalar(
                    select(func.count()).select_from(Round).where(Round.status == "closed")
                )
            if on_close is not None and closed > closed_seen:
                on_close()
            closed_seen = closed
            label = f"{clock.now().astimezone(LONDON):%d %b %Y}  round {sim.round_no}/{rounds}"
            if not quiet and label != sim.last_label:
                sim.last_label = label
                _progress(closed, rounds, label)
            if closed >= rounds and end is None:
                end = clock.now() + tail
            if end and clock.now() >= end:
                break
            if sim.round_no >= rounds and not report.created:
                _pause_schedule(core)
            clock.advance(timedelta(hours=1))
    finally:
        worker.shutdown()
    if not quiet:
        sys.stderr.write("\n")


def _pause_schedule(core) -> None:
    from sqlalchemy import update

    from storage.models import Schedule

    with core.db.Session() as s, s.begin():
        s.execute(update(Schedule).values(paused=True))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="medpulse demo", description=__doc__.splitlines()[0])
    p.add_argument("--doctors", type=int, default=300)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--out", default="demo-output")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--platform", choices=("slack", "teams"), default="slack")
    args = p.parse_args(argv)
    if args.doctors < 20 or not 1 <= args.rounds <= 52:
        p.error("use at least 20 doctors and 1 to 52 rounds")
    from simulator import demo_output

    demo_output.check(Path(args.out))
    started = time.monotonic()
    print(
        f"medpulse demo: {args.doctors} doctors in {len(DEPARTMENTS)} departments, "
        f"{args.rounds} fortnightly pulses, simulated {args.platform.title()}.",
        file=sys.stderr,
    )
    written = run(args.doctors, args.rounds, Path(args.out), args.seed, args.quiet, args.platform)
    from simulator import region_demo  # issue 17: a region of three trusts, compared

    written += region_demo.run(Path(args.out), args.seed)
    index = demo_output.write_index(
        Path(args.out), written, args.doctors, args.rounds, args.platform
    )
    print(
        f"Done in {time.monotonic() - started:.0f} s. Wrote {len(written)} files to {args.out}/; "
        f"open {index} first: it says what each file shows.",
        file=sys.stderr,
    )
    return 0
