""" "You said, we did": recording, who is shown what (scope, newest first, once per person, only
since their previous pulse), and the pulse DMs that carry it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.admin import you_said_we_did as actions_log
from bot.people import authz, roles
from bot.people.roster import import_roster
from bot.people.workspaces import ensure_team
from bot.rounds.scheduler import Scheduler
from integrations.slack.listeners.modals import action_modal
from storage.models import AuditEntry, Department, Participant, Round
from tests.blockkit import find_element, validate
from tests.conftest import ADMIN
from tests.helpers import dms_of_kind, doctors, wait_for


@pytest.fixture
def ws(core, fake):
    ws = ensure_team(core, fake.team_id)
    with core.db.Session() as s, s.begin():
        s.add_all([Department(workspace_id=ws, name=n) for n in ("Medicine", "Surgery")])
    return ws


def _person(core, ws, user, department=None, grade=None) -> int:
    with core.db.Session() as s, s.begin():
        dept = None
        if department:
            dept = s.scalar(select(Department.id).where(Department.name == department))
        p = Participant(
            workspace_id=ws,
            user_id=user,
            department_id=dept,
            grade=grade,
            created_at=core.clock.now(),
        )
        s.add(p)
        s.flush()
        return p.id


def _record(core, ws, text, department=None, grade=None, theme=None) -> int:
    core.clock.advance(timedelta(minutes=1))
    return actions_log.record(core, ws, "ULEAD", text, theme, department, grade)


def _shown(core, pid, action_id) -> None:
    with core.db.Session() as s, s.begin():
        actions_log.mark_shown(s, pid, action_id)


@pytest.mark.parametrize(
    ("text", "department", "grade", "message"),
    [
        ("", None, None, "Describe"),
        ("   \n ", None, None, "Describe"),
        ("x" * 301, None, None, "300"),
        ("Done", "Nowhere", None, "no department"),
        ("Done", None, "registrar", "grade"),
    ],
)
def test_bad_actions_are_refused(core, ws, text, department, grade, message):
    with pytest.raises(ValueError, match=message):
        actions_log.record(core, ws, "ULEAD", text, None, department, grade)
    assert actions_log.recent(core, ws) == []


def test_recorded_actions_are_tidied_listed_newest_first_and_audited(core, ws):
    first = _record(core, ws, "  Rota   gaps:\n two locum posts funded. ", theme="workload")
    second = _record(core, ws, "x" * 300, department="Surgery", grade="resident")
    recent = actions_log.recent(core, ws)
    assert [a.id for a in recent] == [second, first]
    assert recent[1].text == "Rota gaps: two locum posts funded."
    assert (recent[0].department, recent[0].grade) == ("Surgery", "resident")
    assert [a.id for a in actions_log.recent(core, ws, limit=1)] == [second]
    assert actions_log.themes_with_actions(core, ws) == {"workload"}
    with core.db.Session() as s:
        assert s.scalars(select(AuditEntry.action)).all() == ["you said, we did"] * 2


def test_scope_decides_who_is_shown_an_action(core, fake, ws):
    people = {
        "UMEDRES": _person(core, ws, "UMEDRES", "Medicine", "resident"),
        "UMEDCON": _person(core, ws, "UMEDCON", "Medicine", "consultant"),
        "USURRES": _person(core, ws, "USURRES", "Surgery", "resident"),
        "UNODEPT": _person(core, ws, "UNODEPT"),
    }
    both = _record(core, ws, "Medicine residents: teaching protected", "Medicine", "resident")
    note = {u: actions_log.note_for(core, fake.team_id, u) for u in people}
    assert note["UMEDRES"] == (both, "Medicine residents: teaching protected")
    assert note["UMEDCON"] is None and note["USURRES"] is None and note["UNODEPT"] is None
    assert actions_log.note_for(core, fake.team_id, "USTRANGER") is None

    dept = _record(core, ws, "Medicine: rota fixed", "Medicine")
    grade = _record(core, ws, "Residents: rest room opened", grade="resident")
    assert actions_log.note_for(core, fake.team_id, "UMEDCON")[0] == dept
    assert actions_log.note_for(core, fake.team_id, "USURRES")[0] == grade
    assert actions_log.note_for(core, fake.team_id, "UMEDRES")[0] == grade  # the newest
    assert actions_log.note_for(core, fake.team_id, "UNODEPT") is None
    everyone = _record(core, ws, "Everyone: parking permits restored")
    assert {actions_log.note_for(core, fake.team_id, u)[0] for u in people} == {everyone}


def test_each_action_is_shown_once_and_older_ones_are_not_replayed(core, fake, ws):
    pid = _person(core, ws, "UDOC", "Medicine", "consultant")
    old = _record(core, ws, "Old news")
    new = _record(core, ws, "New news")
    assert actions_log.note_for(core, fake.team_id, "UDOC")[0] == new
    _shown(core, pid, new)
    assert actions_log.note_for(core, fake.team_id, "UDOC") is None  # not "Old news" either
    assert old < new
    newest = _record(core, ws, "Newest news")
    assert actions_log.note_for(core, fake.team_id, "UDOC")[0] == newest


def _round(core, ws, slot) -> int:
    core.clock.advance(timedelta(minutes=1))
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        aud = s.execute(select(Round.audience_id)).scalar()
        if aud is None:
            from storage.models import Audience

            a = Audience(workspace_id=ws, channel_id="C0DOCS", name="d", created_at=now)
            s.add(a)
            s.flush()
            aud = a.id
        r = Round(
            workspace_id=ws,
            audience_id=aud,
            slot_key=slot,
            seed=1,
            created_at=now,
            period_start=now.date(),
            closes_at=now + timedelta(days=5),
        )
        s.add(r)
        s.flush()
        return r.id


def test_only_actions_since_the_previous_pulse_are_news(core, fake, ws):
    _person(core, ws, "UNEW", "Surgery", "sas")  # e.g. joined after the action
    before = _record(core, ws, "Recorded before the last pulse")
    first = _round(core, ws, "r1")
    assert actions_log.note_for(core, fake.team_id, "UNEW", first)[0] == before  # no earlier pulse
    second = _round(core, ws, "r2")
    assert actions_log.note_for(core, fake.team_id, "UNEW", second) is None
    since = _record(core, ws, "Recorded since")
    third = _round(core, ws, "r3")
    assert actions_log.note_for(core, fake.team_id, "UNEW", third)[0] == since


def test_the_action_modal_fits_slacks_limits():
    with_depts = action_modal([f"Department {i}" for i in range(150)])
    assert validate(with_depts["blocks"], surface="modal") == []
    dept = next(b for b in with_depts["blocks"] if b["block_id"] == "department")
    assert len(dept["element"]["options"]) == 100  # a static select holds at most 100 options
    assert find_element(with_depts["blocks"], "text")["max_length"] == actions_log.MAX_TEXT
    without = action_modal([])
    assert "department" not in [b["block_id"] for b in without["blocks"]]
    assert validate(without["blocks"], surface="modal") == []


def _send_round(core, fake, slack, worker, clock) -> None:
    r = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key))
    while worker.run_once():
        pass
    clock.advance(timedelta(days=6))
    Scheduler(core, sync_audience=False).tick()  # closes the round
    clock.advance(timedelta(days=8))


def _last_pulse(fake, uid) -> str:
    return str(dms_of_kind(fake, uid, "pulse")[-1].params["blocks"])


def test_pulses_carry_the_action_to_its_audience_once(core, fake, slack, worker, clock):
    ids = doctors(fake, 12)
    r = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(r.response_key))
    roster = "slack_id,department,grade\n" + "\n".join(
        f"{u},{'Medicine' if i < 6 else 'Surgery'},{'resident' if i % 2 else 'consultant'}"
        for i, u in enumerate(ids)
    )
    assert import_roster(core, fake.team_id, roster).imported
    ws = ensure_team(core, fake.team_id)
    residents = [u for i, u in enumerate(ids) if i % 2]
    surgery = ids[6:]

    note = "Residents asked for rest: a rest room is open on level 2."
    _record(core, ws, note, grade="resident")
    _send_round(core, fake, slack, worker, clock)
    for uid in ids:
        assert (note in _last_pulse(fake, uid)) == (uid in residents), uid
        assert "You said, we did" in _last_pulse(fake, uid) or uid not in residents

    everyone = "Everyone: the canteen opens at night again."
    surgical = "Surgery: theatre lists now finish on time."
    _record(core, ws, everyone)
    _record(core, ws, surgical, department="Surgery")
    _send_round(core, fake, slack, worker, clock)
    for uid in ids:
        text = _last_pulse(fake, uid)
        assert note not in text  # shown once only
        assert (surgical in text) == (uid in surgery)
        assert (everyone in text) == (uid not in surgery)  # the newest in scope wins

    _send_round(core, fake, slack, worker, clock)
    for uid in ids:
        assert "You said, we did" not in _last_pulse(fake, uid)
        assert len(dms_of_kind(fake, uid, "pulse")) == 3


def test_app_home_lists_the_actions_that_concern_the_viewer(core, fake, ws, slack):
    for uid in ("USURRES", "UMEDRES", "ULEAD"):
        fake.add_user(uid)
    _person(core, ws, "USURRES", "Surgery", "resident")
    _person(core, ws, "UMEDRES", "Medicine", "resident")
    roles.grant(core, fake.team_id, ADMIN, "ULEAD", authz.LEADER)
    _record(core, ws, "Everyone: new rest room", None, None)
    _record(core, ws, "Medicine: two locum posts funded", "Medicine", None)
    _record(core, ws, "Surgery consultants: job plans reviewed", "Surgery", "consultant")

    def home(uid: str) -> str:
        slack.app_home_opened(uid)
        view = wait_for(lambda: fake.home_views.get(uid), what=f"home of {uid}")
        return str(view["blocks"])

    surgeon, physician, leader = home("USURRES"), home("UMEDRES"), home("ULEAD")
    assert "new rest room" in surgeon and "new rest room" in physician
    assert "locum posts" in physician and "locum posts" not in surgeon
    assert "job plans" not in surgeon and "job plans" not in physician
    # Leaders see every action, with whom it was for.
    assert "locum posts funded _(Medicine)_" in leader
    assert "job plans reviewed _(Surgery, Consultant)_" in leader
