"""A whole round through the real app over HTTP: audience, send, taps, comments, reminder, close."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import func, select

from bot.rounds.pulse_view import CLOSED_TEXT, Question, question_hint
from bot.rounds.scheduler import Scheduler
from storage.models import Comment, Response, Round
from tests import round_checks
from tests.blockkit import find_element
from tests.conftest import ADMIN
from tests.helpers import (
    answer_buttons,
    dm_history,
    dms_of_kind,
    doctors,
    pulse_message,
    wait_for,
)


def _responses(core):
    with core.db.Session() as s:
        return s.scalars(select(Response)).all()


def test_a_round_to_sixty_doctors(core, fake, slack, worker, clock):
    ids = doctors(fake, 60)
    fake.add_user("UNOBODY", name="nobody")

    reply = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    assert reply.status == 200 and "Setting the audience" in reply.json()["text"]
    posts = wait_for(lambda: fake.response_posts(reply.response_key), what="audience reply")
    assert "60 doctors" in posts[0].body["text"]

    refused = slack.slash("send now", "UNOBODY")
    assert "is for medpulse admins" in refused.json()["text"]
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Round.id))) == 0

    reply = slack.slash("send now", ADMIN)
    assert reply.status == 200
    wait_for(lambda: fake.response_posts(reply.response_key), what="send now reply")
    assert "sending to 60 doctors" in fake.response_posts(reply.response_key)[0].body["text"]
    while worker.run_once():
        pass
    for uid in ids:
        pulse_message(fake, uid)  # exactly one DM set each
    assert not fake.dms_to("UBOTX") and not fake.dms_to("UGONE")

    rng = random.Random(7)
    answering = rng.sample(ids, 50)
    taps = []
    expected: dict[int, list[int]] = {}
    for uid in answering:
        msg = pulse_message(fake, uid)
        for buttons in answer_buttons(msg):
            btn = rng.choice(buttons)
            taps.append((uid, msg, btn))
            taps.append((uid, msg, btn)) if rng.random() < 0.3 else None  # double tap
    rng.shuffle(taps)
    seen = set()
    for uid, msg, btn in taps:
        r = slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api())
        assert r.status == 200
        rid, vid, value = (int(x) for x in btn["value"].split(":"))
        if (uid, vid) not in seen:
            seen.add((uid, vid))
            expected.setdefault(vid, []).append(value)

    stored = round_checks.check_answers_stored(core, expected)

    # Each tap is confirmed by a note only the doctor sees (Slack keeps no ephemeral message),
    # through the click's response URL (not under the Web API's rate tiers); the DM itself is
    # never redrawn with an answer.
    notes = wait_for(
        lambda: [p for p in fake.response_posts() if "is recorded" in str(p.body)] or None,
        what="tap notes",
    )
    assert all(n.body["response_type"] == "ephemeral" for n in notes)
    assert not any(n.body.get("replace_original") for n in notes)
    assert all(pulse_message(fake, uid).edits == 0 for uid in ids)
    assert not fake.calls_to("chat.update")

    # Comments through the modal, one too long (kept open with an error, nothing stored).
    for uid in answering[:6]:
        msg = pulse_message(fake, uid)
        rid = find_element(msg.blocks, "comment")["value"]
        slack.block_action(uid, "comment", rid, message=msg.to_api(), trigger_id="T1")
    wait_for(lambda: len(fake.calls_to("views.open")) >= 6, what="comment modals")
    long = slack.view_submission(
        answering[0], "pulse_comment", {"comment": {"text": "x" * 2500}}, private_metadata=rid
    )
    assert long.json()["response_action"] == "errors"
    for i, uid in enumerate(answering[:6]):
        r = slack.view_submission(
            uid,
            "pulse_comment",
            {"comment": {"text": f"  Rota gaps again {i}\x07 "}},
            private_metadata=rid,
        )
        assert r.json()["response_action"] == "update"
    with core.db.Session() as s:
        texts = sorted(s.scalars(select(Comment.text)))
    assert texts == [f"Rota gaps again {i}" for i in range(6)]

    # Reminder: a day later, only the ten who did not answer anything.
    clock.advance(timedelta(hours=24, minutes=1))
    sched = Scheduler(core, sync_audience=False)
    sched.tick()
    while worker.run_once():
        pass
    reminded = {uid for uid in ids if dms_of_kind(fake, uid, "reminder")}
    assert reminded == set(ids) - set(answering)
    sched.tick()
    while worker.run_once():
        pass
    assert all(len(dms_of_kind(fake, uid, "reminder")) == 1 for uid in reminded)

    round_checks.check_live_participation(core, fake.team_id, sent=60, responded=50)

    # Close: links are gone, answers stay, every identity row of the round reads the same.
    before_close = pulse_message(fake, answering[1]).to_api()
    clock.advance(timedelta(days=5))
    sched.tick()
    round_checks.check_closed(core, len(stored), invited=60, responded=50)

    # A tap after close gets a polite note only the doctor sees and changes nothing.
    uid = answering[1]
    btn = answer_buttons(fake.message(before_close["channel"], before_close["ts"]))[0][0]
    slack.block_action(uid, btn["action_id"], btn["value"], message=before_close)
    note = wait_for(
        lambda: [p for p in fake.response_posts() if "Thanks for tapping" in str(p.body)],
        what="closed note",
    )
    assert note[0].body["response_type"] == "ephemeral" and not note[0].body["replace_original"]
    assert len(_responses(core)) == len(stored)

    # The tidy-up: every pulse DM reads the same closed message; every reminder is deleted.
    clock.advance(timedelta(minutes=6))
    while worker.run_once():
        pass
    for uid in ids:
        history = dm_history(fake, uid)
        assert [m["text"] for m in history] == [CLOSED_TEXT], uid
    assert len(fake.calls_to("chat.delete")) == len(reminded)
    round_checks.check_tidied(core)


def test_a_questions_own_anchors_replace_the_scales_and_are_not_said_twice():
    own = Question(1, "How engaged?", "scale0_10", "0 = not at all engaged, 10 = fully engaged.")
    assert question_hint(own) == "0 = not at all engaged, 10 = fully engaged."
    plain = Question(2, "How likely?", "scale0_10", "Think of the last month.")
    assert question_hint(plain) == "0 = not at all · 10 = completely · Think of the last month."
    assert question_hint(Question(3, "Agree?", "agree5")) is None
