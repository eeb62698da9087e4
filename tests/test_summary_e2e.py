"""Summaries end to end over HTTP: answered rounds, /pulse summary posting Block Kit and a real PNG
to the leaders channels, department views, comments and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import matplotlib.image as mpimg
from sqlalchemy import func, select

from bot.roster import import_roster
from bot.scheduler import Scheduler
from storage.models import Response
from tests.blockkit import validate
from tests.conftest import ADMIN
from tests.helpers import answer_buttons, doctors, pulse_message, wait_for


def _round(core, fake, slack, worker, clock, ids, answering, comment_from=()):
    reply = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="send now")
    while worker.run_once():
        pass
    for i, uid in enumerate(answering):
        msg = pulse_message(fake, uid) if len(fake.dms_to(uid)) == 1 else _latest(fake, uid)
        for buttons in answer_buttons(msg):
            btn = buttons[min(i % len(buttons), len(buttons) - 1)]
            slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api())
        if uid in comment_from:
            rid = msg.blocks[-2]["elements"][0]["value"]
            slack.view_submission(
                uid,
                "pulse_comment",
                {"comment": {"text": f"Comment from someone {i}"}},
                private_metadata=rid,
            )
    clock.advance(timedelta(days=6))
    Scheduler(core, sync_audience=False).tick()
    clock.advance(timedelta(days=8))


def _latest(fake, uid):
    call = fake.dms_to(uid)[-1]
    return fake.message(call.response["channel"], call.response["ts"])


def test_summary_posts_blocks_and_a_real_png_with_the_right_counts(
    core, fake, slack, worker, clock
):
    ids = doctors(fake, 24)
    fake.add_channel("C0LEADERS", "leadership", members=[ADMIN])
    fake.add_channel("C0SMALL", "small-dept", members=[ADMIN])
    fake.add_user("UREADER", name="reader")
    r = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key))
    roster = "slack_id,department,grade\n" + "\n".join(
        f"{u},{'Tiny' if i < 3 else 'Medicine'},consultant" for i, u in enumerate(ids)
    )
    assert import_roster(core, fake.team_id, roster).imported
    assert (
        "receive summaries" in slack.slash("leaders <#C0LEADERS|leadership>", ADMIN).json()["text"]
    )
    slack.slash('leaders <#C0SMALL|small-dept> "department:Tiny"', ADMIN)

    _round(core, fake, slack, worker, clock, ids, ids[:18])
    _round(core, fake, slack, worker, clock, ids, ids[:20], comment_from=ids[:6])

    refused = slack.slash("summary", "UREADER")
    assert "admins and leaders" in refused.json()["text"]
    reply = slack.slash("summary", ADMIN)
    assert "Building" in reply.json()["text"]
    wait_for(lambda: fake.response_posts(reply.response_key), timeout=30, what="summary posted")
    posts = [m for (ch, _), m in fake.messages.items() if ch == "C0LEADERS" and m.blocks]
    assert len(posts) == 1
    blocks = posts[0].blocks
    assert validate(blocks) == []
    text = str(blocks)
    assert "20 of 24 doctors responded (83%)" in text
    with core.db.Session() as s:
        n_head = s.scalar(select(func.count()).select_from(Response))
    assert n_head > 0
    png = [f for f in fake.uploaded_files.values() if f.channel == "C0LEADERS"]
    assert len(png) == 1 and png[0].data.startswith(b"\x89PNG\r\n\x1a\n")
    image = mpimg.imread(io.BytesIO(png[0].data), format="png")
    assert image.shape[0] > 600 and image.shape[1] > 600

    # The 3-doctor department's own channel gets a refusal to show figures, never numbers.
    small = [m for (ch, _), m in fake.messages.items() if ch == "C0SMALL" and m.blocks]
    assert len(small) == 1 and "Fewer than 5 people responded" in str(small[0].blocks)
    assert not [f for f in fake.uploaded_files.values() if f.channel == "C0SMALL"]

    # Comments: six, in random order, no dates finer than the period.
    c = slack.slash("comments", ADMIN)
    body = c.json()["text"]
    assert "6 anonymous comments" in body and body.count("Comment from someone") == 6
    assert "period from" in body
    assert "there is no theme" in slack.slash("comments nonsense", ADMIN).json()["text"]

    # Export: a CSV in the admin's DM, with no figure under k.
    e = slack.slash("export", ADMIN)
    wait_for(
        lambda: [f for f in fake.uploaded_files.values() if f.filename == "medpulse-export.csv"],
        what="export",
    )
    data = next(
        f for f in fake.uploaded_files.values() if f.filename == "medpulse-export.csv"
    ).data.decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert rows and {"period", "theme", "item", "department", "grade", "n", "score"} <= set(rows[0])
    for row in rows:
        assert row["n"] == "fewer than 5 responses" or int(row["n"]) >= 5
        if row["department"] == "Tiny":
            assert row["score"] == ""
    assert e.status == 200


def test_weekly_job_posts_once_on_monday_morning(core, fake, slack, worker, clock):
    ids = doctors(fake, 10)
    fake.add_channel("C0LEADERS", "leadership", members=[ADMIN])
    r = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key))
    slack.slash("leaders <#C0LEADERS|leadership>", ADMIN)
    _round(core, fake, slack, worker, clock, ids, ids[:9])
    from datetime import datetime
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    sched = Scheduler(
        core,
        sync_audience=False,
        on_summary=__import__("bot.summary_job", fromlist=["x"]).post_due_summaries,
    )
    clock.set(datetime(2026, 12, 14, 7, 59, tzinfo=london))  # a Monday
    assert sched.tick().summaries == 0
    clock.set(datetime(2026, 12, 14, 8, 0, tzinfo=london))
    assert sched.tick().summaries == 1
    clock.set(datetime(2026, 12, 14, 9, 0, tzinfo=london))
    assert sched.tick().summaries == 0  # once a week per channel
    assert len([m for (ch, _), m in fake.messages.items() if ch == "C0LEADERS" and m.blocks]) == 1
