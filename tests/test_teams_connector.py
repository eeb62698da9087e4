"""The Bot Connector client against the fake over real HTTP: tokens, the six calls, Teams'
retry rules, and the at-most-once send under injected faults (before and after the effect)."""

from __future__ import annotations

import random

import pytest

from integrations.msteams.connector import (
    BotConnector,
    DeliveryUncertain,
    GaveUp,
    Outcome,
    TokenError,
    TokenSource,
    TooBig,
    Undeliverable,
)
from simulator.fake_teams import FakeTeams


class Sleeps(list):
    """Records the waits the client asks for instead of waiting (tests never time)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake():
    with FakeTeams() as f:
        yield f


def make_connector(fake: FakeTeams, **kwargs) -> tuple[BotConnector, Sleeps]:
    sleeps = Sleeps()
    tokens = TokenSource(
        fake.app_id,
        fake.app_password,
        fake.token_url.replace("{tenant}", fake.tenant_id),
        sleep=sleeps,
    )
    kwargs.setdefault("rng", random.Random(7))
    conn = BotConnector(
        tokens, app_id=fake.app_id, tenant_id=fake.tenant_id, sleep=sleeps, **kwargs
    )
    return conn, sleeps


def card(text: str = "Pulse") -> dict:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{"type": "TextBlock", "text": text}],
                },
            }
        ],
    }


@pytest.fixture
def doctor_conv(fake):
    doctor = fake.add_user()
    fake.add_team("Trust doctors", [doctor], installed=True)
    conn, sleeps = make_connector(fake)
    conv = conn.create_personal_conversation(fake.service_url, doctor.id)
    return doctor, conv, conn, sleeps


def test_a_1to1_is_created_once_per_doctor_and_needs_the_app_installed(fake):
    doctor, outsider = fake.add_user(), fake.add_user()
    fake.add_team("Trust doctors", [doctor], installed=True)
    conn, _ = make_connector(fake)
    first = conn.create_personal_conversation(fake.service_url, doctor.id)
    assert conn.create_personal_conversation(fake.service_url, doctor.id) == first
    with pytest.raises(Exception) as refused:
        conn.create_personal_conversation(fake.service_url, outsider.id)
    assert getattr(refused.value, "status", None) == 403
    sent = fake.ops("create_conversation")[0].body
    assert sent["channelData"]["tenant"]["id"] == fake.tenant_id
    assert sent["members"] == [{"id": doctor.id}]


def test_send_update_delete_act_on_the_doctors_chat(fake, doctor_conv):
    doctor, conv, conn, _ = doctor_conv
    activity_id = conn.send(fake.service_url, conv, card("Pulse 1"))
    conn.update(fake.service_url, conv, activity_id, card("Answer recorded"))
    [message] = fake.messages_to(doctor)
    assert message.id == activity_id and message.edits == 1
    assert message.payload["attachments"][0]["content"]["body"][0]["text"] == "Answer recorded"
    conn.delete(fake.service_url, conv, activity_id)
    conn.delete(fake.service_url, conv, activity_id)  # a repeat finds it gone: still fine
    assert fake.messages_to(doctor) == []


def test_the_token_is_fetched_once_and_refreshed_when_refused(fake, doctor_conv):
    doctor, conv, conn, _ = doctor_conv
    for _ in range(3):
        conn.send(fake.service_url, conv, card())
    assert conn.tokens.fetches == 1
    fake.expire_tokens()
    conn.send(fake.service_url, conv, card())
    assert conn.tokens.fetches == 2
    assert len(fake.messages_to(doctor)) == 4
    assert [c.status for c in fake.ops("send")][-2:] == [401, 201]


def test_a_wrong_password_is_one_clear_error(fake):
    tokens = TokenSource(fake.app_id, "wrong", fake.token_url.replace("{tenant}", fake.tenant_id))
    with pytest.raises(TokenError) as err:
        tokens.get()
    assert err.value.status == 401 and err.value.code == "invalid_client"


def test_members_are_read_page_by_page(fake):
    doctors = [fake.add_user() for _ in range(250)]
    team = fake.add_team("Trust doctors", doctors, installed=True)
    conn, _ = make_connector(fake)
    members = list(conn.members(fake.service_url, team.id, page_size=100))
    assert [m.id for m in members] == [d.id for d in doctors]
    assert members[0].aad_object_id == doctors[0].aad_object_id
    assert len(fake.ops("members")) == 3


@pytest.mark.parametrize("status", [429, 412, 503])
def test_refusals_are_retried_and_the_doctor_gets_exactly_one(fake, doctor_conv, status):
    doctor, conv, conn, sleeps = doctor_conv
    fake.fail_next("send", status, count=3, retry_after=7)
    conn.send(fake.service_url, conv, card())
    assert len(fake.messages_to(doctor)) == 1
    assert [c.status for c in fake.ops("send")] == [status] * 3 + [201]
    assert len(sleeps) == 3
    if status == 429:
        assert all(s >= 7 for s in sleeps)


def test_backoff_grows_exponentially_with_jitter(fake, doctor_conv):
    doctor, conv, conn, sleeps = doctor_conv
    fake.fail_next("send", 503, count=5)
    conn.send(fake.service_url, conv, card())
    for attempt, wait in enumerate(sleeps):
        cap = conn.base_delay * 2**attempt
        assert cap / 2 <= wait <= cap
    assert sleeps[-1] > sleeps[0] * 4


@pytest.mark.parametrize("status", [502, 504, 500])
@pytest.mark.parametrize("after_effect", [False, True])
def test_an_ambiguous_send_is_never_repeated(fake, doctor_conv, status, after_effect):
    doctor, conv, conn, _ = doctor_conv
    fake.fail_next("send", status, after_effect=after_effect)
    result = conn.send_once(fake.service_url, conv, card())
    assert result.outcome is Outcome.UNCERTAIN
    assert len(fake.ops("send")) == 1
    assert len(fake.messages_to(doctor)) == (1 if after_effect else 0)


def test_a_timeout_after_posting_is_uncertain_and_not_repeated(fake, doctor_conv):
    doctor, conv, conn, _ = doctor_conv
    conn.timeout = (3.0, 0.3)
    fake.stall_next("send", 1.5)
    with pytest.raises(DeliveryUncertain):
        conn.send(fake.service_url, conv, card())
    assert len(fake.messages_to(doctor)) == 1
    assert len(fake.ops("send")) == 1


@pytest.mark.parametrize("status", [502, 504])
def test_calls_safe_to_repeat_are_retried_on_gateway_errors(fake, doctor_conv, status):
    doctor, conv, conn, _ = doctor_conv
    activity_id = conn.send(fake.service_url, conv, card("v1"))
    fake.fail_next("update", status, count=2, after_effect=True)
    conn.update(fake.service_url, conv, activity_id, card("v2"))
    [message] = fake.messages_to(doctor)
    assert message.payload["attachments"][0]["content"]["body"][0]["text"] == "v2"
    fake.fail_next("create_conversation", status)
    assert conn.create_personal_conversation(fake.service_url, doctor.id) == conv


def test_a_blocked_doctor_is_undeliverable_at_once(fake, doctor_conv):
    doctor, conv, conn, sleeps = doctor_conv
    fake.block(doctor)
    with pytest.raises(Undeliverable):
        conn.send(fake.service_url, conv, card())
    assert len(fake.ops("send")) == 1 and sleeps == []
    assert conn.send_once(fake.service_url, conv, card()).outcome is Outcome.UNDELIVERABLE


def test_a_message_over_100_kb_is_too_big_and_not_retried(fake, doctor_conv):
    doctor, conv, conn, _ = doctor_conv
    with pytest.raises(TooBig):
        conn.send(fake.service_url, conv, card("x" * 110_000))
    assert len(fake.ops("send")) == 1
    assert fake.messages_to(doctor) == []


def test_refused_every_time_is_certainly_not_sent(fake, doctor_conv):
    doctor, conv, conn, sleeps = doctor_conv
    fake.fail_next("send", 429, count=conn.attempts, retry_after=1)
    result = conn.send_once(fake.service_url, conv, card())
    assert result.outcome is Outcome.NOT_SENT
    assert len(fake.ops("send")) == conn.attempts
    assert fake.messages_to(doctor) == []


def test_a_service_that_cannot_be_reached_is_retried_as_never_sent(fake):
    conn, sleeps = make_connector(fake, attempts=3)
    with pytest.raises(GaveUp):
        conn.send("http://127.0.0.1:9/teams/", "a:1x", card())
    assert len(sleeps) == 2


def test_a_round_under_mixed_faults_reaches_everyone_at_most_once(fake):
    """An outbox pass and a second pass (a restarted worker): refusals retried, ambiguous sends
    marked uncertain and left alone, blocked doctors undeliverable; nobody gets two."""
    doctors = [fake.add_user() for _ in range(60)]
    fake.add_team("Trust doctors", doctors, installed=True)
    fake.block(doctors[0])
    conn, _ = make_connector(fake)
    for status in (429, 412, 503, 429, 503):
        fake.fail_next("send", status)
    fake.fail_next("*", 504, after_effect=True)  # the next call of any kind; created 1:1s repeat
    outbox: dict[str, Outcome] = {}
    for _pass in range(2):
        for doctor in doctors:
            if outbox.get(doctor.id) in (None, Outcome.NOT_SENT):
                conv = conn.create_personal_conversation(fake.service_url, doctor.id)
                if doctor is doctors[30]:
                    fake.fail_next("send", 502, after_effect=True)
                outbox[doctor.id] = conn.send_once(fake.service_url, conv, card()).outcome
    counts = [len(fake.messages_to(d)) for d in doctors]
    assert max(counts) == 1
    assert outbox[doctors[0].id] is Outcome.UNDELIVERABLE and counts[0] == 0
    assert outbox[doctors[30].id] is Outcome.UNCERTAIN and counts[30] == 1
    sent = [d for d in doctors if outbox[d.id] is Outcome.SENT]
    assert len(sent) == 58 and all(len(fake.messages_to(d)) == 1 for d in sent)
