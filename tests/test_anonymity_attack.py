"""Attack the stored tables, the files on disk and the Slack history: knowing who answered what,
can any of them reproduce it?

The tests play a round through the real app with known answers, then act as someone holding a
full copy of the database (but not the app's configuration, where the link key lives), as a
reader of PostgreSQL's row versions or SQLite's write-ahead log, or as a holder of the bot token
reading every doctor's DMs through the Web API (issue 12, attacks 1, 2 and 4).

The attacker's side of each check (given the database, the truth and what was published) is
platform-neutral and lives in tests/anonymity_checks.py, shared with the Teams ports
(tests/test_teams_attacks.py); these tests drive Slack to produce the data.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta

from bot.rounds.scheduler import Scheduler
from tests import anonymity_checks as checks
from tests.anonymity_checks import CHAIN, ROSTER
from tests.blockkit import find_element
from tests.conftest import ADMIN
from tests.helpers import (
    answer_buttons,
    dm_history,
    dms_of_kind,
    doctors,
    pulse_message,
    tap_notes,
    wait_for,
)


def _tap_randomly(slack, uid: str, msg, rng: random.Random) -> list[tuple[str, int, int]]:
    """``uid`` taps a random answer to every question of ``msg``: (user, version, value) each."""
    truth = []
    for buttons in answer_buttons(msg):
        btn = rng.choice(buttons)
        slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api())
        _, vid, value = (int(x) for x in btn["value"].split(":"))
        truth.append((uid, vid, value))
    return truth


def _roster_csv(ids: list[str]) -> str:
    lines, i = ["slack_id,department,grade"], 0
    for dept, n in ROSTER:
        for j in range(n):
            grade = "consultant" if j % 2 else "resident"
            lines.append(f"{ids[i]},{dept},{grade}")
            i += 1
    return "\n".join(lines)


def _play_round(core, fake, slack, worker):
    from bot.people.roster import import_roster

    ids = doctors(fake, sum(n for _, n in ROSTER))
    reply = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="audience synced")
    report = import_roster(core, fake.team_id, _roster_csv(ids))
    assert report.imported and len(report.matched) == len(ids)
    reply = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="send now")
    while worker.run_once():
        pass
    rng = random.Random(99)
    truth: list[tuple[str, int, int]] = []  # (user, version, value) in tap order
    order = ids[:]
    rng.shuffle(order)
    for uid in order[:-4]:
        truth += _tap_randomly(slack, uid, pulse_message(fake, uid), rng)
    for uid in order[:8]:
        rid = find_element(pulse_message(fake, uid).blocks, "comment")["value"]
        slack.view_submission(
            uid,
            "pulse_comment",
            {"comment": {"text": f"note from {uid[-2:]}x"}},
            private_metadata=rid,
        )
    return ids, truth


def test_no_join_of_the_stored_tables_ties_an_answer_to_a_person(core, fake, slack, worker, clock):
    ids, truth = _play_round(core, fake, slack, worker)
    clock.advance(timedelta(days=6))
    Scheduler(core, sync_audience=False).tick()  # closes the round
    checks.check_no_stored_row_ties_an_answer(core, ids, truth)


def test_while_open_only_the_key_outside_the_database_links_answers(core, fake, slack, worker):
    ids, truth = _play_round(core, fake, slack, worker)
    checks.check_only_the_key_links(core, truth, fake.team_id)


# -- shared by the attacks below ------------------------------------------------------------


def _remind_close_and_tidy(core, clock, worker, after_close=None):
    """A day on (reminders to those who have not answered), then close, then the tidy-up."""
    sched = Scheduler(core, sync_audience=False)
    clock.advance(timedelta(hours=25))
    sched.tick()
    while worker.run_once():
        pass
    clock.advance(timedelta(days=5))
    sched.tick()  # closes the round
    if after_close is not None:
        after_close()
    clock.advance(timedelta(minutes=6))
    while worker.run_once():
        pass


def _who_answered(truth) -> set[str]:
    return {uid for uid, _, _ in truth}


def _tag(call) -> str:
    return str(((call.params.get("metadata") or {}).get("event_payload") or {}).get("tag", ""))


# -- attack 1: the Slack history -------------------------------------------------------------


def test_attack_1_dm_history_after_close_is_the_same_whether_or_not_one_answered(
    core, fake, slack, worker, clock
):
    ids, truth = _play_round(core, fake, slack, worker)
    answered = _who_answered(truth)
    silent = [u for u in ids if u not in answered]
    assert len(silent) == 4
    _remind_close_and_tidy(core, clock, worker)
    # Reminders went out (to the four who did not answer) and are gone again.
    reminders = [c for c in fake.calls_to("chat.postMessage") if _tag(c).startswith("reminder:")]
    assert {c.params["channel"] for c in reminders} == set(silent)

    def seen(uid):
        """What the bot token reads from a doctor's DM after close, minus the delivery tag."""
        out = []
        for m in dm_history(fake, uid):
            tag = ((m.get("metadata") or {}).get("event_payload") or {}).get("tag", "")
            out.append((m["text"], json.dumps(m.get("blocks"), sort_keys=True), tag.split(":")[0]))
        return out

    views = {uid: seen(uid) for uid in ids}
    baseline = views[silent[0]]
    assert len(baseline) == 1 and "closed" in baseline[0][0]
    assert all(v == baseline for v in views.values()), "a DM differs by whether they answered"
    # Not even the number of edits differs: taps never redrew a DM, only the close did.
    edits = {fake.message("D" + uid, dm_history(fake, uid)[0]["ts"]).edits for uid in ids}
    assert edits == {1}
    # Nothing said about an answer ever reached the history: the notes were ephemeral.
    labels = {"Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree", "Yes", "No"}
    kept = json.dumps([dm_history(fake, uid) for uid in ids])
    assert "recorded" not in kept.lower() and not any(f"*{x}*" in kept for x in labels)
    assert all(tap_notes(fake, uid) for uid in answered)


# -- attack 2: transaction metadata ----------------------------------------------------------


def test_attack_2_no_transaction_writes_both_a_person_and_an_answer(
    core, fake, slack, worker, clock
):
    """During an open round, after answers and comments (tests/anonymity_checks.py)."""
    _play_round(core, fake, slack, worker)
    checks.check_no_transaction_writes_both(core)


def test_attack_2_after_close_old_row_versions_and_log_are_gone(core, fake, slack, worker, clock):
    _play_round(core, fake, slack, worker)
    checks.check_old_row_versions_go_at_close(
        core, lambda after_close: _remind_close_and_tidy(core, clock, worker, after_close)
    )


# -- attack 4: reminder state ----------------------------------------------------------------


def test_attack_4_every_other_delivery_column_is_uniform_after_close(
    core, fake, slack, worker, clock
):
    ids, truth = _play_round(core, fake, slack, worker)
    # One doctor who answered also asked to be reminded: a state only they would have had.
    uid = sorted(_who_answered(truth))[0]
    msg = pulse_message(fake, uid)
    not_now = find_element(msg.blocks, "not_now")
    slack.block_action(uid, "not_now", not_now["value"], message=msg.to_api())
    wait_for(lambda: fake.ephemerals, what="not-now note")
    checks.check_delivery_rows_uniform_after_close(
        core, len(ids), lambda after_close: _remind_close_and_tidy(core, clock, worker, after_close)
    )


# --------------------------------------------------------------------------- attacks 3, 5, 6, 7
#
# Each plays rounds through the real app (signed HTTP, fake Slack, the suite's database), then
# attacks what is stored or published. A new audience's first round publishes nothing finer
# than the whole (attack 7's rule), so the attacks on breakdowns run on a second round.


def _audience(core, fake, slack, roster) -> dict[str, tuple[str, str]]:
    from bot.people.roster import import_roster

    ids = doctors(fake, sum(n for *_, n in roster))
    cells, i = {}, 0
    for dept, grade, n in roster:
        for _ in range(n):
            cells[ids[i]] = (dept, grade)
            i += 1
    reply = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="audience synced")
    csv_text = "slack_id,department,grade\n" + "\n".join(
        f"{u},{d},{g}" for u, (d, g) in cells.items()
    )
    assert import_roster(core, fake.team_id, csv_text).imported
    return cells


def _send(fake, slack, worker) -> None:
    reply = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="send now")
    while worker.run_once():
        pass


def _latest(fake, uid):
    call = dms_of_kind(fake, uid, "pulse")[-1]
    return fake.message(call.response["channel"], call.response["ts"])


def _answer_all(fake, slack, people, seed=7, comments=None) -> list[tuple[str, int, int]]:
    """Everyone taps a random answer to every question; ``comments`` maps user -> theme."""
    rng, truth = random.Random(seed), []
    for uid in people:
        msg = _latest(fake, uid)
        truth += _tap_randomly(slack, uid, msg, rng)
        if comments and uid in comments:
            rid = find_element(msg.blocks, "comment")["value"]
            theme = {"type": "static_select", "selected_option": {"value": comments[uid]}}
            slack.view_submission(
                uid,
                "pulse_comment",
                {"comment": {"text": f"note {uid}"}, "theme": {"theme": theme}},
                private_metadata=rid,
            )
    return truth


def _close(core, clock) -> None:
    clock.advance(timedelta(days=6))
    Scheduler(core, sync_audience=False).tick()
    clock.advance(timedelta(days=8))


def _two_rounds(core, fake, slack, worker, clock, roster, comments=None):
    cells = _audience(core, fake, slack, roster)
    _send(fake, slack, worker)
    _close(core, clock)  # the new audience's first round: nobody answers
    _send(fake, slack, worker)
    truth = _answer_all(fake, slack, list(cells), comments=comments)
    return cells, truth


def test_attack_3_no_stored_segment_narrows_to_a_small_cell(core, fake, slack, worker, clock):
    cells, truth = _two_rounds(core, fake, slack, worker, clock, CHAIN)
    checks.check_no_stored_segment_narrows(
        core, cells, truth, fake.team_id, close=lambda: _close(core, clock)
    )


def _export_rows(fake, slack) -> list[dict]:
    import csv
    import io

    before = {f.id for f in fake.uploaded_files.values()}
    slack.slash("export", ADMIN)
    (upload,) = wait_for(
        lambda: [
            f for f in fake.uploaded_files.values() if f.completed and f.data and f.id not in before
        ],
        timeout=30,
        what="export",
    )
    return list(csv.DictReader(io.StringIO(upload.data.decode())))


def test_attack_5_no_subtraction_of_exported_rows_isolates_anyone(core, fake, slack, worker, clock):
    cells, truth = _two_rounds(core, fake, slack, worker, clock, CHAIN)
    _close(core, clock)
    checks.check_export_isolates_nobody(core, cells, truth, _export_rows(fake, slack))


def test_attack_6_comment_lists_do_not_join_to_a_small_group(core, fake, slack, worker, clock):
    roster = [("Medicine", "consultant", 12), ("Surgery", "consultant", 12)]
    cells = _audience(core, fake, slack, roster)
    ids = list(cells)
    themes = ["stable-leadership"] * 4 + ["quality-strategy"] * 2  # Medicine's six comments
    themes += ["stable-leadership"] * 5 + ["other"]  # Surgery's six
    comments = dict(zip(ids[:6] + ids[12:18], themes, strict=True))
    _send(fake, slack, worker)
    _close(core, clock)
    _send(fake, slack, worker)
    _answer_all(fake, slack, ids, comments=comments)
    _close(core, clock)

    lists = {
        "all": slack.slash("comments", ADMIN).json()["text"],
        "stable": slack.slash("comments stable-leadership", ADMIN).json()["text"],
        "quality": slack.slash("comments quality-strategy", ADMIN).json()["text"],
        "Medicine": slack.slash("comments department:Medicine", ADMIN).json()["text"],
        "Surgery": slack.slash("comments department:Surgery", ADMIN).json()["text"],
    }
    checks.check_comment_lists_join_no_small_group(lists, _comment_line, core.k)


def _comment_line(line: str) -> tuple[str, str] | None:
    """A Slack comments list's line ``• _label_: comment`` as (label, comment)."""
    if not line.startswith("• _"):
        return None
    label, note = line[3:].split("_: ", 1)
    return label, note


def test_attack_7_sock_puppets_get_no_breakdown_and_the_target_sees_the_change(
    core, fake, slack, worker, clock
):
    roster = [("Medicine", "consultant", 20), ("Cardiology", "consultant", 1)]
    cells = _audience(core, fake, slack, roster)
    ids = list(cells)
    target, puppets = ids[20], ids[:4]
    _send(fake, slack, worker)
    _close(core, clock)
    _send(fake, slack, worker)
    _answer_all(fake, slack, ids)
    _close(core, clock)

    def home(uid: str) -> str:
        fake._home_views.pop(uid, None)
        slack.app_home_opened(uid)
        return str(wait_for(lambda: fake.home_views.get(uid), what="home")["blocks"])

    assert "Your pulse group:* 21 doctors. It last changed on" in home(target)
    # The admin moves four accounts they control into the target's department...
    from bot.people.roster import import_roster

    moved = "slack_id,department,grade\n" + "\n".join(f"{u},Cardiology,consultant" for u in puppets)
    assert import_roster(core, fake.team_id, moved).imported
    # ...which the target can see before the next pulse,
    assert "It has changed since the last pulse" in home(target)
    _send(fake, slack, worker)
    _answer_all(fake, slack, ids, seed=8)
    assert checks.latest_segments(core) == {(None, None)}  # not even stored while open
    _close(core, clock)
    # and the round that follows publishes nothing finer than the whole audience.
    checks.check_nothing_finer_after_a_move(
        core,
        _export_rows(fake, slack),
        "Cardiology",
        slack.slash("comments department:Cardiology", ADMIN).json()["text"],
    )


def test_attack_7b_people_moved_while_a_round_is_open_count_as_an_audience_change(
    core, fake, slack, worker, clock
):
    """The admin waits for an unchanged round to open, then swaps the target's colleagues for
    puppets (a roster import) before anyone answers: close sees the move, so the round
    publishes nothing finer than the whole audience and the target's answer stays pooled."""
    from bot.people.roster import import_roster

    cells = _audience(core, fake, slack, [("Medicine", "consultant", 20), ("Cardio", "sas", 5)])
    ids = list(cells)
    colleagues, puppets = ids[21:25], ids[:4]  # Cardio keeps ids[20], the target
    _send(fake, slack, worker)
    _close(core, clock)  # a new audience's first round
    _send(fake, slack, worker)
    _answer_all(fake, slack, ids)
    _close(core, clock)  # an ordinary, unchanged round: breakdowns are published
    _send(fake, slack, worker)  # this round's audience equals the last one's
    moved = "slack_id,department,grade\n" + "\n".join(
        [f"{u},Medicine,consultant" for u in colleagues] + [f"{u},Cardio,sas" for u in puppets]
    )
    assert import_roster(core, fake.team_id, moved).imported
    _answer_all(fake, slack, ids, seed=11)
    _close(core, clock)
    checks.check_a_mid_round_move_publishes_no_breakdown(core, _export_rows(fake, slack), "Cardio")
