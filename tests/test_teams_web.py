"""Port of tests/test_web.py's front-door checks to Teams, through the real app (``build_wsgi``
of a core with a trust installed and a round open) over HTTP: malformed bodies get 4xx and
the server keeps serving; no signed activity of any shape gets a 500, whatever its text,
entities, invoke ``value`` or card data; and none of them changes the stored answers.
"""

from __future__ import annotations

import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.teams_helpers import card_of, counts, questions, teams_app

MALFORMED = [
    (b"", "application/json"),
    (b"{not json", "application/json"),
    (b"[1, 2]", "application/json"),
    (b'"text"', "application/json"),
    (b"null", "application/json"),
    (b"\xff\xfe\x00binary", "application/octet-stream"),
    (b"payload=%7Bbroken", "application/x-www-form-urlencoded"),
    (b'{"type": "message"}', "application/json"),
    (b'{"type": "invoke", "name": "adaptiveCard/action", "value": 7}', "application/json"),
]


@pytest.fixture
def open_round(db_url, clock):
    """A trust installed in a team, a round sent: taps reach the real answer path."""
    with teams_app(db_url, clock) as rig:
        rig.install(6)
        rig.send_now()
        yield rig


def _healthy(rig) -> None:
    base = rig.url.rsplit("/api/messages", 1)[0]
    assert requests.get(f"{base}/healthz", timeout=5).json() == {"ok": True}
    reply = rig.say(rig.admin, "help")
    assert "`send now`" in reply


@pytest.mark.parametrize("body,ctype", MALFORMED)
@pytest.mark.parametrize("signed", [True, False])
def test_malformed_bodies_get_4xx_and_the_server_keeps_serving(open_round, body, ctype, signed):
    rig = open_round
    before = counts(rig.core)
    headers = {"Content-Type": ctype}
    if signed:
        headers["Authorization"] = f"Bearer {rig.fake.token()}"
    reply = requests.post(rig.url, data=body, headers=headers, timeout=10)
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text[:200])
    assert counts(rig.core) == before
    _healthy(rig)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
VERBS = st.sampled_from(["answer", "comment", "not_now", "why", "nope", "", "ANSWER"]) | st.text(
    max_size=8
)
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "send now",
        "help help help",
        "summary department:",
        'comments "department:',
        "admins add ",
        "leaders here department:Nowhere",
        "schedule weekly thu 25:99",
        "export extra",
        "\x00\x07",
        "<at>medpulse</at>",
        "x" * 5000,
    ]
) | st.text(max_size=40)
FIELDS = ("text", "entities", "value", "name", "channelData", "from", "conversation", "replyToId")


def _answer_data(rig) -> dict:
    return questions(card_of(rig.pulse(rig.doctors[0])))[0][0]["data"]


@st.composite
def activities(draw, rig):
    """A signed activity of one of the shapes Teams sends, then bent out of shape."""
    fake, doctor = rig.fake, draw(st.sampled_from(rig.doctors))
    kind = draw(st.sampled_from(["message", "channel", "invoke", "update"]))
    if kind == "message":
        act = fake.message(doctor, draw(ODD_TEXT))
    elif kind == "channel":
        act = fake.message(draw(st.sampled_from([rig.admin, doctor])), draw(ODD_TEXT), rig.team)
    elif kind == "invoke":
        data = draw(
            st.sampled_from([_answer_data(rig), {"pulse": "1", "comment": "hi"}, {}]) | JSON
        )
        act = fake.card_action(doctor, draw(VERBS), data if isinstance(data, dict) else {})
        if not isinstance(data, dict) or draw(st.booleans()):
            act["value"]["action"]["data"] = data
        if draw(st.booleans()):
            act["value"] = draw(JSON | st.just({"action": draw(JSON)}))
        if draw(st.booleans()):
            act["name"] = draw(st.sampled_from(["task/fetch", "task/submit", "signin/verifyState"]))
    else:
        act = draw(
            st.sampled_from(
                [
                    fake.installed_activity(rig.team, by=rig.admin),
                    fake.members_added_activity(rig.team, [doctor]),
                    {**fake.message(doctor, ""), "type": "installationUpdate", "action": "add"},
                ]
            )
        )
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=2, unique=True)):
        act[name] = draw(JSON)
    if kind == "message" and draw(st.booleans()):
        act["entities"] = draw(st.lists(JSON | st.just({"type": "mention"}), max_size=3))
    return act


def test_no_signed_activity_of_any_shape_gets_a_500_from_the_real_app(open_round):
    rig = open_round

    @settings(
        max_examples=150,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(act=activities(rig))
    def check(act):
        body = json.dumps(act).encode()
        reply = requests.post(
            rig.url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {rig.fake.token()}",
            },
            timeout=30,
        )
        assert reply.status_code in (200, 400), (reply.status_code, act)
        if reply.status_code == 200 and act.get("type") == "invoke" and reply.content:
            assert reply.json().get("statusCode") in (200, None), reply.text[:300]

    check()
    _healthy(rig)
