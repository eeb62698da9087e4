"""Summaries end to end over HTTP: answered rounds, /pulse summary posting Block Kit and a real PNG
to the leaders channels, "Show intervals", department views, comments, the CSV export in a DM and
the weekly job on the scheduler."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import matplotlib.image as mpimg
from sqlalchemy import select

from bot.insights.posting import post_due_summaries
from bot.people.roster import import_roster
from bot.rounds.scheduler import Scheduler
from integrations.slack.summary_blocks import SHOW_INTERVALS
from storage.models import QuestionItem, QuestionVersion
from tests.blockkit import find_element, validate
from tests.conftest import ADMIN
from tests.helpers import answer_buttons, doctors, wait_for

LONDON = ZoneInfo("Europe/London")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def answered_round(core, fake, slack, worker, clock, answering, comment_from=()) -> dict:
    """One full round, quickly: send now, deliver, tap an answer to every question, comment,
    close. Returns version id -> the values tapped (what the summary must report)."""
    reply = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="send now")
    while worker.run_once():
        pass
    tapped: dict[int, list[int]] = {}
    for i, uid in enumerate(answering):
        msg = _latest_pulse(fake, uid)
        for q, buttons in enumerate(answer_buttons(msg)):
            btn = buttons[(i + q) % len(buttons)]
            r = slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api())
            assert r.status == 200
            _, vid, value = (int(x) for x in btn["value"].split(":"))
            tapped.setdefault(vid, []).append(value)
        if uid in comment_from:
            rid = find_element(msg.blocks, "comment")["value"]
            slack.view_submission(
                uid,
                "pulse_comment",
                {"comment": {"text": f"Comment from someone {i} <!channel>"}},
                private_metadata=rid,
            )
    clock.advance(timedelta(days=6))
    Scheduler(core, sync_audience=False).tick()  # closes the round
    clock.advance(timedelta(days=8))
    return tapped


def test_comments_of_one_department_where_its_own_figures_may_be_shown(
    core, fake, slack, worker, clock
):
    ids = doctors(fake, 24)
    fake.add_user("UREADER", name="reader")
    _audience_with_roster(core, fake, slack, ids, lambda i: "Medicine" if i < 12 else "Surgery")
    answering = ids[:10] + ids[12:22]  # comment i comes from answering[i]
    # A new audience's first round publishes nothing finer than the whole (sock-puppet rule):
    answered_round(core, fake, slack, worker, clock, answering, comment_from=ids[:6] + ids[12:18])
    held = slack.slash("comments department:medicine", ADMIN).json()["text"]
    assert "not shown this period" in held and "someone" not in held
    answered_round(core, fake, slack, worker, clock, answering, comment_from=ids[:6] + ids[12:18])

    medicine = slack.slash("comments department:medicine", ADMIN).json()["text"]
    assert "6 anonymous comments from Medicine" in medicine
    assert [i for i in range(20) if f"someone {i} " in medicine] == [0, 1, 2, 3, 4, 5]
    surgery = slack.slash('comments "department:Surgery"', ADMIN).json()["text"]
    assert [i for i in range(20) if f"someone {i} " in surgery] == [10, 11, 12, 13, 14, 15]
    assert "12 anonymous comments" in slack.slash("comments", ADMIN).json()["text"]

    unknown = slack.slash("comments department:Nowhere", ADMIN).json()["text"]
    assert "no department called 'Nowhere'" in unknown and "Medicine, Surgery" in unknown
    assert "Usage" in unknown
    refused = slack.slash("comments department:Medicine", "UREADER").json()["text"]
    assert "admins and leaders" in refused and "someone" not in refused


def _audience_with_roster(core, fake, slack, ids, department_of) -> None:
    """The doctors' channel as the audience, then a roster: doctor i in ``department_of(i)``,
    all consultants."""
    r = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key))
    roster = "slack_id,department,grade\n" + "\n".join(
        f"{u},{department_of(i)},consultant" for i, u in enumerate(ids)
    )
    assert import_roster(core, fake.team_id, roster).imported


def _latest_pulse(fake, uid):
    call = fake.dms_to(uid)[-1]
    return fake.message(call.response["channel"], call.response["ts"])


def _headline_version(core) -> set[int]:
    with core.db.Session() as s:
        return set(
            s.scalars(
                select(QuestionVersion.id).join(QuestionItem).where(QuestionItem.headline.is_(True))
            )
        )


def _posts(fake, channel: str) -> list:
    return [m for (ch, _), m in fake.messages.items() if ch == channel and m.blocks]


def _files(fake, **match) -> list:
    return [
        f
        for f in fake.uploaded_files.values()
        if f.completed and f.data and all(getattr(f, k) == v for k, v in match.items())
    ]


def test_summary_posts_blocks_and_a_real_png_with_the_right_counts(
    core, fake, slack, worker, clock
):
    ids = doctors(fake, 24)
    fake.add_channel("C0LEADERS", "leadership", members=[ADMIN])
    fake.add_channel("C0SMALL", "small-dept", members=[ADMIN])
    fake.add_user("UREADER", name="reader")
    _audience_with_roster(core, fake, slack, ids, lambda i: "Tiny" if i < 3 else "Medicine")
    assert (
        "receive summaries" in slack.slash("leaders <#C0LEADERS|leadership>", ADMIN).json()["text"]
    )
    slack.slash('leaders <#C0SMALL|small-dept> "department:Tiny"', ADMIN)

    answered_round(core, fake, slack, worker, clock, ids[:18])
    tapped = answered_round(core, fake, slack, worker, clock, ids[:20], comment_from=ids[:6])

    refused = slack.slash("summary", "UREADER")
    assert "admins and leaders" in refused.json()["text"]
    reply = slack.slash("summary", ADMIN)
    assert "Building" in reply.json()["text"]
    done = wait_for(lambda: fake.response_posts(reply.response_key), timeout=30, what="posted")
    assert "Summary posted to <#C0LEADERS>" in done[0].body["text"]

    (post,) = _posts(fake, "C0LEADERS")
    assert validate(post.blocks) == []
    text = str(post.blocks)
    assert "20 of 24 doctors answered (83%)" in text
    (head_vid,) = _headline_version(core) & set(tapped)
    values = tapped[head_vid]
    assert len(values) == 20
    assert f"Headline engagement: {sum(values) / len(values):.1f} / 10" in text
    # Tiny (3 doctors) and, to protect it, Medicine read the k label: no count of either
    assert "Tiny: too few answered to report (fewer than 5)" in text and "of 3" not in text
    # Medicine has 5 or more answers: it reads as held back, never as "fewer than 5"
    assert "Held back to protect a smaller group: Medicine" in text
    assert "Medicine: fewer than" not in text
    assert "Comments this pulse: 6" in text

    (png,) = _files(fake, channel="C0LEADERS")
    assert png.data.startswith(PNG_MAGIC) and png.filename.endswith(".png")
    image = mpimg.imread(io.BytesIO(png.data), format="png")
    assert image.shape[1] >= 800 and image.shape[0] >= 600

    # The 3-doctor department's own channel gets a reason, never numbers, and no chart.
    (small,) = _posts(fake, "C0SMALL")
    assert "not shown" in str(small.blocks) and "/ 10" not in str(small.blocks)
    assert not _files(fake, channel="C0SMALL")

    # "Show intervals" on the posted summary: an ephemeral reply with the 95% intervals.
    button = find_element(post.blocks, SHOW_INTERVALS)
    click = slack.block_action(ADMIN, button["action_id"], button["value"], message=post.to_api())
    shown = wait_for(lambda: fake.response_posts(click.response_key), what="intervals")
    assert shown[0].body["response_type"] == "ephemeral"
    assert re.search(r"95% interval \d", str(shown[0].body["blocks"]))
    assert validate(shown[0].body["blocks"]) == []
    nosy = slack.block_action(
        "UREADER", button["action_id"], button["value"], message=post.to_api()
    )
    refusal = wait_for(lambda: fake.response_posts(nosy.response_key), what="refusal")
    assert "95%" not in str(refusal[0].body)

    # Comments: six, escaped, with no date finer than the period.
    body = slack.slash("comments", ADMIN).json()["text"]
    assert "6 anonymous comments" in body and body.count("Comment from someone") == 6
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body
    assert "period from" in body
    assert "there is no theme" in slack.slash("comments nonsense", ADMIN).json()["text"]
    # Neither department's comments on their own: Tiny is under k, and Medicine would be the
    # trust minus Tiny (complementary suppression, as in the summary).
    for dept in ("Tiny", "medicine"):
        body = slack.slash(f"comments department:{dept}", ADMIN).json()["text"]
        assert "not shown this period" in body and "Comment from" not in body

    # Export: a CSV in the admin's DM, with no figure under k.
    e = slack.slash("export", ADMIN)
    assert e.status == 200
    (upload,) = wait_for(lambda: _files(fake, filename="medpulse-export.csv"), what="export")
    assert upload.channel.startswith("D")
    rows = list(csv.DictReader(io.StringIO(upload.data.decode())))
    assert rows and {"period", "theme", "item", "department", "grade", "n", "score"} <= set(rows[0])
    hidden = (
        "fewer than 5 responses",
        "held back to protect a smaller group",
        "held back: the audience changed since the previous pulse",
    )
    for row in rows:
        assert row["n"] in hidden or int(row["n"]) >= 5
        if row["department"] == "Tiny":
            assert row["score"] == "" and row["n"] in hidden


def test_weekly_job_posts_once_per_channel_on_monday_morning(core, fake, slack, worker, clock):
    ids = doctors(fake, 12)
    fake.add_channel("C0LEADERS", "leadership", members=[ADMIN])
    r = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key))
    slack.slash("leaders <#C0LEADERS|leadership>", ADMIN)
    sched = Scheduler(core, sync_audience=False, on_summary=post_due_summaries)
    clock.set(datetime(2026, 11, 30, 8, 30, tzinfo=LONDON))  # a Monday, but nothing closed yet
    assert sched.tick().summaries == 0
    answered_round(core, fake, slack, worker, clock, ids[:10])

    clock.set(datetime(2026, 12, 14, 7, 59, tzinfo=LONDON))  # a Monday
    assert sched.tick().summaries == 0
    clock.set(datetime(2026, 12, 14, 8, 0, tzinfo=LONDON))
    assert sched.tick().summaries == 1
    clock.set(datetime(2026, 12, 14, 9, 0, tzinfo=LONDON))
    assert sched.tick().summaries == 0  # once a week per channel
    assert len(_posts(fake, "C0LEADERS")) == 1
    assert len(_files(fake, channel="C0LEADERS")) == 1

    # The next Monday no new period has closed (fortnightly pulses): no repeat of the same summary.
    clock.set(datetime(2026, 12, 21, 8, 30, tzinfo=LONDON))
    assert sched.tick().summaries == 0
    # Another round closes; the scheduler is down all of the following Monday: Tuesday morning
    # still posts that week's summary...
    clock.set(datetime(2026, 12, 22, 10, 0, tzinfo=LONDON))
    answered_round(core, fake, slack, worker, clock, ids[:10])
    clock.set(datetime(2027, 1, 5, 9, 0, tzinfo=LONDON))
    assert sched.tick().summaries == 1
    # ...but a week-old summary is not posted on a Thursday.
    clock.set(datetime(2027, 1, 14, 9, 0, tzinfo=LONDON))
    assert sched.tick().summaries == 0
    assert len(_posts(fake, "C0LEADERS")) == 2
