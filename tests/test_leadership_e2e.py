"""Leadership's checklist, the perception gap and "you said, we did", end to end over HTTP."""

from __future__ import annotations

import io
from datetime import timedelta

import matplotlib.image as mpimg
from sqlalchemy import select

from bot.insights import checklist, gap
from bot.people.roster import import_roster
from bot.people.workspaces import ensure_team
from bot.rounds.scheduler import Scheduler
from storage.models import QuestionItem, QuestionVersion, Response, Workspace
from tests.blockkit import validate
from tests.conftest import ADMIN
from tests.helpers import answer_buttons, dms_of_kind, doctors, wait_for

LEADER = "ULEAD01"


def _setup(core, fake, slack, n=30):
    ids = doctors(fake, n)
    fake.add_user(LEADER, name="leader")
    fake.add_channel("C0LEADERS", "leadership", members=[ADMIN, LEADER])
    r = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key))
    roster = "slack_id,department,grade\n" + "\n".join(
        f"{u},{'Medicine' if i % 2 else 'Surgery'},{'consultant' if i % 3 else 'resident'}"
        for i, u in enumerate(ids)
    )
    assert import_roster(core, fake.team_id, roster).imported
    slack.slash("leaders <#C0LEADERS|leadership>", ADMIN)
    assert (
        "leader"
        in slack.slash(f"leaders-role add <@{LEADER}|leader>", ADMIN).json()["text"].lower()
    )
    return ids


def _checklist(slack, fake, user, rating_for):
    slack.slash("checklist", user, trigger_id="trig-" + user)
    view = wait_for(
        lambda: [
            c
            for c in fake.calls_to("views.open")
            if c.params["view"].get("callback_id") == "leadership_checklist"
        ],
        what="modal",
    )[-1].params["view"]
    assert validate(view["blocks"], surface="modal") == []
    assert len([b for b in view["blocks"] if b.get("block_id", "").startswith("rate|")]) == 14
    state = {
        f"rate|{ref}": {
            "rating": {"type": "static_select", "selected_option": {"value": str(rating_for(ref))}}
        }
        for ref in checklist.QUESTIONS
    }
    state["note|checklist:leaders:6"] = {
        "note": {"type": "plain_text_input", "value": "Job plans include 1 PA"}
    }
    return slack.view_submission(user, "leadership_checklist", state)


def _answer_round(core, fake, slack, worker, clock, ids, answering):
    r = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key))
    while worker.run_once():
        pass
    for uid in answering:
        call = dms_of_kind(fake, uid, "pulse")[-1]
        msg = fake.message(call.response["channel"], call.response["ts"])
        for buttons in answer_buttons(msg):
            slack.block_action(
                uid, buttons[0]["action_id"], buttons[0]["value"], message=msg.to_api()
            )
    clock.advance(timedelta(days=6))
    Scheduler(core, sync_audience=False).tick()
    clock.advance(timedelta(days=8))


def _expected_doctors(core, ref):
    """The doctors' 0-100 score for a checklist question, computed here from raw rows: every
    answer on the 0-100 scale, pooling only (round, version) groups of at least k answers."""
    with core.db.Session() as s:
        rows = s.execute(
            select(
                Response.round_id,
                Response.version_id,
                Response.value,
                QuestionItem.scale,
                QuestionItem.reverse,
            )
            .join(QuestionVersion, QuestionVersion.id == Response.version_id)
            .join(QuestionItem, QuestionItem.id == QuestionVersion.item_id)
            .where(QuestionItem.source == ref)
        ).all()
    cells: dict[tuple[int, int], list[float]] = {}
    for round_id, version_id, value, scale, reverse in rows:
        if scale == "agree5":
            score = ((6 - value if reverse else value) - 1) * 25.0
        elif scale == "scale0_10":
            score = value * 10.0
        else:
            yes = 100.0 if value == 1 else 0.0
            score = 100.0 - yes if reverse else yes
        cells.setdefault((round_id, version_id), []).append(score)
    scores = [x for cell in cells.values() if len(cell) >= core.k for x in cell]
    return (sum(scores) / len(scores) if scores else None), len(scores), len(rows)


def test_checklist_gap_and_you_said_we_did(core, fake, slack, worker, clock):
    ids = _setup(core, fake, slack)
    # Two leaders rate; the leadership view is their average on 0-100.
    bad = slack.view_submission(LEADER, "leadership_checklist", {})
    assert bad.json()["response_action"] == "errors"
    assert _checklist(slack, fake, LEADER, lambda ref: 5).status == 200
    assert _checklist(slack, fake, ADMIN, lambda ref: 3 if ref.endswith(":1") else 5).status == 200
    ws = ensure_team(core, fake.team_id)
    view = checklist.leadership_view(core, ws)
    assert view.leaders == 2
    assert view.score["checklist:organisations:1"] == 75.0  # ratings 5 and 3 -> mean 4 -> 75
    assert view.score["checklist:leaders:2"] == 100.0
    refused = slack.slash("checklist", ids[0])
    assert "admins and leaders" in refused.json()["text"]

    for _ in range(3):
        _answer_round(core, fake, slack, worker, clock, ids, ids[:26])

    rows = {r.ref: r for r in gap.rows(core, ws)}
    assert len(rows) == 14
    for ref, row in rows.items():
        expected, n, answers = _expected_doctors(core, ref)
        if n >= core.k:
            assert row.n == n
            assert abs(row.doctors - expected) < 1e-9
            assert row.gap == row.leaders - row.doctors
        else:
            assert row.n == answers
            assert row.doctors is None and row.gap is None and not row.flagged
    assert any(r.flagged for r in rows.values())
    full = slack.slash("gap", LEADER).json()["text"]
    assert "Perception gap" in full and "gap +" in full

    # The weekly summary carries the short gap section, within Slack's limits.
    r = slack.slash("summary", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key), timeout=30)
    post = next(m for (ch, _), m in fake.messages.items() if ch == "C0LEADERS" and m.blocks)
    assert validate(post.blocks) == []
    assert "Where leaders and doctors see it differently" in str(post.blocks)
    gap_png = [f for f in fake.uploaded_files.values() if f.filename == "medpulse-gap.png"]
    assert len(gap_png) == 1 and gap_png[0].channel == "C0LEADERS"
    assert gap_png[0].data.startswith(b"\x89PNG")
    # Leaders have not rated again: the next summary comes without a second gap chart.
    clock.advance(timedelta(minutes=5))
    again = slack.slash("summary", ADMIN)
    wait_for(lambda: fake.response_posts(again.response_key), timeout=30)
    summaries = [f for f in fake.uploaded_files.values() if f.filename == "medpulse-summary.png"]
    assert len(summaries) == 2
    gap_png = [f for f in fake.uploaded_files.values() if f.filename == "medpulse-gap.png"]
    assert len(gap_png) == 1

    # "You said, we did" for Medicine only: the next pulse opens with it for them alone.
    slack.slash("action", LEADER, trigger_id="trig-action")
    wait_for(
        lambda: [
            c
            for c in fake.calls_to("views.open")
            if c.params["view"].get("callback_id") == "leadership_action"
        ]
    )
    note = "Rota gaps raised in Medicine: two locum posts funded."
    state = {
        "text": {"text": {"type": "plain_text_input", "value": note}},
        "department": {
            "department": {"type": "static_select", "selected_option": {"value": "Medicine"}}
        },
    }
    assert slack.view_submission(LEADER, "leadership_action", state).status == 200
    _answer_round(core, fake, slack, worker, clock, ids, [])
    medicine = [u for i, u in enumerate(ids) if i % 2]
    surgery = [u for i, u in enumerate(ids) if not i % 2]
    for uid in medicine:
        assert note in str(dms_of_kind(fake, uid, "pulse")[-1].params["blocks"])
    for uid in surgery:
        assert note not in str(dms_of_kind(fake, uid, "pulse")[-1].params["blocks"])
    # The App Home lists it for the doctors it concerns, and only for them.
    for uid in (medicine[0], surgery[0]):
        assert uid not in fake.home_views
        slack.app_home_opened(uid)
    assert note in str(wait_for(lambda: fake.home_views.get(medicine[0])))
    assert note not in str(wait_for(lambda: fake.home_views.get(surgery[0])))

    # The one-page checklist export arrives as a real PNG in the leader's DM.
    slack.slash("checklist export", LEADER)
    page = wait_for(  # the upload is complete, not merely announced (its bytes may still be on the way)
        lambda: [
            f
            for f in fake.uploaded_files.values()
            if f.filename == "medpulse-checklist.png" and f.completed and f.data
        ],
        timeout=30,
    )[0]
    img = mpimg.imread(io.BytesIO(page.data), format="png")
    assert img.shape[1] > 1500 and img.shape[0] > 1000
    # Its heading names the trust: read once from Slack (auth.test) and kept.
    with core.db.Session() as s:
        assert s.scalar(select(Workspace.name)) == fake.team().name
