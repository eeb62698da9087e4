"""``TeamsGateway`` as the core's ChatGateway, against the fake Bot Connector over real HTTP and
a real database: 1:1s created once and remembered, views rendered as cards, at-most-once sends
under ambiguous failures (the design that replaces Slack's read-back), errors as the core's,
charts inline within Teams' limits, rosters page by page."""

from __future__ import annotations

import base64
import io
import random
import struct
from datetime import UTC, datetime

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from bot.chat import errors, views
from bot.chat.gateway import ChatGateway
from bot.chat.ids import MessageRef
from bot.clock import FakeClock
from integrations.msteams import cards
from integrations.msteams.connector import BotConnector, TokenSource
from integrations.msteams.gateway import DeliveryUncertain, TeamsGateway
from integrations.msteams.routes import DM, TEAM, Routes
from simulator.fake_teams import FakeTeams, answer_buttons
from storage.models import ChatRoute, SentMessage, Workspace

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def pulse_view(round_id: int = 7) -> views.PulseView:
    choices = tuple(
        views.Choice(v, label, f"{round_id}:31:{v}")
        for v, label in ((1, "Strongly disagree"), (3, "Neutral"), (5, "Strongly agree"))
    )
    return views.PulseView(
        round_id=round_id,
        intro="*Your anonymous pulse*: 1 quick question, 30 seconds.",
        questions=(views.QuestionView(31, 1, "I feel valued by the trust.", choices),),
        privacy="🔒 Anonymous: leaders only ever see groups of 5 or more.",
        closes="Friday 28 November",
        fallback="Your anonymous medical engagement pulse",
    )


@pytest.fixture
def world(database):
    with FakeTeams() as fake:
        doctors = [fake.add_user() for _ in range(7)]
        team = fake.add_team("Trust doctors", doctors, installed=True)
        with database.Session() as s, s.begin():
            s.add(Workspace(team_id=fake.tenant_id, name="Trust", created_at=NOW))
        clock = FakeClock(NOW)
        routes = Routes(database, clock, fake.tenant_id)
        routes.save(TEAM, team.id, fake.service_url, name=team.name)
        sleeps: list[float] = []
        tokens = TokenSource(
            fake.app_id,
            fake.app_password,
            fake.token_url.replace("{tenant}", fake.tenant_id),
            sleep=sleeps.append,
        )
        client = BotConnector(
            tokens,
            app_id=fake.app_id,
            tenant_id=fake.tenant_id,
            sleep=sleeps.append,
            rng=random.Random(3),
            timeout=(2.0, 0.5),
        )
        yield fake, TeamsGateway(client, routes), doctors, team, database


def test_it_is_a_chat_gateway_for_teams_without_read_back():
    gw: ChatGateway = TeamsGateway.__new__(TeamsGateway)
    assert gw.platform == "teams"
    caps = TeamsGateway.capabilities
    assert (caps.read_back, caps.ephemeral, caps.response_url, caps.home) == (
        False,
        False,
        False,
        False,
    )


def test_a_dm_creates_the_1to1_once_and_remembers_where_it_lives(world):
    fake, gw, doctors, _team, db = world
    first = gw.send_dm(doctors[0].id, views.TextView("hello"))
    second = gw.send_dm(doctors[0].id, views.TextView("again"))
    assert first.conversation == second.conversation
    assert len(fake.ops("create_conversation")) == 1
    assert [m.payload["text"] for m in fake.messages_to(doctors[0])] == ["hello", "again"]
    with db.Session() as s:
        route = s.scalar(select(ChatRoute).where(ChatRoute.kind == DM))
    assert (route.key, route.conversation_id, route.service_url) == (
        doctors[0].id,
        first.conversation,
        fake.service_url,
    )


def test_a_pulse_is_a_card_whose_buttons_carry_only_the_cores_action_values(world):
    fake, gw, doctors, _team, _db = world
    gw.send_dm(doctors[0].id, pulse_view(), tag="pulse:1")
    [sent] = fake.messages_to(doctors[0])
    card = sent.payload["attachments"][0]["content"]
    answers = answer_buttons(card)
    assert [a["data"] for a in answers] == [
        {"answer": "7:31:1"},
        {"answer": "7:31:3"},
        {"answer": "7:31:5"},
    ]
    assert "**Your anonymous pulse**" in card["body"][0]["text"]  # Slack *bold* as Teams **bold**
    assert doctors[0].id not in str(card) and doctors[0].aad_object_id not in str(card)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 504, "after_effect": True},  # posted, reply lost
        {"status": 502, "after_effect": False},  # maybe not posted: we cannot know
        {"status": 500, "after_effect": True},
    ],
)
def test_an_ambiguous_send_is_never_made_again_under_its_tag(world, fault):
    fake, gw, doctors, _team, db = world
    gw.dm_conversation(doctors[1].id)
    fake.fail_next("send", **fault)
    with pytest.raises(DeliveryUncertain):
        gw.send_dm(doctors[1].id, pulse_view(), tag="pulse:2")
    landed = len(fake.messages_to(doctors[1]))
    assert landed == (1 if fault["after_effect"] else 0)
    for _ in range(3):  # the core's retries, a restart, another worker: all refused
        with pytest.raises(DeliveryUncertain):
            gw.send_dm(doctors[1].id, pulse_view(), tag="pulse:2")
    assert len(fake.messages_to(doctors[1])) == landed
    assert isinstance(DeliveryUncertain("x"), errors.Permanent)
    with db.Session() as s:
        assert s.scalar(select(SentMessage.state).where(SentMessage.tag == "pulse:2")) == (
            "uncertain"
        )


def test_a_send_cut_off_by_a_timeout_after_posting_is_uncertain(world):
    fake, gw, doctors, _team, _db = world
    gw.dm_conversation(doctors[2].id)
    fake.stall_next("send", 1.5)
    with pytest.raises(DeliveryUncertain):
        gw.send_dm(doctors[2].id, pulse_view(), tag="pulse:3")
    with pytest.raises(DeliveryUncertain):
        gw.send_dm(doctors[2].id, pulse_view(), tag="pulse:3")
    assert len(fake.messages_to(doctors[2])) == 1


def test_a_process_that_died_mid_send_leaves_the_tag_refused(world):
    fake, gw, doctors, _team, _db = world
    assert gw.routes.claim("pulse:4") is None  # claimed, then the process "died"
    with pytest.raises(DeliveryUncertain):
        gw.send_dm(doctors[3].id, pulse_view(), tag="pulse:4")
    assert fake.messages_to(doctors[3]) == []


def test_a_certain_refusal_releases_the_tag_and_the_retry_sends_exactly_one(world):
    fake, gw, doctors, _team, _db = world
    gw.dm_conversation(doctors[4].id)
    fake.fail_next("send", 503, count=gw.client.attempts)
    with pytest.raises(errors.Transient):
        gw.send_dm(doctors[4].id, pulse_view(), tag="pulse:5")
    assert fake.messages_to(doctors[4]) == []
    ref = gw.send_dm(doctors[4].id, pulse_view(), tag="pulse:5")
    again = gw.send_dm(doctors[4].id, pulse_view(), tag="pulse:5")  # already sent: same ref
    assert ref == again and len(fake.messages_to(doctors[4])) == 1
    assert gw.find_sent(doctors[4].id, "pulse:5", 0) == ref


def test_throttling_that_outlasts_the_retries_is_rate_limited_with_retry_after(world):
    fake, gw, doctors, _team, _db = world
    gw.dm_conversation(doctors[5].id)
    fake.fail_next("send", 429, count=gw.client.attempts, retry_after=7)
    with pytest.raises(errors.RateLimited) as caught:
        gw.send_dm(doctors[5].id, pulse_view(), tag="pulse:6")
    assert caught.value.retry_after == 7
    assert fake.messages_to(doctors[5]) == []
    gw.send_dm(doctors[5].id, pulse_view(), tag="pulse:6")
    assert len(fake.messages_to(doctors[5])) == 1


@pytest.mark.parametrize("status", [412, 502, 503, 504])
def test_gateway_errors_on_repeatable_calls_are_transient(world, status):
    fake, gw, doctors, _team, _db = world
    fake.fail_next("create_conversation", status, count=gw.client.attempts)
    with pytest.raises(errors.Transient):
        gw.send_dm(doctors[6].id, views.TextView("hi"), tag="t:1")
    assert gw.routes.sent("t:1") is None  # released: nothing was posted


def test_a_doctor_who_blocked_the_app_is_undeliverable_at_once(world):
    fake, gw, doctors, _team, _db = world
    fake.block(doctors[0])
    with pytest.raises(errors.Undeliverable) as caught:
        gw.send_dm(doctors[0].id, pulse_view(), tag="pulse:8")
    assert caught.value.error == "MessageWritesBlocked"
    assert len(fake.ops("send")) == 1  # not retried


def test_someone_outside_every_installed_team_is_undeliverable(world):
    fake, gw, _doctors, _team, _db = world
    stranger = fake.add_user()
    with pytest.raises(errors.Undeliverable):
        gw.send_dm(stranger.id, views.TextView("hi"))


def test_update_and_delete_act_on_the_message_by_reference(world):
    fake, gw, doctors, _team, _db = world
    ref = gw.send_dm(doctors[0].id, pulse_view(), tag="pulse:9")
    gw.update(ref, views.ClosedPulseView("This pulse has closed. Thank you."))
    [msg] = fake.messages_to(doctors[0])
    assert msg.edits == 1
    body = msg.payload["attachments"][0]["content"]
    assert "actions" not in body and body["body"][0]["text"].startswith("This pulse has closed")
    gw.delete(ref)
    gw.delete(ref)  # a repeat is success
    assert fake.messages_to(doctors[0]) == []


def _png(width: int, height: int, noise: bool = False) -> bytes:
    img = PILImage.new("RGB", (width, height), "white")
    if noise:
        img = PILImage.frombytes(
            "RGB", (width, height), random.Random(1).randbytes(width * height * 3)
        )
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def test_a_summary_goes_to_the_teams_channel_with_its_chart_scaled_within_limits(world):
    fake, gw, _doctors, team, _db = world
    big = _png(2400, 1500, noise=True)  # 2400 px wide and over 1 MB
    assert len(big) > cards.MAX_IMAGE_BYTES
    summary = views.SummaryView(
        title="Trust · weekly summary",
        headline="*31 of 40* doctors answered.",
        sections=(views.Section("Strengths", ("Teamwork 78% favourable",)),),
        fallback="Weekly summary",
        footer="Groups under 5 are never shown.",
    )
    ref = gw.post_channel(team.id, summary, views.Image(big, alt="Engagement by week"))
    [posted] = fake.channel_messages(team)
    assert ref == MessageRef(team.id, posted.id)
    [image] = [
        b for b in posted.payload["attachments"][0]["content"]["body"] if b["type"] == "Image"
    ]
    png = base64.b64decode(image["url"].split(",", 1)[1])
    width, height = struct.unpack(">II", png[16:24])
    assert max(width, height) <= 1024 and len(png) <= cards.MAX_IMAGE_BYTES
    assert abs(width / height - 2400 / 1500) < 0.01
    assert image["altText"] == "Engagement by week"


def test_a_chart_within_limits_is_sent_untouched(world):
    fake, gw, _doctors, team, _db = world
    small = _png(800, 500)
    summary = views.SummaryView("T", "H", (), "F")
    gw.post_channel(team.id, summary, views.Image(small, alt="a"))
    [posted] = fake.channel_messages(team)
    [image] = [
        b for b in posted.payload["attachments"][0]["content"]["body"] if b["type"] == "Image"
    ]
    assert base64.b64decode(image["url"].split(",", 1)[1]) == small


def test_members_come_page_by_page_and_channel_info_names_the_team(world):
    fake, gw, doctors, team, _db = world
    members = list(gw.members(team.id))
    assert [m.user_id for m in members] == [d.id for d in doctors]
    assert members[0].email == doctors[0].email
    info = gw.channel_info(team.id)
    assert (info.id, info.name, info.shared_outside) == (team.id, "Trust doctors", False)
    with pytest.raises(errors.Permanent):
        gw.channel_info("19:unknown@thread.tacv2")


def test_a_roster_longer_than_a_page_is_read_whole(world):
    fake, gw, _doctors, _team, _db = world
    many = [fake.add_user() for _ in range(230)]
    big = fake.add_team("Everyone", many, installed=True)
    gw.routes.save(TEAM, big.id, fake.service_url, name=big.name)
    assert len({m.user_id for m in gw.members(big.id)}) == 230
    assert len(fake.ops("members")) == 3  # 100 + 100 + 30
