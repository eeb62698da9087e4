"""Doctors' own controls and the roster: opt out/in, App Home choices, "not now", roster import."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.people.roster import import_roster
from bot.rounds.scheduler import Scheduler
from storage.models import Delivery, Department, Participant
from tests.blockkit import find_element
from tests.conftest import ADMIN
from tests.helpers import answer_buttons, cli_env, dms_of_kind, doctors, pulse_message, wait_for

LONDON = ZoneInfo("Europe/London")


def _audience(fake, slack, n=8):
    ids = doctors(fake, n)
    r = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key), what="audience reply")
    return ids


def _send_and_deliver(fake, slack, worker):
    r = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key), what="send now reply")
    while worker.run_once():
        pass
    return fake.response_posts(r.response_key)[0].body["text"]


def test_opted_out_doctors_get_no_dm_and_can_opt_back_in(fake, slack, worker):
    ids = _audience(fake, slack, 7)
    assert "opted out" in slack.slash("optout", ids[0]).json()["text"]
    assert "Nothing changed" in slack.slash("optout", ids[0]).json()["text"]
    slack.block_action(ids[1], "home_optout", "")
    wait_for(lambda: "Opt back in" in str(fake.home_views.get(ids[1])), what="home redraw")
    _send_and_deliver(fake, slack, worker)
    assert not fake.dms_to(ids[0]) and not fake.dms_to(ids[1])
    assert all(len(dms_of_kind(fake, u, "pulse")) == 1 for u in ids[2:])
    assert "opted in" in slack.slash("optin", ids[0]).json()["text"]


def test_app_home_shows_privacy_status_and_lets_a_doctor_choose(core, fake, slack):
    ids = _audience(fake, slack, 6)
    report = import_roster(
        core,
        fake.team_id,
        "slack_id,department,grade\n"
        + "\n".join(
            f"{u},{'Surgery' if i % 2 else 'Paediatrics'},consultant" for i, u in enumerate(ids)
        ),
    )
    assert report.imported
    slack.app_home_opened(ids[0])
    view = wait_for(lambda: fake.home_views.get(ids[0]), what="home view")
    text = str(view)
    assert "without your name" in text and "5 or more" in text and "You're in" in text
    assert "Paediatrics" in text and "Surgery" in text  # department choices come from the roster
    _select(slack, ids[0], "home_department", "Surgery")
    _select(slack, ids[0], "home_window", "evening")
    _select(slack, ids[0], "home_grade", "resident")

    def chosen():
        with core.db.Session() as s:
            p = s.scalar(select(Participant).where(Participant.user_id == ids[0]))
            dept = s.get(Department, p.department_id).name
            return (dept, p.preferred_window, p.grade) == ("Surgery", "evening", "resident")

    wait_for(chosen, what="choices stored")
    _select(slack, ids[0], "home_department", "Not A Department")
    _select(slack, ids[0], "home_grade", "archbishop")
    wait_for(lambda: len(fake.calls_to("views.publish")) >= 6, what="redraws")
    assert chosen()  # unknown values are ignored, not stored


def _select(slack, user, action_id, value):
    assert slack.block_action(user, action_id, value, action_type="static_select").status == 200


def test_not_now_moves_the_reminder_to_tomorrow_in_the_window(core, fake, slack, worker, clock):
    ids = _audience(fake, slack, 6)
    _send_and_deliver(fake, slack, worker)
    msg = pulse_message(fake, ids[0])
    rid = find_element(msg.blocks, "not_now")["value"]
    slack.block_action(ids[0], "not_now", rid, message=msg.to_api())
    wait_for(lambda: fake.ephemerals, what="ephemeral")
    assert "tomorrow at 08:00" in str(fake.ephemerals[-1]["text"])
    with core.db.Session() as s:
        due = s.scalar(
            select(Delivery.reminder_due).join(Participant).where(Participant.user_id == ids[0])
        )
    due = due if due.tzinfo else due.replace(tzinfo=ZoneInfo("UTC"))
    assert due.astimezone(LONDON) == datetime(2026, 11, 25, 8, 0, tzinfo=LONDON)
    clock.set(datetime(2026, 11, 25, 8, 1, tzinfo=LONDON))
    Scheduler(core, sync_audience=False).tick()
    while worker.run_once():
        pass
    assert len(dms_of_kind(fake, ids[0], "reminder")) == 1
    assert not dms_of_kind(fake, ids[1], "reminder")  # theirs is due at 10:00, a day after sending


def test_send_now_out_of_hours_warns_the_admin_and_sends_anyway(fake, slack, worker, clock):
    ids = _audience(fake, slack, 5)
    clock.set(datetime(2026, 11, 28, 23, 15, tzinfo=LONDON))  # Saturday night
    text = _send_and_deliver(fake, slack, worker)
    assert "outside usual hours" in text
    assert all(len(dms_of_kind(fake, u, "pulse")) == 1 for u in ids)


def test_an_audience_smaller_than_k_gets_no_round(fake, slack, worker):
    _audience(fake, slack, 4)
    text = _send_and_deliver(fake, slack, worker)
    assert "No round was started" in text and "minimum group size of 5" in text
    assert not fake.calls_to("chat.postMessage")


def test_audience_members_are_paged_and_bots_left_out(core, fake, slack):
    ids = _audience(fake, slack, 450)
    with core.db.Session() as s:
        active = set(s.scalars(select(Participant.user_id).where(Participant.active.is_(True))))
    assert active == set(ids)
    pages = fake.calls_to("conversations.members")
    assert len(pages) >= 3 and all(c.params.get("cursor") for c in pages[1:])


def test_answers_change_until_close_without_double_counting(core, fake, slack, worker):
    from storage.models import Response

    ids = _audience(fake, slack, 5)
    _send_and_deliver(fake, slack, worker)
    msg = pulse_message(fake, ids[0])
    first = answer_buttons(msg)[0]
    for btn in (first[0], first[0], first[3], first[1]):
        slack.block_action(ids[0], btn["action_id"], btn["value"], message=msg.to_api())
    with core.db.Session() as s:
        values = s.scalars(select(Response.value)).all()
    assert values == [int(first[1]["value"].split(":")[2])]


ROSTER_OK = "slack_id,email,department,grade\nUDOC0000,,ED,consultant\n,udoc0001@nhs.example,ED,Junior doctor\n,nobody@nhs.example,ED,sas\n"
ROSTER_BAD = "slack_id,email,department,grade\nUDOC0000,,ED,consultant\nbad id,,ED,sas\nUDOC0002,,,sas\nUDOC0003,,ED,archbishop\n"


def test_roster_import_reports_rows_and_imports_all_or_nothing(core, fake, slack):
    ids = _audience(fake, slack, 5)
    bad = import_roster(core, fake.team_id, ROSTER_BAD)
    assert not bad.imported and [n for n, _ in bad.malformed] == [3, 4, 5]
    with core.db.Session() as s:
        assert s.scalars(select(Department)).all() == []  # nothing half-imported
    ok = import_roster(core, fake.team_id, ROSTER_OK)
    assert ok.imported and ok.matched == [2, 3] and ok.unmatched == [(4, "nobody@nhs.example")]
    with core.db.Session() as s:
        grades = dict(s.execute(select(Participant.user_id, Participant.grade)).all())
    assert grades[ids[0]] == "consultant" and grades[ids[1]] == "resident"


def test_roster_import_command_line(fake, db_url, tmp_path):
    doctors(fake, 3)
    good, bad = tmp_path / "roster.csv", tmp_path / "bad.csv"
    good.write_text(ROSTER_OK)
    bad.write_text(ROSTER_BAD)
    env = cli_env(fake, db_url)
    exe = str(Path(sys.executable).parent / "medpulse")
    out = subprocess.run(
        [exe, "roster", "import", str(bad)], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert (
        out.returncode == 2
        and "line 3: malformed" in out.stdout
        and "Nothing was imported" in out.stdout
    )
    out = subprocess.run(
        [exe, "roster", "import", str(good)], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert (
        "2 rows matched, 1 did not match" in out.stdout
        and "line 4: no Slack user for nobody@nhs.example" in out.stdout
    )
    assert "Traceback" not in out.stdout + out.stderr
