"""Adaptive Cards from plain data: one-tap answers that round-trip through a signed invoke,
the neutral closed card, and Teams' size limits (checked here and enforced by the fake)."""

from __future__ import annotations

import copy
import io
import json
import random

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from bot.fake_teams import FakeTeams  # noqa: E402
from bot.msteams import cards, events  # noqa: E402
from bot.msteams.auth import KeySet, TokenVerifier  # noqa: E402
from bot.msteams.connector import BotConnector, TokenSource, TooBig  # noqa: E402
from bot.msteams.web import CardReply, TeamsEndpoint  # noqa: E402
from bot.web import HttpServer  # noqa: E402

AGREE5 = [
    {"value": "1", "label": "Strongly disagree"},
    {"value": "2", "label": "Disagree"},
    {"value": "3", "label": "Neither"},
    {"value": "4", "label": "Agree"},
    {"value": "5", "label": "Strongly agree"},
]
SCALE0_10 = [{"value": str(v), "label": str(v)} for v in range(11)]


def view(**chosen: str) -> cards.PulseView:
    return {
        "ref": "round-12",
        "k": 5,
        "closes": "Friday 14 March",
        "questions": [
            {
                "id": "v7",
                "text": "I feel valued by the trust.",
                "options": AGREE5,
                "chosen": chosen.get("v7"),
            },
            {
                "id": "v9",
                "text": "How likely are you to recommend this trust as a place to work?",
                "options": SCALE0_10,
                "chosen": chosen.get("v9"),
                "hint": "0 = not at all · 10 = completely",
            },
        ],
    }


def actions(card: dict) -> list[dict]:
    """Every action in a card, wherever it sits (found by verb and data, never position)."""
    found: list[dict] = []

    def walk(node):
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Action."):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


def answer_button(card: dict, q: str, v: str) -> dict:
    [button] = [
        a
        for a in actions(card)
        if a["verb"] == "answer" and a["data"]["q"] == q and a["data"]["v"] == v
    ]
    return button


def test_every_option_is_one_tap_carrying_only_the_views_data():
    card = cards.pulse_card(view())
    assert card["version"] == "1.4" and card["type"] == "AdaptiveCard"
    taps = [a for a in actions(card) if a["verb"] == "answer"]
    assert len(taps) == 5 + 11
    assert all(a["type"] == "Action.Execute" for a in actions(card))
    assert {a["verb"] for a in actions(card)} <= set(cards.VERBS)
    assert {tuple(sorted(a["data"])) for a in taps} == {("pulse", "q", "v")}
    assert {a["data"]["pulse"] for a in actions(card)} == {"round-12"}
    rows = [b for b in json.loads(json.dumps(card))["body"] if b["type"] == "ActionSet"]
    assert max(len(r["actions"]) for r in rows) <= cards.ROW
    [comment] = [b for b in card["body"] if b.get("type") == "Input.Text"]
    assert comment["id"] == "comment" and comment["maxLength"] == 2000
    assert any("groups of 5 or more" in b.get("text", "") for b in card["body"])


def test_a_chosen_answer_is_shown_and_highlighted():
    card = cards.pulse_card(view(v7="4"))
    assert answer_button(card, "v7", "4")["style"] == "positive"
    assert "style" not in answer_button(card, "v7", "5")
    text = json.dumps(card)
    assert "Recorded: Agree" in text and "Not now" not in text
    done = json.dumps(cards.pulse_card(view(v7="4", v9="8")))
    assert "All answers recorded" in done


def test_a_comment_typed_before_an_answer_tap_survives_the_redraw():
    redrawn = cards.pulse_card({**view(v7="2"), "comment_draft": "Rota gaps every weekend"})
    [box] = [b for b in redrawn["body"] if b.get("type") == "Input.Text"]
    assert box["value"] == "Rota gaps every weekend"
    [box] = [b for b in cards.pulse_card(view())["body"] if b.get("type") == "Input.Text"]
    assert "value" not in box


def test_the_closed_card_is_neutral_and_the_same_for_everyone():
    answered = cards.closed_card()
    silent = cards.closed_card()
    assert answered == silent
    assert actions(answered) == []
    assert "round-12" not in json.dumps(answered)


def _png(width: int, height: int) -> bytes:
    fig = plt.figure(figsize=(width / 100, height / 100), dpi=100)
    fig.add_subplot().plot([1, 2, 3], [6.1, 6.4, 6.3])
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return out.getvalue()


def _noisy_png(side: int) -> bytes:
    """A PNG that does not compress: side² × 3 random bytes."""
    from PIL import Image

    image = Image.frombytes("RGB", (side, side), random.Random(2).randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_image_and_message_limits_are_checked_before_sending():
    ok = cards.summary_card("Weekly summary", ["42 of 59 doctors, 71%"], _png(800, 500), "trend")
    cards.message(ok, "Weekly summary")
    with pytest.raises(cards.CardTooBig, match="1024"):
        cards.summary_card("Weekly summary", [], _png(1100, 500))
    with pytest.raises(cards.CardTooBig, match="bytes"):
        cards.check_image(_noisy_png(620))
    with pytest.raises(cards.CardTooBig, match="100 KB"):
        cards.message(cards.summary_card("Comments", ["x" * 2000] * 60), "Comments")


@pytest.fixture
def fake():
    with FakeTeams() as f:
        yield f


def test_a_pulse_goes_out_and_a_tap_on_it_comes_back_as_the_updated_card(fake):
    doctor = fake.add_user()
    fake.add_team("Trust doctors", [doctor], installed=True)
    tokens = TokenSource(
        fake.app_id, fake.app_password, fake.token_url.replace("{tenant}", fake.tenant_id)
    )
    conn = BotConnector(tokens, app_id=fake.app_id, tenant_id=fake.tenant_id)
    conv = conn.create_personal_conversation(fake.service_url, doctor.id)
    activity_id = conn.send(
        fake.service_url, conv, cards.message(cards.pulse_card(view()), "Pulse")
    )
    [posted] = fake.messages_to(doctor)
    sent_card = posted.payload["attachments"][0]["content"]

    recorded: dict[str, str] = {}

    def handler(event):
        assert isinstance(event, events.CardAction) and event.verb == "answer"
        recorded[event.data["q"]] = event.data["v"]
        return CardReply(cards.pulse_card(view(**recorded)))

    endpoint = TeamsEndpoint(TokenVerifier(fake.app_id, KeySet(fake.openid_url)), handler)
    server = HttpServer(endpoint, host="127.0.0.1", port=0, threads=2).start()
    try:
        button = answer_button(sent_card, "v9", "8")
        tap = fake.card_action(doctor, button["verb"], copy.deepcopy(button["data"]), activity_id)
        resp = fake.post(f"{server.url}/api/messages", tap)
    finally:
        server.stop()
    assert resp.status_code == 200
    new_card = resp.json()["value"]
    assert answer_button(new_card, "v9", "8")["style"] == "positive"
    assert recorded == {"v9": "8"}


def test_the_fake_refuses_what_the_check_would_have_caught(fake):
    doctor = fake.add_user()
    fake.add_team("Trust doctors", [doctor], installed=True)
    tokens = TokenSource(
        fake.app_id, fake.app_password, fake.token_url.replace("{tenant}", fake.tenant_id)
    )
    conn = BotConnector(tokens, app_id=fake.app_id, tenant_id=fake.tenant_id)
    conv = conn.create_personal_conversation(fake.service_url, doctor.id)
    big = {
        "type": "message",
        "attachments": [
            {"contentType": cards.CARD_TYPE, "content": cards.summary_card("x", ["y" * 2000] * 60)}
        ],
    }
    assert cards.message_bytes(big) > cards.MAX_MESSAGE_BYTES
    with pytest.raises(TooBig):
        conn.send(fake.service_url, conv, big)
    chart = cards.message(cards.summary_card("Summary", ["ok"], _noisy_png(450)), "Summary")
    assert len(json.dumps(chart)) > cards.MAX_MESSAGE_BYTES  # the image does not count
    conn.send(fake.service_url, conv, chart)
    assert len(fake.messages_to(doctor)) == 1
