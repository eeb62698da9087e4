"""Small helpers for end-to-end tests: waiting for background work, building a trust in the fake."""

from __future__ import annotations

import time
from collections.abc import Callable

from simulator.fake_slack import FakeSlack


def wait_for(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition"):
    """Poll until ``cond()`` is truthy: listeners finish their work after the ack."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def deliver_all(core) -> None:
    """Send every queued DM with a fresh delivery worker, then shut it down."""
    from bot.delivery.outbox import DeliveryWorker

    worker = DeliveryWorker(core, concurrency=4, backoff=0.01)
    try:
        while worker.run_once():
            pass
    finally:
        worker.shutdown()


def start_round(fake: FakeSlack, slack, worker, n: int) -> list[str]:
    """``n`` doctors made the audience by the admin, a round sent now, every pulse delivered."""
    from tests.conftest import ADMIN

    ids = doctors(fake, n)
    reply = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="audience synced")
    reply = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="send now")
    while worker.run_once():
        pass
    return ids


def cli_env(fake: FakeSlack, db_url: str) -> dict[str, str]:
    """The environment for a `medpulse` subprocess pointed at the fake Slack and the test database
    (none of the caller's own Slack or database settings leak in)."""
    import os

    from tests.conftest import SECRET, TOKEN

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))},
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": db_url,
    }


def doctors(fake: FakeSlack, n: int, channel: str = "C0DOCTORS", prefix: str = "UDOC") -> list[str]:
    """A channel of ``n`` doctors, plus a bot and a deactivated account that must be left out."""
    ids = [f"{prefix}{i:04d}" for i in range(n)]
    for uid in ids:
        fake.add_user(uid, name=uid.lower(), email=f"{uid.lower()}@nhs.example")
    fake.add_user("UBOTX", name="otherbot", is_bot=True)
    fake.add_user("UGONE", name="gone", deleted=True)
    fake.add_channel(channel, "doctors", members=[*ids, "UBOTX", "UGONE"])
    return ids


def dms_of_kind(fake: FakeSlack, user: str, kind: str) -> list:
    """Delivered DMs to ``user`` tagged ``pulse`` or ``reminder`` in their message metadata."""
    out = []
    for call in fake.dms_to(user):
        meta = call.params.get("metadata") or {}
        tag = (meta.get("event_payload") or {}).get("tag", "")
        if tag.startswith(kind + ":"):
            out.append(call)
    return out


def pulse_message(fake: FakeSlack, user: str):
    """The one pulse DM a doctor received (asserting it is exactly one), as Slack holds it now."""
    dms = dms_of_kind(fake, user, "pulse")
    assert len(dms) == 1, f"{user} got {len(dms)} pulse DMs"
    resp = dms[0].response
    return fake.message(resp["channel"], resp["ts"])


def answer_buttons(message) -> list[dict]:
    """Per question, its list of answer buttons, from the message as Slack holds it now."""
    out = []
    for block in message.blocks or []:
        if block["type"] == "actions" and block.get("block_id", "").startswith("q-"):
            out.append(block["elements"])
    return out


def dm_history(fake: FakeSlack, user: str) -> list[dict]:
    """What the bot token reads from its DM with ``user`` through the Web API, newest first
    (what anyone holding the token, or a workspace export, sees)."""
    from slack_sdk import WebClient

    client = WebClient(token=fake.bot_token, base_url=fake.api_url)
    resp = client.conversations_history(channel="D" + user, limit=1000, include_all_metadata=True)
    return resp["messages"]


def tap_notes(fake: FakeSlack, user: str) -> list[str]:
    """Notes only ``user`` saw in their DM (ephemeral: through a response URL bound to a message
    of that DM, or chat.postEphemeral), oldest first. Slack keeps none of them."""
    out = [
        str(p.body.get("text"))
        for p in fake.response_posts()
        if isinstance(p.body, dict)
        and p.body.get("response_type") == "ephemeral"
        and f"~D{user}~" in p.key
    ]
    out += [str(e["text"]) for e in fake.ephemerals if e["user"] == user]
    return out
