"""A whole round through the core on a plain-text chat platform (tests/text_adapter.py).

The proof that the core speaks to chat platforms only through ``bot.chat``'s gateway protocol:
an audience read from the platform, every doctor sent one pulse (at most once, with no read-back
to lean on), answers and a comment typed as text and passed to the core as a listener would,
reminders for those who had not answered, the close (one identical closed message for everyone,
reminders deleted), and a summary with its chart posted to a leaders' channel. Nothing here, nor
in the adapter, imports Slack, the simulator or the server; ``test_the_round_needs_no_slack``
runs the same round in a fresh interpreter where importing any of them fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.admin import operations
from bot.chat.gateway import Member
from bot.clock import FakeClock
from bot.core import Core
from bot.delivery.outbox import DeliveryWorker
from bot.insights.posting import post_summary
from bot.people.workspaces import ensure_team
from bot.rounds import answers, lifecycle
from bot.rounds.pulse_view import parse_answer_value
from bot.settings import load_settings
from storage.db import Database
from storage.models import Comment, Delivery, Participant, Response
from tests.text_adapter import TextGateway, TextListener

TENANT = "text-trust-0001"
SOURCE = "doctors-room"
LEADERS = "leaders-room"
DOCTORS = [f"doctor-{i:02d}" for i in range(8)]
ANSWERING = DOCTORS[:6]
CLOSED = "This medpulse pulse has closed. The next one will come to you here."


def _people() -> list[Member]:
    return [Member(u) for u in DOCTORS] + [
        Member("bot-1", is_bot=True),
        Member("left-1", deleted=True),
    ]


def make_core(db_url: str, clock) -> tuple[Core, TextGateway]:
    settings = load_settings(
        _env_file=None,
        DATABASE_URL=db_url,
        MEDPULSE_MIN_GROUP=5,
        MEDPULSE_ANSWER_KEY="text-platform-test-key",
        MEDPULSE_TRUST_NAME="Text Trust",
    )
    gw = TextGateway({SOURCE: _people()})
    core = Core(
        settings=settings, db=Database.connect(db_url), clock=clock, gateway_for=lambda t: gw
    )
    return core, gw


def _drain(worker: DeliveryWorker) -> None:
    while worker.run_once():
        pass


def run_round(core: Core, gw: TextGateway, clock) -> dict:
    """The round, start to finish; returns what each check needs."""
    ensure_team(core, TENANT)
    aud = operations.set_audience(core, TENANT, "admin", SOURCE, "doctors")
    operations.add_leader_channel(core, TENANT, "admin", LEADERS, None)
    sent = operations.send_now(core, TENANT, "admin")
    worker = DeliveryWorker(core, concurrency=4, backoff=0.01)
    try:
        _drain(worker)
        pulses = {u: gw.dm(u) for u in DOCTORS}
        asked = len(gw.last_pulse(DOCTORS[0]).questions)
        listener = TextListener(core, gw, TENANT)
        notes = {}
        for i, user in enumerate(ANSWERING):
            pulse = gw.last_pulse(user)
            for q in pulse.questions:
                choice = q.choices[i % len(q.choices)]
                notes[(user, q.number)] = listener.say(user, f"answer {q.number} {choice.value}")
        thanks = listener.say(ANSWERING[0], "comment The *rota* gaps on nights are unsafe.")
        clock.advance(timedelta(hours=25))  # reminders fall due for those who did not answer
        lifecycle.pending_reminders(core)  # what the scheduler's tick does
        _drain(worker)
        reminded = {u: gw.dm(u) for u in DOCTORS}
        late_pulse = gw.last_pulse(DOCTORS[6])
        lifecycle.close_round(core, sent.round.round_id)
        clock.advance(timedelta(minutes=10))  # past the tidy-up's delay (bot.rounds.closing)
        _drain(worker)
        closed = {u: gw.dm(u) for u in DOCTORS}
        # A tap that arrives after the close (its value from the pulse as it was) is refused.
        tap = parse_answer_value(late_pulse.questions[0].choices[0].action_value)
        late = answers.record_answer(core, TENANT, DOCTORS[6], *tap).status
    finally:
        worker.shutdown()
    post_summary(core, TENANT, LEADERS)
    return {
        "audience": aud.sync,
        "invited": sent.round.invited,
        "pulses": pulses,
        "asked": asked,
        "notes": notes,
        "thanks": thanks,
        "reminded": reminded,
        "closed": closed,
        "late": late,
    }


def test_a_whole_round_on_a_plain_text_platform(db_url):
    clock = FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/London")))
    core, gw = make_core(db_url, clock)
    try:
        out = run_round(core, gw, clock)
        with core.db.Session() as s:
            stored = s.scalar(select(func.count(Response.id)))
            comments = list(s.scalars(select(Comment.text)))
    finally:
        core.db.dispose()

    # The audience came from the platform; the bot and the deactivated account were left out.
    assert out["audience"].humans == len(DOCTORS) and out["invited"] == len(DOCTORS)
    # Each doctor got exactly one pulse, as text: the questions, their choices, the promise.
    assert gw.calls.count(("send_dm", "dm:bot-1")) == 0
    for user in DOCTORS:
        (pulse,) = out["pulses"][user]
        assert "Your medical engagement pulse" in pulse and "Open until Sunday 29 November" in pulse
        assert all(f"\n{n}. " in pulse for n in range(1, out["asked"] + 1))
        assert "1 = Strongly disagree | 2 = Disagree" in pulse
        assert "leaders only ever see groups of 5 or more" in pulse
        assert "*" not in pulse and "<@" not in pulse  # the light marks are the adapter's to draw
    # Taps were answered with a note for the doctor (returned, not kept in the conversation).
    assert all(n.startswith("✅ Question") for n in out["notes"].values())
    assert f"All {out['asked']} answered" in out["notes"][(ANSWERING[0], out["asked"])]
    assert stored == out["asked"] * len(ANSWERING)
    assert out["thanks"].startswith("Thank you") and comments == [
        "The *rota* gaps on nights are unsafe."
    ]
    # Reminders went to those who had not answered, and only to them.
    for user in DOCTORS:
        expected = 1 if user in ANSWERING else 2
        assert len(out["reminded"][user]) == expected, user
    assert "gentle reminder" in out["reminded"][DOCTORS[7]][1]
    # Closed: every conversation reads the same single closed message, answered or not.
    assert {tuple(out["closed"][u]) for u in DOCTORS} == {(CLOSED,)}
    assert gw.calls.count(("delete", f"dm:{DOCTORS[7]}")) == 1
    assert out["late"] == "closed"
    # The summary reached the leaders' channel as text, with its chart.
    (post,) = gw.channel(LEADERS)
    assert post.text.startswith("TEXT TRUST · MEDICAL ENGAGEMENT PULSE")
    assert (
        "\nHeadline engagement: " in post.text and "\n6 of 8 doctors answered (75%)\n" in post.text
    )
    assert "Comments this pulse: 1" in post.text
    assert "No figure from fewer than 5 people." in post.text
    (chart,) = post.images
    assert chart.png.startswith(b"\x89PNG") and chart.alt
    # Nothing asked of the platform what it cannot do.
    assert {op for op, _ in gw.calls} <= {"members", "send_dm", "update", "delete", "post_channel"}


def test_an_ambiguous_send_without_read_back_reaches_each_doctor_once(db_url):
    """A send that was delivered but looked like a timeout is sent again with the same tag, and
    the adapter's at-most-once send answers with the first message: no look-up, no duplicate."""
    clock = FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/London")))
    core, gw = make_core(db_url, clock)
    gw.ambiguous |= {DOCTORS[0], DOCTORS[3]}
    gw.blocked.add(DOCTORS[7])
    worker = DeliveryWorker(core, concurrency=2, backoff=0.01)
    try:
        ensure_team(core, TENANT)
        operations.set_audience(core, TENANT, "admin", SOURCE, "doctors")
        operations.send_now(core, TENANT, "admin")
        _drain(worker)
        with core.db.Session() as s:
            status = dict(
                s.execute(
                    select(Participant.user_id, Delivery.status).join(
                        Participant, Participant.id == Delivery.participant_id
                    )
                ).all()
            )
    finally:
        worker.shutdown()
        core.db.dispose()
    assert all(len(gw.dm(u)) == 1 for u in DOCTORS[:7]) and gw.dm(DOCTORS[7]) == []
    assert gw.calls.count(("send_dm (already sent)", f"dm:{DOCTORS[0]}")) == 1
    assert not [c for c in gw.calls if c[0] == "find_sent"]
    assert status == {**dict.fromkeys(DOCTORS[:7], "sent"), DOCTORS[7]: "undeliverable"}


BLOCKER = """
import importlib.abc, sys, types
BANNED = ("slack_sdk", "slack_bolt", "integrations", "simulator", "server")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BANNED:
            raise ImportError(f"the core imported {name}")
sys.meta_path.insert(0, Block())
# Stand-in for the one import storage.models still makes (it registers slack_sdk's OAuth tables
# through integrations.slack.oauth_store until the "ids" branch moves that to the migrations):
# these three stubs, and nothing else of the banned packages, may be loaded.
STUBS = ("integrations", "integrations.slack", "integrations.slack.oauth_store")
for name in STUBS:
    sys.modules[name] = types.ModuleType(name)
sys.modules["integrations.slack"].oauth_store = sys.modules[STUBS[2]]
sys.modules[STUBS[2]].register = lambda metadata: None
from datetime import datetime
from zoneinfo import ZoneInfo
from bot.clock import FakeClock
from tests import test_text_platform as t
clock = FakeClock(datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Europe/London")))
core, gw = t.make_core(sys.argv[1], clock)
out = t.run_round(core, gw, clock)
assert {tuple(out["closed"][u]) for u in t.DOCTORS} == {(t.CLOSED,)}, out["closed"]
assert len(gw.channel(t.LEADERS)) == 1
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BANNED and m not in STUBS)
assert not loaded, loaded
print("no slack")
"""


def test_the_round_needs_no_slack(db_url):
    """The same round in a fresh interpreter where importing Slack's SDKs, the Slack or Teams
    adapters, the simulator or the server fails: it runs, and none of them was loaded."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER, db_url],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("no slack")
