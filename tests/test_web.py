"""The HTTP front door: signatures, malformed bodies, health checks, and that it keeps serving."""

from __future__ import annotations

import json
import urllib.request

import pytest

MALFORMED = [
    (b"", "application/x-www-form-urlencoded"),
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
    (b"a=1&&=&%zz", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00binary", "application/octet-stream"),
    (b"payload=[1]", "application/x-www-form-urlencoded"),
]


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_url_verification_returns_the_challenge(slack):
    reply = slack.url_verification("abc123")
    assert reply.status == 200
    assert reply.json()["challenge"] == "abc123"


def test_forged_signature_is_401(slack):
    body = b"token=x&command=%2Fpulse&text=help&team_id=T0001&user_id=U1"
    reply = slack.raw(body, signature="v0=" + "0" * 64)
    assert reply.status == 401


def test_stale_signature_is_401(slack):
    reply = slack.raw(b"token=x&command=%2Fpulse&text=help", stale=True)
    assert reply.status == 401


def test_missing_signature_headers_is_401(slack):
    reply = slack.raw(b"command=%2Fpulse", sign=False)
    assert reply.status == 401


@pytest.mark.parametrize("body,ctype", MALFORMED)
@pytest.mark.parametrize("signed", [True, False])
def test_malformed_bodies_get_4xx_and_the_server_keeps_serving(slack, server, body, ctype, signed):
    reply = slack.raw(body, content_type=ctype, sign=signed)
    assert 400 <= reply.status < 500, (reply.status, reply.body_text)
    assert get(server.url + "/healthz") == (200, {"ok": True})
    assert slack.url_verification("still-alive").json()["challenge"] == "still-alive"


def test_health_and_readiness(server):
    assert get(server.url + "/healthz")[0] == 200
    status, body = get(server.url + "/readyz")
    assert status == 200 and body["database"] == "reachable"


def test_readiness_fails_when_the_database_is_gone(server, core):
    from storage.db import Database

    core.db = Database.connect("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert get(server.url + "/readyz")[0] == 503
    assert get(server.url + "/healthz")[0] == 200


def test_unknown_path_is_404(server):
    assert get(server.url + "/nope")[0] == 404


def test_get_on_events_is_405(server):
    assert get(server.url + "/slack/events")[0] == 405


def test_the_body_is_parsed_once_as_bolt_would_and_a_forged_parse_cannot_slip_in(slack, fake):
    # A slash command whose text says "payload": Bolt's own parser took any body containing
    # that word for a JSON payload and dropped the command; the guard reads the form's fields.
    reply = slack.slash("payload please", "UNOBODY")
    assert reply.status == 200
    assert "payload" in reply.json()["text"] and "/pulse help" in reply.json()["text"]
    # Bolt still checks the signature of the exact bytes, over the guard's parse.
    assert slack.raw(b"command=%2Fpulse&text=help", signature="v0=" + "1" * 64).status == 401


def test_parse_slack_body_matches_what_slack_sends():
    from server.web import parse_slack_body

    form = "application/x-www-form-urlencoded"
    assert parse_slack_body(form, b"payload=%7B%22type%22%3A%22block_actions%22%7D") == {
        "type": "block_actions"
    }
    assert parse_slack_body(form, b"command=%2Fpulse&text=a+payload+b") == {
        "command": "/pulse",
        "text": "a payload b",
    }
    assert parse_slack_body("application/json; charset=utf-8", b'{"type": "event_callback"}') == {
        "type": "event_callback"
    }
    assert parse_slack_body(form, b"text=no+command") is None
    assert parse_slack_body("text/plain", b"command=%2Fpulse") is None
