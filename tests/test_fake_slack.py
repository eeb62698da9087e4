"""The fake Slack Web API and the signed-request sender, proven with the real slack_sdk.

Everything here talks HTTP to a real local server, because that is the contract other
tests rely on: if the real ``WebClient`` works against the fake, the app will too.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import types
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from simulator.fake_slack import FakeSlack
from simulator.slack_requests import SlackSender, compute_signature, view_state

SECRET = "test-signing-secret"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        server.add_user("U1", real_name="Dr Ada Lovelace", email="ada@trust.nhs.uk")
        server.add_user("U2", real_name="Dr Bo")
        server.add_channel("C0LEAD", "leadership", ["U1", "U2"])
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    web = WebClient(token=fake.bot_token, base_url=fake.api_url, timeout=5)
    web.retry_handlers = []  # each test opts in to retries explicitly
    return web


# ---------------------------------------------------------------------- Web API basics


def test_auth_test_and_bad_token(fake: FakeSlack, client: WebClient) -> None:
    resp = client.auth_test()
    assert (resp["team_id"], resp["user_id"]) == ("T0001", "UBOT")
    assert fake.api_url.endswith("/api/")
    with pytest.raises(SlackApiError) as err:
        WebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test()
    assert err.value.response["error"] == "invalid_auth"
    assert [c.succeeded for c in fake.calls_to("auth.test")] == [True, False]


def test_dm_by_user_id_returns_dm_channel_and_ts(fake: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="U1", text="Pulse time")
    second = client.chat_postMessage(channel="U1", text="Reminder")
    assert first["channel"] == "DU1"
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["text"] == "Pulse time"
    dms = fake.dms_to("U1")
    assert [c.params["text"] for c in dms] == ["Pulse time", "Reminder"]
    assert dms[0].token == fake.bot_token and dms[0].status == 200


def test_post_errors(fake: FakeSlack, client: WebClient) -> None:
    fake.add_channel("C0SECRET", "secret", ["U1"], is_private=True, bot_member=False)
    fake.set_undeliverable("U2", "messages_tab_disabled")
    for channel, error in [
        ("U404", "channel_not_found"),
        ("C0SECRET", "not_in_channel"),
        ("U2", "messages_tab_disabled"),
    ]:
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel=channel, text="x")
        assert err.value.response["error"] == error
    assert fake.dms_to("U2") == []


def test_chat_update_changes_stored_message(fake: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "How was your week?"}}]
    posted = client.chat_postMessage(channel="U1", text="q", blocks=blocks)
    client.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="Thanks, recorded", blocks=[]
    )
    stored = fake.message(posted["channel"], posted["ts"])
    assert stored is not None
    assert (stored.text, stored.blocks, stored.edits) == ("Thanks, recorded", [], 1)
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel=posted["channel"], ts="1.000000", text="nope")
    assert err.value.response["error"] == "message_not_found"


def test_conversations_members_paginates_with_sdk_iterator(
    fake: FakeSlack, client: WebClient
) -> None:
    people = [f"U{i:04d}" for i in range(250)]
    fake.add_channel("C0BIG", "all-doctors", people, bot_member=False)
    pages = [page["members"] for page in client.conversations_members(channel="C0BIG", limit=100)]
    assert [len(p) for p in pages] == [100, 100, 50]
    assert sum(pages, []) == people
    with pytest.raises(SlackApiError) as err:
        client.conversations_members(channel="C0NOPE")
    assert err.value.response["error"] == "channel_not_found"


def test_users_info_and_not_found(client: WebClient) -> None:
    user = client.users_info(user="U1")["user"]
    assert user["profile"]["email"] == "ada@trust.nhs.uk"
    assert user["tz"] == "Europe/London" and user["is_bot"] is False
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U404")
    assert err.value.response["error"] == "user_not_found"


def test_files_upload_v2_end_to_end(fake: FakeSlack, client: WebClient) -> None:
    png = b"\x89PNG\r\n\x1a\n fake chart bytes"
    resp = client.files_upload_v2(
        channel="C0LEAD", content=png, filename="chart.png", title="Weekly pulse"
    )
    file_id = resp["file"]["id"]
    assert resp["file"]["title"] == "Weekly pulse"
    upload = fake.uploaded_files[file_id]
    assert upload.data == png and upload.channels == ["C0LEAD"] and upload.completed


def test_views_and_home(fake: FakeSlack, client: WebClient) -> None:
    modal = {"type": "modal", "callback_id": "cfg", "title": {"type": "plain_text", "text": "x"}}
    opened = client.views_open(trigger_id="1.2.abc", view=modal)["view"]
    assert opened["id"].startswith("V")
    client.views_update(view_id=opened["id"], view={**modal, "callback_id": "cfg2"})
    assert fake.views[opened["id"]]["callback_id"] == "cfg2"
    client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    client.views_publish(user_id="U1", view={"type": "home", "blocks": [{"type": "divider"}]})
    assert fake.home_views["U1"]["blocks"] == [{"type": "divider"}]


def test_multiple_workspaces(fake: FakeSlack) -> None:
    fake.add_team("T0002", "xoxb-two", "UBOT2")
    fake.add_user("U9", team_id="T0002")
    two = WebClient(token="xoxb-two", base_url=fake.api_url)
    assert two.auth_test()["user_id"] == "UBOT2"
    two.chat_postMessage(channel="U9", text="hi")
    with pytest.raises(SlackApiError):
        two.users_info(user="U1")  # other workspace's member
    assert len(fake.dms_to("U9", team_id="T0002")) == 1


# ---------------------------------------------------------------------- faults


def test_429_surfaces_retry_after_then_retry_handler_retries(
    fake: FakeSlack, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=3)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="U1", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "3"
    assert err.value.response["error"] == "ratelimited"

    slept: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=slept.append))
    client.retry_handlers = [RateLimitErrorRetryHandler(max_retry_count=1)]
    fake.fail_next("chat.postMessage", status=429, retry_after=2)
    assert client.chat_postMessage(channel="U1", text="x")["ok"]
    assert len(slept) == 1 and slept[0] >= 2
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 429, 200]
    assert len(fake.dms_to("U1")) == 1


def test_fail_next_503_before_and_after_effect(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="U1", text="x")
    assert err.value.response.status_code == 503
    assert fake.dms_to("U1") == []  # default: nothing was delivered

    fake.fail_next("chat.postMessage", status=503, error_after_effect=True)
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="U1", text="lost reply")
    delivered = fake.dms_to("U1")
    assert len(delivered) == 1 and not delivered[0].succeeded  # delivered, reply lost
    assert client.chat_postMessage(channel="U1", text="ok")["ok"]


def test_rate_limit_token_bucket(fake: FakeSlack, client: WebClient) -> None:
    fake.rate_limit("users.info", per_second=2, burst=2)
    statuses = []
    for _ in range(3):
        try:
            statuses.append(client.users_info(user="U1").status_code)
        except SlackApiError as err:
            statuses.append(err.response.status_code)
            assert int(err.response.headers["Retry-After"]) >= 1
    assert statuses == [200, 200, 429]
    assert client.auth_test()["ok"]  # other methods are not limited
    time.sleep(0.55)  # one token refills at 2/s
    assert client.users_info(user="U1")["ok"]


def test_error_rate_is_deterministic_with_seed(fake: FakeSlack, client: WebClient) -> None:
    def run() -> list[int]:
        fake.reset_calls()
        fake.error_rate("auth.test", status=500, rate=0.3, seed=7)
        for _ in range(30):
            try:
                client.auth_test()
            except SlackApiError:
                pass
        return [c.status for c in fake.calls_to("auth.test")]

    first, second = run(), run()
    assert first == second and 500 in first and 200 in first


def test_slow_calls_overlap(fake: FakeSlack, client: WebClient) -> None:
    # Eight calls are held (a slow Slack) all at once: a server that answered one at a time
    # would never have eight waiting together.
    held = fake.hold("auth.test")
    with ThreadPoolExecutor(8) as pool:
        results = pool.map(lambda _: client.auth_test()["ok"], range(8))
        assert held.wait_until_waiting(8), "the fake did not serve slow calls concurrently"
        assert fake.calls_to("auth.test") == []  # held before any effect
        held.release()
        assert all(results)


def test_malformed_requests_do_not_kill_server(fake: FakeSlack, client: WebClient) -> None:
    def post(path: str, body: bytes, ctype: str) -> int:
        req = urllib.request.Request(fake.base_url + path, data=body, method="POST")
        req.add_header("Content-Type", ctype)
        req.add_header("Authorization", f"Bearer {fake.bot_token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    assert post("/api/chat.postMessage", b"{not json", "application/json") == 200
    assert fake.calls_to("chat.postMessage")[-1].error == "invalid_json"
    assert post("/api/chat.postMessage", b"\xff\xfe\x00", "multipart/form-data; boundary=x") == 200
    assert post("/api/chat.postMessage", b"[1, 2]", "application/json") == 200
    assert post("/nowhere", b"", "text/plain") == 404
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        sock.sendall(b"POST /api/auth.test HTTP/1.1\r\nContent-Length: banana\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 400")
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        sock.sendall(b"\x00\x01garbage\r\n\r\n")
    with pytest.raises(SlackApiError) as err:
        client.api_call("no.such.method")
    assert err.value.response["error"] == "unknown_method"
    assert client.auth_test()["ok"]


def test_response_url_posts_are_recorded(fake: FakeSlack) -> None:
    url = fake.response_url("abc")
    body = json.dumps({"text": "Recorded", "replace_original": True}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200
    assert [p.body["text"] for p in fake.response_posts("abc")] == ["Recorded"]


def _post_json(url: str, body: dict) -> int:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def test_message_bound_response_url_replaces_and_deletes_the_original(fake: FakeSlack) -> None:
    fake.add_user("U1")
    client = WebClient(token=fake.bot_token, base_url=fake.api_url)
    posted = client.chat_postMessage(channel="U1", text="before", blocks=[])
    channel, ts = posted["channel"], posted["ts"]
    url = fake.response_url_for_message(channel, ts)

    # Without replace_original nothing is edited (Slack posts a new message instead).
    assert _post_json(url, {"text": "aside", "response_type": "ephemeral"}) == 200
    assert fake.message(channel, ts).text == "before"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "after"}}]
    assert _post_json(url, {"text": "after", "blocks": blocks, "replace_original": True}) == 200
    msg = fake.message(channel, ts)
    assert (msg.text, msg.blocks, msg.edits) == ("after", blocks, 1)
    assert not fake.calls_to("chat.update")

    assert _post_json(url, {"delete_original": True}) == 200
    assert fake.message(channel, ts) is None
    assert _post_json(url, {"text": "again", "replace_original": True}) == 404


# ---------------------------------------------------------------------- OAuth


def test_oauth_exchange_and_refresh_rotation(fake: FakeSlack) -> None:
    fake.add_oauth_code("code-1", "T0009", "St Elsewhere", "xoxe.xoxb-9", "U77", "xoxe-1-r0", 43200)
    anon = WebClient(base_url=fake.api_url)
    installed = anon.oauth_v2_access(client_id="cid", client_secret="sec", code="code-1")
    assert installed["access_token"] == "xoxe.xoxb-9" and installed["token_type"] == "bot"
    assert installed["team"] == {"id": "T0009", "name": "St Elsewhere"}
    assert installed["authed_user"]["id"] == "U77" and installed["enterprise"] is None
    assert installed["refresh_token"] == "xoxe-1-r0" and installed["expires_in"] == 43200
    with pytest.raises(SlackApiError) as err:
        anon.oauth_v2_access(client_id="cid", client_secret="sec", code="code-1")
    assert err.value.response["error"] == "invalid_code"

    rotated = anon.oauth_v2_access(
        client_id="cid", client_secret="sec", grant_type="refresh_token", refresh_token="xoxe-1-r0"
    )
    new_token, new_refresh = rotated["access_token"], rotated["refresh_token"]
    assert new_token != "xoxe.xoxb-9" and new_refresh != "xoxe-1-r0"
    old_client = WebClient(token="xoxe.xoxb-9", base_url=fake.api_url)
    assert old_client.auth_test()["team_id"] == "T0009"  # still valid until the new one is used
    assert WebClient(token=new_token, base_url=fake.api_url).auth_test()["team_id"] == "T0009"
    with pytest.raises(SlackApiError):
        old_client.auth_test()
    with pytest.raises(SlackApiError) as err:
        anon.oauth_v2_access(
            client_id="c", client_secret="s", grant_type="refresh_token", refresh_token="xoxe-1-r0"
        )
    assert err.value.response["error"] == "invalid_refresh_token"


# ---------------------------------------------------------------------- SlackSender


class _Capture(BaseHTTPRequestHandler):
    """A stand-in app that records what it was sent and acks with 200."""

    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def capture() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []
    handler = type("Handler", (_Capture,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slack/events", received
    server.shutdown()
    server.server_close()


def test_signature_verifies_with_slack_sdk() -> None:
    sender = SlackSender("http://127.0.0.1:9/slack/events", SECRET)
    body = b"token=x&text=hello"
    headers = sender.signed_headers(body)
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    stale = sender.signed_headers(body, int(time.time()) - 600)
    assert not SignatureVerifier(SECRET).is_valid_request(body, stale)
    assert compute_signature(SECRET, 1, "b") == compute_signature(SECRET, "1", b"b")


def test_sender_requests_are_slack_shaped_and_signed(fake: FakeSlack, capture: Any) -> None:
    url, received = capture
    sender = SlackSender(url, SECRET, response_url_base=fake.response_url_base)
    verifier = SignatureVerifier(SECRET)

    reply = sender.slash("status", "U1")
    assert reply.status == 200 and reply.json() == {}
    assert reply.response_url == fake.response_url(reply.response_key or "")
    headers, body = received[-1]
    assert verifier.is_valid_request(body, headers)
    form = dict(urllib.parse.parse_qsl(body.decode()))
    assert form["command"] == "/pulse" and form["user_id"] == "U1" and form["text"] == "status"
    assert {"team_id", "channel_id", "trigger_id", "api_app_id", "response_url"} <= set(form)

    msg = {"type": "message", "ts": "1700000000.000100", "text": "q", "channel": "DU1"}
    sender.block_action("U1", "answer", "4", block_id="q1", message=msg)
    headers, body = received[-1]
    assert verifier.is_valid_request(body, headers)
    payload = json.loads(dict(urllib.parse.parse_qsl(body.decode()))["payload"])
    assert payload["type"] == "block_actions" and payload["channel"]["id"] == "DU1"
    assert payload["actions"][0] == {**payload["actions"][0], "action_id": "answer", "value": "4"}
    assert payload["container"]["message_ts"] == msg["ts"]
    assert payload["response_url"].endswith(f"~DU1~{msg['ts']}")

    sender.view_submission("U1", "schedule", {"when": {"day": "Mon"}}, private_metadata="m")
    payload = json.loads(dict(urllib.parse.parse_qsl(received[-1][1].decode()))["payload"])
    assert payload["view"]["state"]["values"] == view_state({"when": {"day": "Mon"}})
    assert payload["view"]["state"]["values"]["when"]["day"]["value"] == "Mon"

    sender.event({"type": "app_home_opened", "user": "U1"}, retry_num=1)
    headers, body = received[-1]
    assert verifier.is_valid_request(body, headers)
    envelope = json.loads(body)
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert headers["X-Slack-Retry-Num"] == "1"

    sender.raw(b"payload=%7B", stale=True)
    assert not verifier.is_valid_request(received[-1][1], received[-1][0])
    sender.raw(b"x=1", sign=False)
    assert "X-Slack-Signature" not in received[-1][0]


def test_sender_returns_error_statuses_as_replies(fake: FakeSlack) -> None:
    sender = SlackSender(fake.base_url + "/not-an-app", SECRET)
    reply = sender.url_verification("challenge-1")
    assert reply.status == 404 and reply.json()["ok"] is False
