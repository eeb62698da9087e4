"""Answer taps against a slow or busy Slack: acks never wait on the confirming note, and the
last note about each question shows the stored answer whatever order quick taps committed in."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from integrations.slack.redraws import Redraws
from storage.models import Response
from tests.helpers import answer_buttons, pulse_message, start_round, tap_notes, wait_for


def _round(fake, slack, worker, n: int) -> list[str]:
    return start_round(fake, slack, worker, n)


def _last_notes(fake, uid: str, n_questions: int) -> dict[int, str]:
    """Question number -> the newest note the doctor saw about it."""
    out = {}
    for note in tap_notes(fake, uid):
        for n in range(1, n_questions + 1):
            if f"Question {n} of" in note:
                out[n] = note
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
        wait_for(
            lambda uid=uid, label=btn["text"]["text"]: any(
                f"*{label}* is recorded" in n for n in tap_notes(fake, uid)
            ),
            timeout=30,
            what="tap note",
        )
        assert pulse_message(fake, uid).edits == 0


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
    expected, labels = {}, {}
    for q, choice in plan:
        _, vid, value = (int(x) for x in questions[q][choice]["value"].split(":"))
        expected[vid] = value
        labels[q + 1] = questions[q][choice]["text"]["text"]
    with core.db.Session() as s:
        stored = sorted(s.scalars(select(Response.value)))
    assert stored == sorted(expected.values())

    def final_notes():
        notes = _last_notes(fake, uid, len(questions))
        return all(f"*{labels[n]}* is recorded" in notes.get(n, "") for n in labels)

    wait_for(final_notes, timeout=30, what="final state")
    # Coalesced: never more notes than taps, and the DM itself is never redrawn.
    posts = len(fake.calls_to("response_url")) - before
    assert 1 <= posts <= len(plan)
    assert pulse_message(fake, uid).edits == 0


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


def test_a_failing_response_url_falls_back_to_chat_post_ephemeral(core, fake, slack, worker):
    uid = _round(fake, slack, worker, 6)[0]
    msg = pulse_message(fake, uid)
    btn = answer_buttons(msg)[0][1]
    fake.fail_next("response_url", status=503)
    assert slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api()).ok
    label = btn["text"]["text"]
    wait_for(lambda: any(label in e["text"] for e in fake.ephemerals), what="fallback note")
    (note,) = fake.calls_to("chat.postEphemeral")
    assert note.succeeded and note.params["user"] == uid
    assert not fake.calls_to("chat.update") and pulse_message(fake, uid).edits == 0
