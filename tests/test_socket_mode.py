"""Socket Mode end to end: `medpulse run` with SLACK_APP_TOKEN connects over the fake Slack's
WebSocket and the same listeners answer there (slash commands, answer taps)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.admin.operations import set_audience
from bot.delivery.outbox import DeliveryWorker
from bot.rounds.lifecycle import create_round
from integrations.slack.listeners.app import socket_mode
from server.runtime import build_core
from storage.models import Response
from tests.conftest import ADMIN, make_settings
from tests.helpers import answer_buttons, doctors, pulse_message, tap_notes, wait_for

APP_TOKEN = "xapp-1-A0001-test"


def _slash(fake, text: str, user: str) -> dict:
    return {
        "token": "fake-verification-token",
        "team_id": fake.team_id,
        "team_domain": "medpulse-test",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/pulse",
        "text": text,
        "api_app_id": "A0001",
        "response_url": fake.response_url("socket-slash"),
        "trigger_id": "1.2.3",
    }


def _tap(fake, user: str, message, button: dict) -> dict:
    return {
        "type": "block_actions",
        "team": {"id": fake.team_id, "domain": "medpulse-test"},
        "user": {"id": user, "team_id": fake.team_id},
        "api_app_id": "A0001",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel},
        "channel": {"id": message.channel, "name": "directmessage"},
        "message": message.to_api(),
        "trigger_id": "1.2.4",
        "response_url": fake.response_url_for_message(message.channel, message.ts),
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": "q",
                "value": button["value"],
                "action_ts": "1700000000.000001",
            }
        ],
    }


def test_socket_mode_answers_commands_and_taps(fake, db_url, clock):
    sm = fake.enable_socket_mode(APP_TOKEN)
    core = build_core(make_settings(fake, db_url, SLACK_APP_TOKEN=APP_TOKEN), clock=clock)
    listener = socket_mode(core)
    try:
        assert sm.wait_connected(), "the app did not open the Socket Mode connection"
        assert [c.succeeded for c in fake.calls_to("apps.connections.open")] == [True]

        # A slash command: the reply travels back in the envelope's ack.
        ack = sm.ack(sm.send("slash_commands", _slash(fake, "frobnicate", ADMIN)))
        assert ack is not None and "/pulse help" in ack["payload"]["text"]

        # A round made through the core, then one tap over the socket: stored and confirmed.
        ids = doctors(fake, 6)
        audience = set_audience(core, fake.team_id, ADMIN, "C0DOCTORS", "doctors").audience_id
        assert create_round(core, audience, "manual:socket", manual=True).created
        worker = DeliveryWorker(core, concurrency=4, backoff=0.01)
        while worker.run_once():
            pass
        worker.shutdown()
        msg = pulse_message(fake, ids[0])
        button = answer_buttons(msg)[1][3]
        assert sm.ack(sm.send("interactive", _tap(fake, ids[0], msg, button))) is not None
        with core.db.Session() as s:
            assert s.scalar(select(func.count(Response.id))) == 1
            assert s.scalar(select(Response.value)) == int(button["value"].split(":")[2])
        label = button["text"]["text"]
        wait_for(lambda: any(label in n for n in tap_notes(fake, ids[0])), what="tap note")
    finally:
        listener.stop()
        core.stop()
        core.db.dispose()
