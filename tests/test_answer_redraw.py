"""Answer taps against a slow or busy Slack: acks never wait on the redraw, and the message
ends up showing every stored answer whatever order quick taps committed in."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from bot.redraws import Redraws
from storage.models import Response
from tests.conftest import ADMIN
from tests.helpers import answer_buttons, doctors, pulse_message, wait_for


def _round(fake, slack, worker, n: int) -> list[str]:
    ids = doctors(fake, n)
    reply = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="audience synced")
    reply = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="send now reply")
    while worker.run_once():
        pass
    return ids


def _shown(message) -> dict[int, int]:
    """version id -> the value the message highlights as recorded."""
    out = {}
    for buttons in answer_buttons(message):
        for b in buttons:
            if b.get("style") == "primary":
                _, vid, value = (int(x) for x in b["value"].split(":"))
                out[vid] = value
    return out


def test_slow_slack_does_not_hold_acks(core, fake, slack, worker):
    ids = _round(fake, slack, worker, 24)
    # Each redraw takes 4 s at Slack. Were redraws run in Bolt's listener threads (16 here),
    # the third wave of 8 taps (the server's threads) would wait for one of them past Slack's
    # 3 s for its ack: Bolt answers 404 then, and Slack shows the doctor an error.
    fake.method_latency["response_url"] = 4.0
    taps = []
    for uid in ids:
        msg = pulse_message(fake, uid)
        btn = answer_buttons(msg)[0][2]
        taps.append((uid, btn, msg.to_api()))
    with ThreadPoolExecutor(len(taps)) as pool:
        replies = list(
            pool.map(
                lambda t: slack.block_action(t[0], t[1]["action_id"], t[1]["value"], message=t[2]),
                taps,
            )
        )
    assert [r.status for r in replies] == [200] * len(ids)
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Response.id))) == len(ids)
    fake.method_latency["response_url"] = 0.0
    for uid, btn, _ in taps:
        _, vid, value = (int(x) for x in btn["value"].split(":"))
        wait_for(
            lambda uid=uid, want={vid: value}: _shown(pulse_message(fake, uid)) == want,
            timeout=30,
            what="redraw",
        )


def test_quick_taps_end_showing_every_stored_answer(core, fake, slack, worker):
    uid = _round(fake, slack, worker, 6)[0]
    fake.method_latency["response_url"] = 0.2  # redraws overlap the next taps
    before = len(fake.calls_to("response_url"))
    msg = pulse_message(fake, uid)
    questions = answer_buttons(msg)
    # Twelve taps back to back, across the questions, changing answers as they go.
    plan = [(q, choice) for choice in (0, 3, 1, 4) for q in range(len(questions))]
    for q, choice in plan:
        btn = questions[q][choice]
        assert slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api()).ok
    expected = {}
    for q, choice in plan:
        _, vid, value = (int(x) for x in questions[q][choice]["value"].split(":"))
        expected[vid] = value
    with core.db.Session() as s:
        stored = sorted(s.scalars(select(Response.value)))
    assert stored == sorted(expected.values())
    wait_for(lambda: _shown(pulse_message(fake, uid)) == expected, timeout=30, what="final state")
    # Coalesced: never more redraws than taps, and none after the final state landed.
    posts = len(fake.calls_to("response_url")) - before
    assert 1 <= posts <= len(plan)


def test_redraws_run_newest_job_per_key_one_at_a_time():
    import threading

    started, release = threading.Event(), threading.Event()
    ran: list[str] = []
    q = Redraws(workers=4)

    def slow():
        started.set()
        release.wait(5)
        ran.append("first")

    assert q.submit("msg", slow)
    assert started.wait(5)
    # While the first runs, two more arrive for the same message: only the newest runs, after.
    assert q.submit("msg", lambda: ran.append("stale"))
    assert q.submit("msg", lambda: ran.append("newest"))
    assert q.submit("other", lambda: ran.append("other"))
    wait_for(lambda: "other" in ran, what="other key not blocked")
    assert "newest" not in ran
    release.set()
    wait_for(q.idle, what="drained")
    assert ran == ["other", "first", "newest"]
    q.close()


def test_redraw_queue_is_bounded():
    import threading

    gate = threading.Event()
    q = Redraws(workers=1, limit=2)
    assert q.submit("a", lambda: gate.wait(5))
    wait_for(lambda: not q._ready, what="a running")
    assert q.submit("b", lambda: None) and q.submit("c", lambda: None)
    assert q.submit("b", lambda: None)  # replacing a queued key is always allowed
    assert not q.submit("d", lambda: None) and q.dropped == 1
    gate.set()
    q.close()


def test_close_finishes_queued_redraws_then_refuses_more():
    import time

    ran: list[str] = []
    q = Redraws(workers=1)
    assert q.submit("a", lambda: (time.sleep(0.2), ran.append("a")))
    assert q.submit("b", lambda: ran.append("b"))
    q.close(timeout=5)
    assert ran == ["a", "b"]
    assert not q.submit("c", lambda: ran.append("c"))


def test_a_failing_response_url_falls_back_to_chat_update(core, fake, slack, worker):
    uid = _round(fake, slack, worker, 6)[0]
    msg = pulse_message(fake, uid)
    btn = answer_buttons(msg)[0][1]
    fake.fail_next("response_url", status=503)
    assert slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api()).ok
    _, vid, value = (int(x) for x in btn["value"].split(":"))
    wait_for(lambda: _shown(pulse_message(fake, uid)) == {vid: value}, what="redraw")
    (update,) = fake.calls_to("chat.update")
    assert update.succeeded and update.params["ts"] == msg.ts
