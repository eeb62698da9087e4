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

from bot.chat import views  # noqa: E402
from integrations.msteams import cards, events  # noqa: E402
from integrations.msteams.auth import KeySet, TokenVerifier  # noqa: E402
from integrations.msteams.connector import BotConnector, TokenSource, TooBig  # noqa: E402
from integrations.msteams.web import TeamsEndpoint, TextReply  # noqa: E402
from server.web import HttpServer  # noqa: E402
from simulator.fake_teams import FakeTeams  # noqa: E402
from tests.blockkit import nodes

AGREE5 = (
    (1, "Strongly disagree"),
    (2, "Disagree"),
    (3, "Neutral"),
    (4, "Agree"),
    (5, "Strongly agree"),
)
SCALE0_10 = tuple((v, str(v)) for v in range(11))


def _question(version_id: int, number: int, text: str, scale, hint=None) -> views.QuestionView:
    choices = tuple(views.Choice(v, label, f"12:{version_id}:{v}") for v, label in scale)
    return views.QuestionView(version_id, number, text, choices, hint)


def view() -> views.PulseView:
    return views.PulseView(
        round_id=12,
        intro="*Your medical engagement pulse* · 2 quick questions, about 30 seconds.",
        questions=(
            _question(7, 1, "I feel valued by the trust.", AGREE5),
            _question(
                9,
                2,
                "How likely are you to recommend this trust as a place to work?",
                SCALE0_10,
                "0 = not at all · 10 = completely",
            ),
        ),
        privacy="🔒 Anonymous: leaders only ever see groups of 5 or more.",
        closes="Friday 14 March",
        fallback="Your anonymous pulse",
    )


CLOSED = views.ClosedPulseView("This pulse has closed. Thank you; look out for the next one.")


def actions(card: dict) -> list[dict]:
    """Every action in a card, wherever it sits (found by verb and data, never position)."""
    return nodes(card, lambda n: str(n.get("type", "")).startswith("Action."))


def answer_button(card: dict, q: str, v: str) -> dict:
    [button] = [
        a for a in actions(card) if a["verb"] == "answer" and a["data"]["answer"] == f"12:{q}:{v}"
    ]
    return button


def test_every_option_is_one_tap_carrying_only_the_views_data():
    card = cards.pulse_card(view())
    assert card["version"] == "1.4" and card["type"] == "AdaptiveCard"
    taps = [a for a in actions(card) if a["verb"] == "answer"]
    assert len(taps) == 5 + 11
    assert all(a["type"] == "Action.Execute" for a in actions(card))
    assert {a["verb"] for a in actions(card)} <= set(cards.VERBS)
    assert {tuple(sorted(a["data"])) for a in taps} == {("answer",)}
    assert {a["data"]["pulse"] for a in actions(card) if a["verb"] != "answer"} == {"12"}
    rows = [b for b in json.loads(json.dumps(card))["body"] if b["type"] == "ActionSet"]
    assert max(len(r["actions"]) for r in rows) <= cards.ROW
    for r in rows:  # each row fits a phone, so no label is cut short
        labels = [a["title"] for a in r["actions"]]
        width = sum(cards.CHAR_PX * len(t) + cards.BUTTON_PX for t in labels)
        assert width + cards.GAP_PX * (len(labels) - 1) <= cards.ROW_PX, labels
    [comment] = [b for b in card["body"] if b.get("type") == "Input.Text"]
    assert comment["id"] == "comment" and comment["maxLength"] == 2000
    assert any("groups of 5 or more" in b.get("text", "") for b in card["body"])


def test_a_five_point_scale_takes_two_rows_in_its_own_order_and_numbers_six_a_row():
    agree = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]
    assert cards.rows(agree) == [[0, 1, 2], [3, 4]]
    assert cards.rows([str(i) for i in range(11)]) == [list(range(6)), list(range(6, 11))]
    assert cards.rows(["Yes", "No", "Unsure"]) == [[0, 1, 2]]
    assert cards.rows(["A very long answer label that fills a row alone", "x"]) == [[0], [1]]


def test_the_card_carries_nothing_about_the_person_and_a_tap_is_answered_by_a_toast():
    assert cards.pulse_card(view()) == cards.pulse_card(view())
    assert "Recorded" not in json.dumps(cards.pulse_card(view()))
    assert cards.recorded("Agree", 1, 2) == (
        "✅ Recorded anonymously: Agree. Tap another to change it. 1 to go."
    )
    assert cards.recorded("8", 2, 2).endswith("All answered: thank you.")


def test_the_closed_card_is_neutral_and_the_same_for_everyone():
    answered = cards.render(CLOSED)
    silent = cards.render(CLOSED)
    assert answered == silent
    assert actions(answered) == []
    assert "12:" not in json.dumps(answered)


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


def summary(lines: list[str], title: str = "Weekly summary") -> views.SummaryView:
    return views.SummaryView(title, "", (views.Section("", tuple(lines)),), title)


def test_image_and_message_limits_are_checked_before_sending():
    ok = cards.summary_card(summary(["42 of 59 doctors, 71%"]), views.Image(_png(800, 500), "t"))
    cards.message(ok, "Weekly summary")
    with pytest.raises(cards.CardTooBig, match="1024"):
        cards.check_image(_png(1100, 500))
    with pytest.raises(cards.CardTooBig, match="bytes"):
        cards.check_image(_noisy_png(620))
    shrunk = cards.fit_image(_noisy_png(620))  # what the gateway sends instead
    cards.check_image(shrunk)
    with pytest.raises(cards.CardTooBig, match="100 KB"):
        cards.message(cards.summary_card(summary(["x" * 2000] * 60)), "Comments")


@pytest.fixture
def fake():
    with FakeTeams() as f:
        yield f


def test_a_pulse_goes_out_and_a_tap_on_it_comes_back_as_a_toast(fake):
    doctor = fake.add_user()
    fake.add_team("Trust doctors", [doctor], installed=True)
    tokens = TokenSource(
        fake.app_id, fake.app_password, fake.token_url.replace("{tenant}", fake.tenant_id)
    )
    conn = BotConnector(tokens, app_id=fake.app_id, tenant_id=fake.tenant_id)
    conv = conn.create_personal_conversation(fake.service_url, doctor.id)
    activity_id = conn.send(fake.service_url, conv, cards.render(view()))
    [posted] = fake.messages_to(doctor)
    sent_card = posted.payload["attachments"][0]["content"]

    recorded: dict[str, str] = {}

    def handler(event):
        assert isinstance(event, events.CardAction) and event.verb == "answer"
        _round, q, v = event.data["answer"].split(":")
        recorded[q] = v
        return TextReply(cards.recorded(v, len(recorded), 2))

    endpoint = TeamsEndpoint(TokenVerifier(fake.app_id, KeySet(fake.openid_url)), handler)
    server = HttpServer(endpoint, host="127.0.0.1", port=0, threads=2).start()
    try:
        button = answer_button(sent_card, "9", "8")
        tap = fake.card_action(doctor, button["verb"], copy.deepcopy(button["data"]), activity_id)
        resp = fake.post(f"{server.url}/api/messages", tap)
    finally:
        server.stop()
    assert resp.status_code == 200
    assert resp.json() == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": cards.recorded("8", 1, 2),
    }
    assert recorded == {"9": "8"}
    assert fake.messages_to(doctor)[0].edits == 0  # nothing about the answer in the chat


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
            {
                "contentType": cards.CARD_TYPE,
                "content": cards.summary_card(summary(["y" * 2000] * 60)),
            }
        ],
    }
    assert cards.message_bytes(big) > cards.MAX_MESSAGE_BYTES
    with pytest.raises(TooBig):
        conn.send(fake.service_url, conv, big)
    chart = cards.render(summary(["ok"]), views.Image(_noisy_png(450), "chart"))
    assert len(json.dumps(chart)) > cards.MAX_MESSAGE_BYTES  # the image does not count
    conn.send(fake.service_url, conv, chart)
    assert len(fake.messages_to(doctor)) == 1


def test_cards_name_commands_as_teams_takes_them_without_slash_pulse():
    """Teams has no slash commands: a summary's "read them with `/pulse comments`" must say
    `comments`, the message a leader sends the bot."""
    from bot.chat import views as v

    summary = v.SummaryView(
        title="Summary",
        headline="Comments this pulse: 3 (read them with `/pulse comments`)",
        sections=(v.Section("Closing the loop", ("Share back with /pulse share first.",)),),
        fallback="See /pulse status",
        footer="",
    )
    activity = cards.render(summary)
    text = json.dumps(activity)
    assert "/pulse" not in text
    assert "read them with `comments`" in text and "Share back with share first" in text
