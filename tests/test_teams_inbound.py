"""/api/messages over real HTTP: signed activities from the fake Bot Connector reach the
callback as typed events; every forgery is refused with 401/403 and reaches nothing."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.msteams import events
from integrations.msteams.auth import AuthError, KeySet, TokenVerifier
from integrations.msteams.web import CardReply, TeamsEndpoint
from server.web import HttpServer
from simulator.fake_teams import FakeTeams


class Recorder:
    """The callback under test: records events; a tap gets a card back."""

    def __init__(self) -> None:
        self.events: list[events.Event] = []
        self.fail = False

    def __call__(self, event):
        if self.fail:
            raise RuntimeError("core is down")
        self.events.append(event)
        if isinstance(event, events.CardAction):
            return CardReply({"type": "AdaptiveCard", "version": "1.4", "body": []})
        return None


@pytest.fixture
def fake():
    with FakeTeams() as f:
        yield f


@pytest.fixture
def bot(fake):
    recorder = Recorder()
    keys = KeySet(fake.openid_url)
    endpoint = TeamsEndpoint(TokenVerifier(fake.app_id, keys), recorder)
    server = HttpServer(endpoint, host="127.0.0.1", port=0, threads=2).start()
    try:
        yield f"{server.url}/api/messages", recorder, keys
    finally:
        server.stop()


def test_a_signed_message_reaches_the_callback_without_the_mention(fake, bot):
    url, recorder, _ = bot
    doctor = fake.add_user("Dr Ada")
    team = fake.add_team("Trust doctors", [doctor], installed=True)
    resp = fake.post(url, fake.message(doctor, "status", team=team))
    assert resp.status_code == 200
    [event] = recorder.events
    assert isinstance(event, events.Message)
    assert event.text == "status"
    assert event.sender.aad_object_id == doctor.aad_object_id
    assert event.conversation.kind == "channel"
    assert event.conversation.team_id == team.id
    assert event.conversation.tenant_id == fake.tenant_id
    assert event.conversation.service_url == fake.service_url


def test_a_card_tap_gets_the_callbacks_card_as_the_invoke_response(fake, bot):
    url, recorder, _ = bot
    doctor = fake.add_user()
    act = fake.card_action(doctor, "answer", {"ref": "r1", "q": "q1", "v": "4"}, reply_to="123")
    resp = fake.post(url, act)
    assert resp.status_code == 200
    body = resp.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["type"] == "AdaptiveCard"
    [event] = recorder.events
    assert isinstance(event, events.CardAction)
    assert (event.verb, event.data, event.activity_id) == (
        "answer",
        act["value"]["action"]["data"],
        "123",
    )


def test_install_uninstall_and_roster_changes_become_events(fake, bot):
    url, recorder, _ = bot
    admin, newcomer = fake.add_user(), fake.add_user()
    team = fake.add_team("Trust doctors", [admin])
    for act in (
        fake.installed_activity(team, by=admin),
        fake.members_added_activity(team, [newcomer]),
        fake.uninstalled_activity(team, by=admin),
    ):
        assert fake.post(url, act).status_code == 200
    installed, changed, uninstalled = recorder.events
    assert isinstance(installed, events.Installed) and installed.conversation.team_id == team.id
    assert installed.by.aad_object_id == admin.aad_object_id
    assert isinstance(changed, events.MembersChanged)
    assert [p.id for p in changed.added] == [newcomer.id]
    assert isinstance(uninstalled, events.Uninstalled)


def test_installation_update_add_and_remove_are_understood(fake, bot):
    url, recorder, _ = bot
    doctor = fake.add_user()
    act = fake.message(doctor, "")
    for action in ("add", "remove"):
        act = {**act, "type": "installationUpdate", "action": action}
        act.pop("text", None)
        assert fake.post(url, act).status_code == 200
    assert [type(e) for e in recorder.events] == [events.Installed, events.Uninstalled]


def test_kinds_medpulse_ignores_get_200_and_reach_nothing(fake, bot):
    url, recorder, _ = bot
    act = {**fake.message(fake.add_user(), "hi"), "type": "typing"}
    assert fake.post(url, act).status_code == 200
    # (task/fetch was ignored before dialogs; a messaging extension's query still is)
    other_invoke = {**fake.card_action(fake.add_user(), "x", {}), "name": "composeExtension/query"}
    assert fake.post(url, other_invoke).status_code == 200
    assert recorder.events == []


FORGERIES = {
    "no token": dict(authorization=""),
    "not bearer": dict(authorization="Basic dXNlcjpwYXNz"),
    "garbage token": dict(authorization="Bearer not.a.jwt"),
    "forged signature": dict(key="forged"),
    "unknown key id": dict(key="forged", kid="made-up-kid"),
    "hmac confusion": dict(alg="HS256"),
    "expired": dict(expires_in=-301),
    "not yet valid": dict(not_before=400),
    "wrong audience": dict(aud="00000000-0000-0000-0000-000000000bad"),
    "wrong issuer": dict(iss="https://sts.windows.net/evil/"),
    "no expiry": dict(drop=("exp",)),
    "no audience": dict(drop=("aud",)),
}
FORBIDDEN = {
    "unendorsed key": dict(key="webchat"),
    "wrong serviceurl": dict(serviceurl="https://smba.evil.example/teams/"),
    "no serviceurl claim": dict(drop=("serviceurl",)),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forged_tokens_get_401_and_reach_nothing(fake, bot, name):
    url, recorder, _ = bot
    doctor = fake.add_user()
    for act in (fake.message(doctor, "admins add me"), fake.card_action(doctor, "answer", {})):
        resp = fake.post(url, act, **FORGERIES[name])
        assert resp.status_code == 401, (name, resp.text)
    assert recorder.events == []


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_tokens_that_do_not_vouch_for_the_activity_get_403(fake, bot, name):
    url, recorder, _ = bot
    doctor = fake.add_user()
    resp = fake.post(url, fake.message(doctor, "status"), **FORBIDDEN[name])
    assert resp.status_code == 403, resp.text
    assert recorder.events == []


def test_an_activity_moved_to_another_service_url_or_channel_is_refused(fake, bot):
    url, recorder, _ = bot
    doctor = fake.add_user()
    token = fake.token()  # minted for the fake's service URL
    moved = {**fake.message(doctor, "status"), "serviceUrl": "https://attacker.example/"}
    assert fake.post(url, moved, authorization=f"Bearer {token}").status_code == 403
    webchat = {**fake.message(doctor, "status"), "channelId": "webchat"}
    assert fake.post(url, webchat, key="webchat").status_code == 403
    assert recorder.events == []


def test_skew_of_under_five_minutes_is_tolerated_both_ways(fake, bot):
    url, recorder, _ = bot
    doctor = fake.add_user()
    assert fake.post(url, fake.message(doctor, "help"), expires_in=-240).status_code == 200
    ahead = fake.post(url, fake.message(doctor, "help"), now=time.time() + 200)  # their clock
    assert ahead.status_code == 200
    assert len(recorder.events) == 2


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[1, 2]", b'"text"', "\u00ff".encode("latin-1"), b"null"],
)
def test_malformed_bodies_get_400(fake, bot, body):
    url, recorder, _ = bot
    assert fake.post(url, body).status_code == 400
    assert recorder.events == []


def test_a_handled_kind_missing_its_parts_gets_400(fake, bot):
    url, recorder, _ = bot
    doctor = fake.add_user()
    no_sender = fake.message(doctor, "status")
    del no_sender["from"]
    no_action = fake.card_action(doctor, "answer", {})
    no_action["value"] = {"action": {"type": "Action.Submit"}}
    bad_data = fake.card_action(doctor, "answer", {})
    bad_data["value"]["action"]["data"] = "1"
    no_conversation = fake.message(doctor, "status")
    no_conversation["conversation"] = None
    for act in (no_sender, no_action, bad_data, no_conversation):
        assert fake.post(url, act).status_code == 400, act
    assert recorder.events == []


def test_a_forged_request_with_a_malformed_body_is_refused_before_parsing(fake, bot):
    url, recorder, _ = bot
    assert fake.post(url, b"{", key="forged").status_code == 401


def test_get_and_oversized_requests_are_refused(fake, bot):
    import requests

    url, recorder, _ = bot
    assert requests.get(url, timeout=10).status_code == 405
    big = json.dumps({**fake.message(fake.add_user(), "x" * 1_100_000)}).encode()
    assert fake.post(url, big).status_code == 413
    assert recorder.events == []


def test_a_failing_callback_never_becomes_a_500(fake, bot):
    url, recorder, _ = bot
    recorder.fail = True
    doctor = fake.add_user()
    assert fake.post(url, fake.message(doctor, "status")).status_code == 503
    tap = fake.post(url, fake.card_action(doctor, "answer", {"q": "q1"}))
    assert tap.status_code == 200
    assert tap.json()["type"] == "application/vnd.microsoft.error"


def test_keys_are_cached_and_refetched_once_when_teams_rotates_them(fake, bot):
    url, recorder, keys = bot
    doctor = fake.add_user()
    for _ in range(3):
        assert fake.post(url, fake.message(doctor, "help")).status_code == 200
    assert keys.fetches == 1
    keys.min_refresh = 0  # the rotation comes more than a minute later
    fake.rotate_key()
    assert fake.post(url, fake.message(doctor, "help")).status_code == 200
    assert keys.fetches == 2
    assert len(recorder.events) == 4


def test_unknown_key_ids_cannot_make_the_bot_hammer_the_key_server(fake, bot):
    url, recorder, keys = bot
    doctor = fake.add_user()
    assert fake.post(url, fake.message(doctor, "help")).status_code == 200
    for i in range(5):
        resp = fake.post(url, fake.message(doctor, "help"), key="forged", kid=f"kid-{i}")
        assert resp.status_code == 401
    assert keys.fetches == 1
    assert len(fake.ops("keys")) == 1


def test_an_unreachable_key_server_gives_503_not_500(fake):
    recorder = Recorder()
    keys = KeySet("http://127.0.0.1:9/v1/.well-known/openidconfiguration")
    endpoint = TeamsEndpoint(TokenVerifier(fake.app_id, keys), recorder)
    server = HttpServer(endpoint, host="127.0.0.1", port=0, threads=1).start()
    try:
        resp = fake.post(f"{server.url}/api/messages", fake.message(fake.add_user(), "help"))
    finally:
        server.stop()
    assert resp.status_code == 503
    assert recorder.events == []


def test_cached_keys_keep_serving_while_the_key_server_is_down(fake):
    from integrations.msteams.auth import KeysUnavailable

    down = {"now": False}

    def fetch(url):
        if down["now"]:
            raise KeysUnavailable("down")
        import requests

        return requests.get(url, timeout=10).json()

    ticks = {"t": 0.0}
    keys = KeySet(fake.openid_url, fetch=fetch, clock=lambda: ticks["t"])
    verifier = TokenVerifier(fake.app_id, keys)
    assert verifier.verify_token(f"Bearer {fake.token()}").claims["aud"] == fake.app_id
    down["now"] = True
    ticks["t"] = keys.ttl + 1  # the cache is stale and the refresh fails
    assert verifier.verify_token(f"Bearer {fake.token()}").claims["aud"] == fake.app_id
    with pytest.raises(KeysUnavailable):
        KeySet(fake.openid_url, fetch=fetch).get(fake.kid)  # nothing cached: no way to check


def test_the_endpoint_is_built_from_the_teams_settings(fake):
    from integrations.msteams.config import TeamsConfig

    recorder = Recorder()
    endpoint = TeamsEndpoint.from_config(TeamsConfig.from_env(fake.env()), recorder)
    server = HttpServer(endpoint, host="127.0.0.1", port=0, threads=1).start()
    try:
        doctor = fake.add_user()
        assert (
            fake.post(f"{server.url}/api/messages", fake.message(doctor, "help")).status_code == 200
        )
        wrong = fake.post(f"{server.url}/api/messages", fake.message(doctor, "help"), aud="other")
        assert wrong.status_code == 401
    finally:
        server.stop()
    assert len(recorder.events) == 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
KINDS = ("message", "invoke", "conversationUpdate", "installationUpdate")
FIELDS = (
    "type",
    "from",
    "conversation",
    "channelData",
    "value",
    "membersAdded",
    "membersRemoved",
    "recipient",
    "text",
    "name",
    "action",
    "replyToId",
    "id",
)


@pytest.fixture(scope="module")
def wsgi_bot():
    with FakeTeams() as fake:
        recorder = Recorder()
        endpoint = TeamsEndpoint(TokenVerifier(fake.app_id, KeySet(fake.openid_url)), recorder)
        yield fake, endpoint, fake.add_user(), fake.add_team("T", [])


def _call_wsgi(endpoint, body: bytes, authorization: str) -> int:
    import io

    seen = {}
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": authorization,
        "wsgi.input": io.BytesIO(body),
    }
    b"".join(endpoint(environ, lambda status, headers: seen.setdefault("status", status)))
    return int(seen["status"].split()[0])


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(KINDS),
    broken=st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4),
    action=JSON,
)
def test_no_signed_activity_however_odd_gets_a_500(wsgi_bot, kind, broken, action):
    fake, endpoint, doctor, team = wsgi_bot
    act = {
        "message": lambda: fake.message(doctor, "help", team=team),
        "invoke": lambda: fake.card_action(doctor, "answer", {"q": "1"}),
        "conversationUpdate": lambda: fake.installed_activity(team, by=doctor),
        "installationUpdate": lambda: {**fake.message(doctor, ""), "type": "installationUpdate"},
    }[kind]()
    if kind == "invoke":
        act["value"]["action"] = action if isinstance(action, dict) else act["value"]["action"]
    act.update(broken)
    status = _call_wsgi(endpoint, json.dumps(act).encode(), f"Bearer {fake.token()}")
    assert status in (200, 400), (status, act)


@settings(max_examples=100)
@given(header=st.text(max_size=60), token=st.text(max_size=200))
def test_no_authorization_header_however_odd_gets_past_401(header, token):
    verifier = TokenVerifier("app", KeySet("http://127.0.0.1:9/none", fetch=_no_keys))
    for value in (header, f"Bearer {token}", f"Bearer {token}.{token}.{token}"):
        with pytest.raises(AuthError) as err:
            verifier.verify_token(value)
        assert err.value.status == 401


def _no_keys(url):
    return {"jwks_uri": url, "keys": []}
