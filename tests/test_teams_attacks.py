"""The Slack suite's attacks and end-to-end checks, run against Microsoft Teams.

Each test here is the port of a Slack test (named in its docstring): the same attacker goal,
with Teams mechanics. The real app serves /api/messages over HTTP; every activity is signed by
the fake Bot Connector (tests/teams_helpers.py); the database is the suite's (SQLite, or
PostgreSQL with MEDPULSE_TEST_DB). The attacks on stored tables include the Teams adapter's
own tables (``chat_routes``, ``sent_messages``).
"""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, inspect, select, text

from bot.rounds.scheduler import Scheduler
from storage.models import ChatRoute, Comment, Response, Round, SentMessage
from tests import anonymity_checks as checks
from tests import round_checks
from tests.blockkit import nodes
from tests.teams_helpers import (
    card_action_data,
    card_of,
    counts,
    drain,
    questions,
    teams_app,
    texts,
)

ROSTER = checks.ROSTER
IDENTITY = (*checks.IDENTITY, "chat_routes", "sent_messages")


@pytest.fixture
def rig(db_url, clock):
    with teams_app(db_url, clock) as r:
        yield r


def _cells(rig, roster) -> dict[str, tuple[str, str]]:
    """``roster`` ((department, grade, n) each) over the rig's doctors, by Teams user ID."""
    cells, i = {}, 0
    for dept, grade, n in roster:
        for _ in range(n):
            cells[rig.doctors[i].id] = (dept, grade)
            i += 1
    return cells


def _play_round(rig):
    """The Slack attacks' round on Teams: 31 doctors in three departments (one of 3), all but
    four tap a random answer to every question, eight comment."""
    n = sum(n for _, n in ROSTER)
    rig.install(n)
    roster = [(d, "consultant" if j % 2 else "resident") for d, k in ROSTER for j in range(k)]
    rig.import_roster({u.id: cell for u, cell in zip(rig.doctors, roster, strict=True)})
    rig.send_now()
    rng = random.Random(99)
    order = rig.doctors[:]
    rng.shuffle(order)
    truth: list[tuple[str, int, int]] = []
    for user in order[:-4]:
        truth += rig.tap_randomly(user, rng)
    for user in order[:8]:
        assert "recorded anonymously" in rig.comment(user, f"note from {user.id[-2:]}x")
    return [u.id for u in rig.doctors], truth


def _close(rig, clock) -> None:
    clock.advance(timedelta(days=6))
    Scheduler(rig.core, sync_audience=False).tick()


# -- stored tables ---------------------------------------------------------------------------


def test_no_join_of_the_stored_tables_ties_an_answer_to_a_person(rig, clock):
    """Port of test_anonymity_attack's test of the same name, with the Teams tables too: no
    answer value holds a Teams user ID, an Entra object ID, the 1:1's conversation ID, or a
    card's activity ID, and the Teams tables join to nothing on the answer side."""
    ids, truth = _play_round(rig)
    core = rig.core
    _close(rig, clock)
    with core.db.Session() as s:
        routes = s.scalars(select(ChatRoute)).all()
        ledger = s.scalars(select(SentMessage)).all()
    identities = {u.aad_object_id for u in rig.fake.users.values()}
    identities |= {r.key for r in routes} | {r.conversation_id for r in routes if r.conversation_id}
    identities |= {m.id for u in rig.doctors for m in rig.fake.messages_to(u)}
    checks.check_no_stored_row_ties_an_answer(core, ids, truth, identities)

    # The Teams tables share no column with responses or comments but a workspace; the ledger
    # of sent cards (one row per card, answered or not) is emptied once the cards are closed.
    answer_cols = {c.name for m in (Response, Comment) for c in m.__table__.columns}
    for model in (ChatRoute, SentMessage):
        shared = {c.name for c in model.__table__.columns} & answer_cols
        assert shared <= {"id", "workspace_id"}, (model.__tablename__, shared)
    assert len(ledger) == len(ids) + 1  # the admin's card too
    clock.advance(timedelta(minutes=6))
    drain(rig.worker)
    with core.db.Session() as s:
        assert s.scalar(select(func.count(SentMessage.id))) == 0


def test_while_open_only_the_key_outside_the_database_links_answers(rig):
    """Port of test_anonymity_attack's test of the same name: keyed with the Teams user ID."""
    ids, truth = _play_round(rig)
    core = rig.core
    hashes, round_id = checks.check_only_the_key_links(core, truth, rig.tenant)
    from bot.rounds.answers import link_hash

    uid, vid, _ = truth[0]
    aad = rig.fake.users[uid].aad_object_id  # nor is the Entra object ID a second key
    assert link_hash(core.link_key, round_id, vid, rig.tenant, aad) not in hashes


# -- attack 1: the Teams chat history --------------------------------------------------------


def _remind_close_and_tidy(rig, clock, after_close=None):
    """A day on (reminders to those who have not answered), close, then the tidy-up."""
    sched = Scheduler(rig.core, sync_audience=False)
    clock.advance(timedelta(hours=25))
    sched.tick()
    drain(rig.worker)
    clock.advance(timedelta(days=5))
    sched.tick()
    if after_close is not None:
        after_close()
    clock.advance(timedelta(minutes=6))
    drain(rig.worker)


def _conv(call) -> str:
    """The conversation a connector call was about (its path is URL-encoded)."""
    from urllib.parse import unquote

    return unquote(call.path.strip("/").split("/")[3])


def _content(activity: dict) -> str:
    """An activity as its reader sees it: all but its own ID (which an update must carry)."""
    return json.dumps({k: v for k, v in activity.items() if k != "id"}, sort_keys=True)


def _one_to_one(rig, user):
    return rig.fake.personal_conversation(user)


def test_attack_1_chat_history_after_close_is_the_same_whether_or_not_one_answered(rig, clock):
    """Port of attack 1: everything the fake Bot Connector holds for each doctor's 1:1 (cards,
    their edits, deleted reminders, every update body sent) after close."""
    ids, truth = _play_round(rig)
    answered = {u for u, _, _ in truth}
    silent = [u for u in ids if u not in answered]
    assert len(silent) == 4
    sends_before = len(rig.fake.ops("send"))
    _remind_close_and_tidy(rig, clock)
    conv_user = {_one_to_one(rig, u).id: u.id for u in rig.doctors}

    # Reminders went to the four who had not answered, and every one is deleted again.
    reminders = [c for c in rig.fake.ops("send")[sends_before:] if _conv(c) in conv_user]
    reminded = {conv_user[_conv(c)] for c in reminders}
    assert reminded == set(silent)

    def seen(user):
        """What the tenant's store shows of the 1:1 now: every live activity and its edits."""
        conv = _one_to_one(rig, user)
        return [(_content(a.payload), a.edits) for a in conv.activities.values() if not a.deleted]

    views = {u.id: seen(u) for u in rig.doctors}
    baseline = views[silent[0]]
    assert len(baseline) == 1 and "closed" in baseline[0][0]
    differ = {u: v for u, v in views.items() if v != baseline}
    assert not differ, ("a 1:1 differs by whether they answered", baseline, differ)
    # Deleted activities are only reminders (never a pulse card, never an answer).
    for u in rig.doctors:
        deleted = [a for a in _one_to_one(rig, u).activities.values() if a.deleted]
        assert len(deleted) == (1 if u.id in silent else 0)
    # Every update the bot ever sent to a 1:1 had the same body (the closed card): no edit
    # history in the tenant's store can hold a per-person version.
    updates = [c for c in rig.fake.ops("update") if _conv(c) in conv_user]
    assert len(updates) == len(ids)
    assert len({_content(c.body) for c in updates}) == 1
    # Nothing said about an answer ever reached the chat: confirmations were invoke replies.
    labels = {"Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"}
    kept = json.dumps(
        [a.payload for u in rig.doctors for a in _one_to_one(rig, u).activities.values()]
    )
    assert "recorded" not in kept.lower() and not any(f"**{x}**" in kept for x in labels)


# -- attack 2: transaction metadata ----------------------------------------------------------


def test_attack_2_no_transaction_writes_both_a_person_and_an_answer(rig, clock):
    """Port of attack 2: PostgreSQL joins on ``xmin``; SQLite replays the WAL. The identity
    side includes Teams' chat_routes and sent_messages: a tap writes none of them."""
    _play_round(rig)
    checks.check_no_transaction_writes_both(rig.core, IDENTITY)


def test_attack_2_a_tap_writes_no_route_participant_or_delivery(rig, clock):
    """The tap path on Teams: a tap and a comment leave chat_routes, participants and
    deliveries byte for byte as they were (their update times would say who answered)."""
    rig.install(8)
    rig.send_now()
    clock.advance(timedelta(minutes=3))

    def identity():
        with rig.core.db.engine.connect() as conn:
            return {
                t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}")).all()))
                for t in ("chat_routes", "participants", "deliveries", "sent_messages")
            }

    before = identity()
    rng = random.Random(3)
    for user in rig.doctors[:5]:
        rig.tap_randomly(user, rng)
        rig.comment(user, "the rota again")
    assert identity() == before
    with rig.core.db.Session() as s:
        assert s.scalar(select(func.count(Response.id))) > 0


def test_attack_2_after_close_old_row_versions_and_log_are_gone(rig, clock):
    """Port of attack 2 (after close): no answer link left in the WAL, free pages or dead
    PostgreSQL row versions, Teams' tables included."""
    _play_round(rig)
    checks.check_old_row_versions_go_at_close(
        rig.core, lambda after_close: _remind_close_and_tidy(rig, clock, after_close)
    )


# -- attack 4: reminder state ----------------------------------------------------------------


def test_attack_4_every_other_delivery_column_is_uniform_after_close(rig, clock):
    """Port of attack 4: one doctor who answered asks to be reminded ("Not now"); after close
    nothing on a delivery row but what was sent says so."""
    ids, truth = _play_round(rig)
    user = next(u for u in rig.doctors if u.id == sorted({t[0] for t in truth})[0])
    pulse = card_action_data(card_of(rig.pulse(user)), "not_now")
    reply = rig.post(rig.fake.card_action(user, "not_now", pulse)).json()["value"]
    assert "remind you" in reply
    checks.check_delivery_rows_uniform_after_close(
        rig.core,
        len(ids) + 1,  # and the admin, a member of the team
        lambda after_close: _remind_close_and_tidy(rig, clock, after_close),
    )


# -- attacks 3, 5, 6, 7 and 7b: the core's rules, with Teams driving the rounds ----------------

CHAIN = checks.CHAIN


def _audience(rig, roster) -> dict[str, tuple[str, str]]:
    """The roster's doctors as the audience (the admin not among them, as on Slack)."""
    rig.install(sum(n for *_, n in roster), admin_in_team=False)
    cells = _cells(rig, roster)
    rig.import_roster(cells)
    return cells


def _answer_all(rig, seed=7) -> list[tuple[str, int, int]]:
    rng, truth = random.Random(seed), []
    for user in rig.doctors:
        truth += rig.tap_randomly(user, rng)
    return truth


def _close_long(rig, clock) -> None:
    _close(rig, clock)
    clock.advance(timedelta(days=8))


def _two_rounds(rig, clock, roster):
    cells = _audience(rig, roster)
    rig.send_now()
    _close_long(rig, clock)  # the new audience's first round: nobody answers
    rig.send_now()
    return cells, _answer_all(rig)


def test_attack_3_no_stored_segment_narrows_to_a_small_cell(rig, clock):
    """Port of attack 3."""
    cells, truth = _two_rounds(rig, clock, CHAIN)
    checks.check_no_stored_segment_narrows(
        rig.core, cells, truth, rig.tenant, close=lambda: _close_long(rig, clock)
    )


def _export_rows(rig) -> list[dict]:
    """``export`` typed by the admin in Teams: the CSV arrives in their 1:1 with the bot."""
    rig.fake.install_personal(rig.admin)
    before = len(rig.fake.messages_to(rig.admin))
    reply = rig.say(rig.admin, "export")
    assert "is in your DMs" in reply or "in your" in reply, reply
    [sent] = rig.fake.messages_to(rig.admin)[before:]
    return list(csv.DictReader(io.StringIO(_csv_of(sent))))


def _csv_of(sent) -> str:
    """The CSV a Teams card carries, as the monospaced text a reader copies."""
    [block] = [b for b in card_of(sent)["body"] if b.get("fontType") == "Monospace"]
    return block["text"]


def test_attack_5_no_subtraction_of_exported_rows_isolates_anyone(rig, clock):
    """Port of attack 5, with the export taken through Teams."""
    cells, truth = _two_rounds(rig, clock, CHAIN)
    _close_long(rig, clock)
    checks.check_export_isolates_nobody(rig.core, cells, truth, _export_rows(rig))


def test_attack_6_comment_lists_do_not_join_to_a_small_group(rig, clock):
    """Port of attack 6. Teams comments carry no theme (the card has only the text box), so
    the lists compared are the trust's and each department's."""
    cells = _audience(rig, [("Medicine", "consultant", 12), ("Surgery", "consultant", 12)])
    commenters = rig.doctors[:6] + rig.doctors[12:18]
    rig.send_now()
    _close_long(rig, clock)
    rig.send_now()
    _answer_all(rig)
    for user in commenters:
        rig.comment(user, f"note {user.id[-6:]}")
    _close_long(rig, clock)
    lists = {
        "all": rig.say(rig.admin, "comments"),
        "Medicine": rig.say(rig.admin, "comments department:Medicine"),
        "Surgery": rig.say(rig.admin, "comments department:Surgery"),
    }
    checks.check_comment_lists_join_no_small_group(lists, _comment_line, rig.core.k)
    assert {cells[u.id][0] for u in commenters} == {"Medicine", "Surgery"}


def _comment_line(line: str) -> tuple[str, str] | None:
    """A Teams comments list's line ``• label note …`` as (label, comment)."""
    if not line.startswith("• "):
        return None
    label, _, note = line[2:].rpartition("note ")
    return label, note


def _home_text(rig, user) -> str:
    rig.fake.install_personal(user)
    before = len(rig.fake.messages_to(user))
    conv = rig.core.gateway(rig.tenant).dm_conversation(user.id)[1]
    act = rig.fake.message(user, "my results")
    act["conversation"]["id"] = conv
    rig.post(act)
    [home] = rig.fake.messages_to(user)[before:]
    return " ".join(b.get("text", "") for b in card_of(home)["body"])


def test_attack_7_sock_puppets_get_no_breakdown_and_the_target_sees_the_change(rig, clock):
    """Port of attack 7: the target reads the change on their Teams home card."""
    roster = [("Medicine", "consultant", 20), ("Cardiology", "consultant", 1)]
    cells = _audience(rig, roster)
    target, puppets = rig.doctors[20], rig.doctors[:4]
    rig.send_now()
    _close_long(rig, clock)
    rig.send_now()
    _answer_all(rig)
    _close_long(rig, clock)
    assert "Your pulse group:** 21 doctors. It last changed on" in _home_text(rig, target)
    rig.import_roster({u.id: ("Cardiology", "consultant") for u in puppets})
    assert "It has changed since the last pulse" in _home_text(rig, target)
    rig.send_now()
    _answer_all(rig, seed=8)
    assert checks.latest_segments(rig.core) == {(None, None)}
    _close_long(rig, clock)
    checks.check_nothing_finer_after_a_move(
        rig.core,
        _export_rows(rig),
        "Cardiology",
        rig.say(rig.admin, "comments department:Cardiology"),
    )
    assert cells[target.id] == ("Cardiology", "consultant")


def test_attack_7b_people_moved_while_a_round_is_open_count_as_an_audience_change(rig, clock):
    """Port of attack 7b."""
    _audience(rig, [("Medicine", "consultant", 20), ("Cardio", "sas", 5)])
    colleagues, puppets = rig.doctors[21:25], rig.doctors[:4]
    rig.send_now()
    _close_long(rig, clock)
    rig.send_now()
    _answer_all(rig)
    _close_long(rig, clock)
    rig.send_now()
    moved = {u.id: ("Medicine", "consultant") for u in colleagues}
    moved |= {u.id: ("Cardio", "sas") for u in puppets}
    rig.import_roster(moved)
    _answer_all(rig, seed=11)
    _close_long(rig, clock)
    checks.check_a_mid_round_move_publishes_no_breakdown(rig.core, _export_rows(rig), "Cardio")


# -- test_round_e2e: a round to sixty doctors ------------------------------------------------


def test_a_round_to_sixty_doctors(rig, clock):
    """Port of test_round_e2e: sixty doctors, double taps, comments (one too long), one
    reminder to those who did not answer, close, a tap after close, the tidy-up."""
    core = rig.core
    doctors = rig.install(59)  # with the admin: sixty in the team
    everyone = [rig.admin, *doctors]
    nobody = rig.fake.add_user("Dr Nobody")  # not in the team
    assert "is for medpulse admins" in rig.say(nobody, "send now")
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Round.id))) == 0
    assert "sending to 60 doctors" in rig.send_now()
    for user in everyone:
        assert len(rig.fake.messages_to(user)) == 1
    assert rig.fake.messages_to(nobody) == []

    rng = random.Random(7)
    answering = rng.sample(everyone, 50)
    taps, expected = [], {}
    for user in answering:
        sent = rig.pulse(user)
        for buttons in questions(card_of(sent)):
            btn = rng.choice(buttons)
            taps.append((user, sent, btn))
            if rng.random() < 0.3:
                taps.append((user, sent, btn))  # a double tap
    rng.shuffle(taps)
    seen = set()
    for user, sent, btn in taps:
        reply = rig.tap(user, btn, sent.id).json()
        assert reply["value"].startswith("✅ Recorded anonymously"), reply
        _, vid, value = (int(x) for x in btn["data"]["answer"].split(":"))
        if (user.id, vid) not in seen:
            seen.add((user.id, vid))
            expected.setdefault(vid, []).append(value)
    stored = round_checks.check_answers_stored(core, expected)
    # Taps are confirmed in the invoke reply; no card was ever redrawn or added.
    assert all(m.edits == 0 for u in everyone for m in rig.fake.messages_to(u))
    assert rig.fake.ops("update") == []

    too_long = rig.comment(answering[0], "x" * 2500)
    assert "up to" in too_long
    for i, user in enumerate(answering[:6]):
        assert "recorded anonymously" in rig.comment(user, f"  Rota gaps again {i}\x07 ")
    with core.db.Session() as s:
        assert sorted(s.scalars(select(Comment.text))) == [f"Rota gaps again {i}" for i in range(6)]

    # One reminder, a day on, to the ten who answered nothing; a second tick sends no more.
    sends = len(rig.fake.ops("send"))
    clock.advance(timedelta(hours=24, minutes=1))
    sched = Scheduler(core, sync_audience=False)
    sched.tick()
    drain(rig.worker)
    sched.tick()
    drain(rig.worker)
    silent = [u for u in everyone if u not in answering]
    assert {u.id for u in silent if len(rig.fake.messages_to(u)) == 2} == {u.id for u in silent}
    assert all(len(rig.fake.messages_to(u)) == 1 for u in answering)
    assert len(rig.fake.ops("send")) - sends == len(silent)

    round_checks.check_live_participation(core, rig.tenant, sent=60, responded=50)

    # Close: links gone, answers kept, identity rows uniform.
    clock.advance(timedelta(days=5))
    sched.tick()
    round_checks.check_closed(core, len(stored), invited=60, responded=50)

    # A tap after close: a polite reply, nothing stored.
    user = answering[1]
    sent = rig.fake.messages_to(user)[0]
    btn = questions(card_of(sent))[0][0]
    assert "closed" in rig.tap(user, btn, sent.id).json()["value"].lower()
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Response.id))) == len(stored)

    # The tidy-up: one closed card each, every reminder deleted, the ledger empty.
    clock.advance(timedelta(minutes=6))
    drain(rig.worker)
    closed = {json.dumps(card_of(rig.fake.messages_to(u)[0]), sort_keys=True) for u in everyone}
    assert len(closed) == 1 and all(len(rig.fake.messages_to(u)) == 1 for u in everyone)
    assert len(rig.fake.ops("delete")) == len(silent)
    round_checks.check_tidied(core)
    with core.db.Session() as s:
        assert s.scalar(select(func.count(SentMessage.id))) == 0


# -- test_trust_authz: restricted commands, other rounds, other tenants ------------------------


def _restricted_commands() -> list[str]:
    """Every core command a doctor may not run (the core's table, not a hand-made list)."""
    import bot.admin.commands  # noqa: F401 - registers every command module
    from bot.admin.command_table import COMMANDS
    from bot.people import authz

    return sorted(n for n in COMMANDS if authz.REQUIRED.get(n, authz.ADMIN) != authz.EVERYONE)


def _dump(core) -> dict:
    """Every row of every table (the Slack authz tests' notion of "changed nothing")."""
    with core.db.engine.connect() as conn:
        return {
            t: sorted(map(str, conn.execute(text(f'SELECT * FROM "{t}"')).all()))
            for t in inspect(conn).get_table_names()
            if t not in ("alembic_version",)
        }


ARGS = {
    "audience": "here",
    "leaders": "here",
    "admins": "add 8c1f6c6e-0000-4000-8000-00000000beef",
    "leaders_role": "add 8c1f6c6e-0000-4000-8000-00000000beef",
    "schedule": "weekly thu 13:30",
    "window": "09:00-17:00",
}


@pytest.mark.parametrize("name", _restricted_commands())
def test_each_restricted_command_refuses_a_doctor_and_changes_nothing(rig, name):
    """Port of test_trust_authz's refusal check, over the core's whole command table: typed
    by a doctor in the team (as a bare word and with arguments), each is refused in words and
    no row of any table changes, and nothing is sent but the refusal."""
    from bot.people import authz

    rig.install(6)
    doctor = rig.doctors[0]
    before = _dump(rig.core)
    sends = len(rig.fake.ops("send"))
    for typed in (name, f"{name} {ARGS.get(name, 'now')}"):
        reply = rig.say(doctor, typed)
        need = authz.REQUIRED.get(name, authz.ADMIN)
        assert authz.refusal(need) in reply or "is for medpulse" in reply, (typed, reply)
    assert _dump(rig.core) == before
    assert len(rig.fake.ops("send")) == sends + 2  # the two refusals, nothing else
    assert rig.fake.ops("create_conversation") == []


def test_a_tap_for_a_round_not_sent_to_you_says_it_was_not_stored(rig, clock):
    """Port of the comment-for-another-round check: a doctor outside the round (and one
    replaying another's button) gets "not stored", and nothing is stored."""
    rig.install(6)
    outsider = rig.fake.add_user("Dr Outside")
    rig.fake.install_personal(outsider)
    rig.send_now()
    card = card_of(rig.pulse(rig.doctors[0]))
    before = counts(rig.core)
    btn = questions(card)[0][0]
    reply = rig.post(rig.fake.card_action(outsider, "answer", btn["data"])).json()["value"]
    assert "nothing was stored" in reply, reply
    pulse = card_action_data(card, "comment")["pulse"]
    note = {"pulse": pulse, "comment": "rota gaps again"}
    reply = rig.post(rig.fake.card_action(outsider, "comment", note)).json()["value"]
    assert "nothing was stored" in reply, reply
    for data in ({"answer": f"{int(pulse) + 1}:1:1"}, {"answer": "0:0:0"}):
        reply = rig.post(rig.fake.card_action(rig.doctors[1], "answer", data)).json()["value"]
        assert "nothing was stored" in reply, reply
    assert counts(rig.core) == before
    reply = rig.post(rig.fake.card_action(rig.doctors[0], "comment", note)).json()["value"]
    assert "recorded anonymously" in reply  # their own round: stored
    assert counts(rig.core) != before


def test_an_activity_from_another_tenant_changes_nothing(rig, clock):
    """Activities signed for the app but from another tenant: no install, no command, no tap,
    no comment reaches the trust's data or its chat."""
    rig.install(6)
    rig.send_now()
    card = card_of(rig.pulse(rig.doctors[0]))
    before, sent = _dump(rig.core), len(rig.fake.ops("send"))
    other = "00000000-0000-4000-8000-0000000bad00"

    def foreign(act):
        act["conversation"]["tenantId"] = other
        act["channelData"]["tenant"] = {"id": other}
        return act

    stranger = rig.fake.add_user("Dr Elsewhere")
    elsewhere = rig.fake.add_team("Elsewhere", [stranger])
    activities = [
        foreign(rig.fake.installed_activity(elsewhere, by=stranger)),
        foreign(rig.fake.message(rig.admin, "send now", team=rig.team)),
        foreign(rig.fake.message(rig.admin, "admins add " + stranger.aad_object_id, team=rig.team)),
        foreign(rig.fake.card_action(rig.doctors[1], "answer", questions(card)[0][0]["data"])),
        foreign(
            rig.fake.card_action(
                rig.doctors[1], "comment", {**card_action_data(card, "comment"), "comment": "x"}
            )
        ),
        foreign(rig.fake.uninstalled_activity(rig.team, by=rig.admin)),
    ]
    for act in activities:
        resp = rig.post(act)
        assert resp.status_code in (200, 400, 401, 403), resp.status_code
        if resp.status_code == 200 and resp.content and act["type"] == "invoke":
            assert "Recorded" not in str(resp.json())
    assert _dump(rig.core) == before
    assert len(rig.fake.ops("send")) == sent


# -- test_summary_e2e / test_leadership_e2e: what leaders see --------------------------------


def _answered_round(rig, clock, answering, comment_from=()) -> None:
    rig.send_now()
    for i, user in enumerate(answering):
        sent = rig.pulse(user)
        for q, buttons in enumerate(questions(card_of(sent))):
            rig.tap(user, buttons[(i + q) % len(buttons)], sent.id)
        if user in comment_from:
            rig.comment(user, f"Comment from someone {i}")
    _close_long(rig, clock)


def _card_text(card: dict) -> str:
    """Every text a reader (or a screen reader) gets from a card: text blocks, facts, alt."""
    keys = ("text", "altText", "title", "value", "fallbackText")
    return "\n".join(
        node[key]
        for node in nodes(card, lambda node: True)
        for key in keys
        if isinstance(node.get(key), str) and not node[key].startswith("data:")
    )


def test_the_summary_card_shows_no_group_under_k_and_comments_only_where_allowed(rig, clock):
    """Port of test_summary_e2e / test_leadership_e2e, the parts about what leaders see: the
    Teams summary card (text, facts and the chart's alt text) has no figure for a group under
    k nor one that would give it away; a small department's own team gets a reason only; the
    comments lists follow the auditor."""
    import re

    fake = rig.fake
    rig.install(24, admin_in_team=False)
    ids = rig.doctors
    rig.import_roster(
        {u.id: ("Tiny" if i < 3 else "Medicine", "consultant") for i, u in enumerate(ids)}
    )
    leadership = fake.add_team("Leadership", [rig.admin])
    small = fake.add_team("Tiny ward", [rig.admin])
    for team in (leadership, small):
        fake.install(team)
        rig.post(fake.installed_activity(team, by=rig.admin))
    assert "receive summaries" in rig.say(rig.admin, "leaders", team=leadership)
    rig.say(rig.admin, "leaders department:Tiny", team=small)

    _answered_round(rig, clock, ids[:18])
    _answered_round(rig, clock, ids[:20], comment_from=ids[:6])
    assert "admins and leaders" in rig.say(ids[5], "summary")
    rig.say(rig.admin, "summary", team=leadership)
    [post] = [m for m in fake.channel_messages(leadership) if m.payload.get("attachments")]
    card = card_of(post)
    shown = _card_text(card)
    assert "20 of 24 doctors answered" in shown
    assert "Tiny: too few answered to report (fewer than 5)" in shown and "of 3" not in shown
    assert "Held back to protect a smaller group: Medicine" in shown
    assert "Medicine: fewer than" not in shown
    [image] = [b for b in card["body"] if b.get("type") == "Image"]
    alt = image["altText"]
    assert alt and "Tiny" not in re.sub(r"Tiny[^.]*(fewer than|not shown|too few)[^.]*", "", alt)
    assert not re.search(r"Medicine[^.\n]*\d+\.\d", alt), alt  # no Medicine score in the alt

    smalls = [m for m in fake.channel_messages(small) if m.payload.get("attachments")]
    assert smalls
    small_text = " ".join(_card_text(card_of(m)) for m in smalls)
    assert "not shown" in small_text and "/ 10" not in small_text
    assert not [b for m in smalls for b in card_of(m)["body"] if b.get("type") == "Image"]

    body = rig.say(rig.admin, "comments", team=leadership)
    assert "6 anonymous comments" in body and body.count("Comment from someone") == 6
    for dept in ("Tiny", "medicine"):
        body = rig.say(rig.admin, f"comments department:{dept}", team=leadership)
        assert "not shown this period" in body and "Comment from" not in body
    refused = rig.say(ids[4], "comments")
    assert "admins and leaders" in refused and "someone" not in refused
    assert texts(fake.channel_messages(rig.team))  # replies went where typed
