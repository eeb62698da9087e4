"""One round on Teams end to end, over HTTP, with a stand-in for the core.

The core cannot serve Teams yet (issue 15); ``MiniCore`` below plays its part in the fewest
lines (install, audience from the roster, outbox, answers, close, summary, admin check) so that
everything else is real: signed activities into ``/api/messages``, the Bot Connector client and
the fake Bot Connector with injected faults, and the cards. It is the shape the real adapter
will have, and a check that the gateway offers what a round needs.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from integrations.msteams import cards, events  # noqa: E402
from integrations.msteams.auth import KeySet, TokenVerifier  # noqa: E402
from integrations.msteams.connector import BotConnector, Outcome, TokenSource  # noqa: E402
from integrations.msteams.gateway import TeamsGateway  # noqa: E402
from integrations.msteams.web import TeamsEndpoint, TextReply  # noqa: E402
from server.web import HttpServer  # noqa: E402
from simulator.fake_teams import FakeTeams  # noqa: E402

AGREE5 = [
    {"value": str(v), "label": label}
    for v, label in enumerate(
        ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"], 1
    )
]
QUESTIONS = [
    {"id": "v1", "text": "I feel valued by the trust.", "options": AGREE5},
    {"id": "v2", "text": "My views are listened to.", "options": AGREE5},
]


class MiniCore:
    """A stand-in for the core: just enough state to run one round through the gateway."""

    def __init__(self, gateway: TeamsGateway, admins: set[str]) -> None:
        self.gateway = gateway
        self.admins = admins  # Entra ID object IDs
        self.team: events.Conversation | None = None
        self.outbox: dict[str, object] = {}  # user id -> Sent (identity side)
        self.answered: dict[str, dict[str, str]] = {}  # user id -> answers (open round only)
        self.responses: list[tuple[str, str]] = []  # anonymous: (question, value)
        self.comments: list[str] = []  # anonymous
        self.refused: list[str] = []

    def __call__(self, event):
        if isinstance(event, events.Installed):
            self.team = event.conversation
        elif isinstance(event, events.Message):
            return self._command(event)
        elif isinstance(event, events.CardAction):
            return self._tap(event)
        return None

    def _command(self, event: events.Message):
        if event.sender.aad_object_id not in self.admins:
            self.refused.append(event.text)
            return None
        if event.text == "send now":
            self.send_round()
        return None

    def send_round(self) -> None:
        assert self.team is not None
        members = self.gateway.roster(self.team.service_url, self.team.team_id)
        for member in members:
            if member.id in self.outbox:
                continue
            to = self.gateway.open_dm(self.team.service_url, member.id)
            self.outbox[member.id] = self.gateway.send_pulse(to, self._view())

    def _view(self) -> cards.PulseView:
        return {"ref": "round-1", "questions": QUESTIONS, "k": 5, "closes": "Friday"}

    def _tap(self, event: events.CardAction):
        if event.verb == "comment":
            text = str(event.data.get("comment", "")).strip()
            if text:
                self.comments.append(text)
            return TextReply("Thank you: your comment is recorded anonymously.")
        mine = self.answered.setdefault(event.sender.id, {})
        mine[event.data["q"]] = event.data["v"]
        self.responses.append((event.data["q"], event.data["v"]))
        label = next(o["label"] for o in AGREE5 if o["value"] == event.data["v"])
        return TextReply(cards.recorded(label, len(mine), len(QUESTIONS)))

    def close(self) -> None:
        for sent in self.outbox.values():
            if sent.ref is not None:
                self.gateway.close_pulse(sent.ref)
        self.answered.clear()


def _chart() -> bytes:
    fig = plt.figure(figsize=(8, 5), dpi=100)
    fig.add_subplot().plot([1, 2, 3, 4], [6.1, 6.3, 6.2, 6.6])
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


@pytest.fixture
def world():
    with FakeTeams() as fake:
        admin = fake.add_user("Dr Admin")
        doctors = [fake.add_user() for _ in range(40)]
        team = fake.add_team("Trust doctors", [admin, *doctors])
        leaders = fake.add_team("Medical leadership", [admin], installed=True)
        tokens = TokenSource(
            fake.app_id,
            fake.app_password,
            fake.token_url.replace("{tenant}", fake.tenant_id),
            sleep=lambda s: None,
        )
        connector = BotConnector(
            tokens, app_id=fake.app_id, tenant_id=fake.tenant_id, sleep=lambda s: None
        )
        core = MiniCore(TeamsGateway(connector), admins={admin.aad_object_id})
        endpoint = TeamsEndpoint(TokenVerifier(fake.app_id, KeySet(fake.openid_url)), core)
        server = HttpServer(endpoint, host="127.0.0.1", port=0, threads=4).start()
        try:
            yield fake, f"{server.url}/api/messages", core, admin, doctors, team, leaders
        finally:
            server.stop()


def test_a_round_on_teams_reaches_every_member_once_and_closes_the_same_for_all(world):
    fake, url, core, admin, doctors, team, leaders = world
    fake.install(team)
    assert fake.post(url, fake.installed_activity(team, by=admin)).status_code == 200
    assert core.team is not None and core.team.team_id == team.id

    # A non-admin cannot start a round; nothing is sent.
    assert fake.post(url, fake.message(doctors[0], "send now", team=team)).status_code == 200
    assert core.refused == ["send now"] and fake.ops("send") == []

    # The admin starts it; the connector meets throttling and refusals on the way.
    fake.block(doctors[1])
    for status in (429, 412, 503, 429):
        fake.fail_next("send", status)
    fake.fail_next("members", 504)
    assert fake.post(url, fake.message(admin, "send now", team=team)).status_code == 200
    assert len(core.outbox) == 41
    assert core.outbox[doctors[1].id].outcome is Outcome.UNDELIVERABLE
    everyone_else = [admin, doctors[0], *doctors[2:]]
    assert all(len(fake.messages_to(p)) == 1 for p in everyone_else)
    assert fake.messages_to(doctors[1]) == []

    # Two doctors answer by tapping the card they got, one also comments.
    for doctor, value in ((doctors[2], "4"), (doctors[3], "2")):
        [sent] = fake.messages_to(doctor)
        card = sent.payload["attachments"][0]["content"]
        button = next(
            a
            for row in card["body"]
            if row["type"] == "ActionSet"
            for a in row["actions"]
            if a["data"]["q"] == "v1" and a["data"]["v"] == value
        )
        reply = fake.post(url, fake.card_action(doctor, "answer", button["data"], sent.id))
        assert reply.status_code == 200 and reply.json()["value"].startswith("✅ Recorded")
    comment = fake.card_action(
        doctors[2], "comment", {"pulse": "round-1", "comment": "More rota notice"}
    )
    assert fake.post(url, comment).json()["value"].startswith("Thank you")
    assert sorted(core.responses) == [("v1", "2"), ("v1", "4")]
    assert core.comments == ["More rota notice"]

    # Close: every delivered card becomes the same neutral card, answered or not.
    core.close()
    closed = [fake.messages_to(p)[0].payload["attachments"] for p in everyone_else]
    assert all(c == closed[0] for c in closed)
    assert closed[0][0]["content"] == cards.closed_card()
    assert all(fake.messages_to(p)[0].edits == 1 for p in everyone_else)

    # The summary goes to the leadership team's channel with its chart inline.
    sent = core.gateway.post_summary(
        fake.service_url, leaders.id, "Weekly summary", ["2 of 41 doctors answered"], _chart()
    )
    assert sent.outcome is Outcome.SENT
    [summary] = fake.channel_messages(leaders)
    images = [
        b for b in summary.payload["attachments"][0]["content"]["body"] if b["type"] == "Image"
    ]
    assert len(images) == 1 and images[0]["url"].startswith("data:image/png;base64,")
