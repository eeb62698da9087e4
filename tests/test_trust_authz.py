"""Every Bolt listener either needs no role or checks it through bot.people.authz, forms included; a
comment form for someone else's round says nothing was stored; round creation reads only its own
trust's departments. Driven over HTTP in multi-workspace mode against the fake Slack."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from bot.insights import checklist
from bot.people import authz
from integrations.slack.listeners.app import build_app
from integrations.slack.listeners.pulse import NOT_STORED
from storage.models import Comment, LeaderAction
from tests.blockkit import find_element
from tests.helpers import deliver_all, pulse_message, wait_for
from tests.multi import TEAMS, doctor_ids, installer
from tests.test_admin_commands import say
from tests.test_authz import dump

A, B, _ = TEAMS
RESTRICTED = sorted(
    k for k, need in authz.LISTENERS.items() if need in authz.REQUIRED and k != "command:/pulse"
)
ACTION_TEXT = "Two locum posts funded."
STATES = {
    "leadership_action": {"text": {"text": {"type": "plain_text_input", "value": ACTION_TEXT}}},
    "leadership_checklist": {
        f"rate|{ref}": {"rating": {"type": "static_select", "selected_option": {"value": "4"}}}
        for ref in checklist.QUESTIONS
    },
    "admin_schedule": {
        "cadence": {"cadence": {"type": "static_select", "selected_option": {"value": "weekly"}}}
    },
}


def registered(core) -> set[str]:
    """``kind:id`` of every listener Bolt has registered, read from its matchers."""
    kinds = {
        "command": "command",
        "constraints": "action",
        "callback_id": "view",
        "event_type": "event",
    }
    out = set()
    for listener in build_app(core)._listeners:
        fn = listener.matchers[0].func
        cells = {
            n: c.cell_contents
            for n, c in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True)
        }
        key = next(k for k in kinds if k in cells)
        out.add(f"{kinds[key]}:{cells[key]}")
    return out


def test_every_registered_listener_is_in_the_authorisation_table(region):
    found = registered(region.core)
    assert found == set(authz.LISTENERS) - {"action:answer-N"}  # that one is a middleware
    for key, need in authz.LISTENERS.items():
        assert need in authz.REQUIRED or need in (authz.OWN, authz.SLACK, "per subcommand"), key


@pytest.fixture
def trust_a(region):
    slack = region.sender(A)
    assert "6 doctors" in say(region.fake, slack, "audience <#CT0AAA|doctors>", installer(A))
    return region


@pytest.mark.parametrize("key", RESTRICTED)
def test_each_restricted_listener_refuses_a_doctor_and_changes_nothing(trust_a, key):
    fake, core, slack = trust_a.fake, trust_a.core, trust_a.sender(A)
    doctor = doctor_ids(A)[0]
    need = authz.LISTENERS[key]
    kind, ident = key.split(":", 1)
    before = dump(core)
    if kind == "view":
        reply = slack.view_submission(doctor, ident, STATES.get(ident, {}))
        body = reply.json()
        assert (
            body["response_action"] == "update" and body["view"]["title"]["text"] == "Not allowed"
        )
        assert authz.refusal(need) in str(body["view"])
    else:
        reply = slack.block_action(doctor, ident, "dept:")
        assert reply.status == 200
        if ident.startswith("admin_"):
            home = wait_for(lambda: fake.home_views.get(doctor), what="refusal on the Home")
            assert authz.refusal(need) in str(home)
        else:
            posts = wait_for(lambda: fake.response_posts(reply.response_key), what="refusal")
            assert posts[0].body["text"] == authz.refusal(need)
    assert dump(core) == before


def test_leadership_forms_need_the_role_and_work_with_it(trust_a):
    core, slack = trust_a.core, trust_a.sender(A)
    doctor = doctor_ids(A)[0]
    for callback in ("leadership_action", "leadership_checklist"):
        body = slack.view_submission(doctor, callback, STATES[callback]).json()
        assert body["view"]["title"]["text"] == "Not allowed"
    with core.db.Session() as s:
        assert s.scalar(select(func.count(LeaderAction.id))) == 0
    assert slack.view_submission(installer(A), "leadership_action", STATES["leadership_action"]).ok
    with core.db.Session() as s:
        assert list(s.scalars(select(LeaderAction.text))) == [ACTION_TEXT]


def test_a_comment_for_a_round_not_sent_to_you_says_it_was_not_stored(region):

    fake, core = region.fake, region.core
    for team in (A, B):
        say(fake, region.sender(team), f"audience <#C{team}|doctors>", installer(team))
        say(fake, region.sender(team), "send now", installer(team))
    deliver_all(core)
    a_round = find_element(pulse_message(fake, doctor_ids(A)[0]).blocks, "comment")["value"]
    b_round = find_element(pulse_message(fake, doctor_ids(B)[0]).blocks, "comment")["value"]
    state = {"comment": {"text": "rota gaps again"}}
    body = (
        region.sender(B).view_submission(doctor_ids(B)[0], "pulse_comment", state, a_round).json()
    )
    assert body == {"response_action": "errors", "errors": {"comment": NOT_STORED}}
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Comment.id))) == 0
    reply = region.sender(B).view_submission(doctor_ids(B)[0], "pulse_comment", state, b_round)
    assert reply.json()["response_action"] == "update"  # their own round: stored, thanked
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Comment.id))) == 1


def test_round_creation_reads_only_its_own_trusts_departments(region):
    from storage.models import Department, Workspace

    fake, core = region.fake, region.core
    for team in (A, B):
        say(fake, region.sender(team), f"audience <#C{team}|doctors>", installer(team))
    with core.db.Session() as s, s.begin():
        for team in (A, B):
            ws = s.scalar(select(Workspace.id).where(Workspace.team_id == team))
            s.add(Department(workspace_id=ws, name=f"Secret ward of {team}"))
    statements: list[str] = []

    def seen(conn, cursor, statement, params, context, executemany):
        if "departments" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(core.db.engine, "before_cursor_execute", seen)
    try:
        assert "Round started" in say(fake, region.sender(A), "send now", installer(A))
    finally:
        event.remove(core.db.engine, "before_cursor_execute", seen)
    assert statements, "round creation read no department at all"
    assert all("workspace_id" in st for st in statements), statements


def test_every_event_listened_for_is_subscribed_in_the_manifest(region):
    from tests.test_manifest import MANIFEST

    events = {k.split(":", 1)[1] for k in registered(region.core) if k.startswith("event:")}
    assert {"app_uninstalled", "tokens_revoked"} <= events
    assert events <= set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
