"""The schedule modal over HTTP: opened with the slash command's trigger_id, filled in with the
current schedule, validated in place, audited, and obeyed by the running scheduler on its next
tick (no restart): the new slot makes a round, the old one no longer does."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.rounds.scheduler import Scheduler
from storage.models import AuditEntry, Round, Schedule
from tests.blockkit import text_of
from tests.conftest import ADMIN
from tests.helpers import doctors, wait_for
from tests.test_admin_commands import say, set_audience

LONDON = ZoneInfo("Europe/London")


def open_schedule_modal(fake, slack, user: str = ADMIN) -> dict:
    before = len(fake.calls_to("views.open"))
    reply = slack.slash("schedule", user)
    assert reply.status == 200 and not (reply.json() or {}).get("text")
    calls = wait_for(
        lambda: fake.calls_to("views.open")[before:] or None, what="schedule modal opened"
    )
    assert calls[0].params["trigger_id"] == reply.trigger_id
    view = calls[0].params["view"]
    assert view["callback_id"] == "admin_schedule"
    return view


def initial_state(view: dict) -> dict:
    """What Slack would submit if the admin changed nothing: each input's initial value."""
    state: dict = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        el = block["element"]
        if el["type"] == "static_select":
            leaf = {"type": "static_select", "selected_option": el.get("initial_option")}
        elif el["type"] == "timepicker":
            leaf = {"type": "timepicker", "selected_time": el.get("initial_time")}
        else:
            leaf = {"type": el["type"], "value": el.get("initial_value")}
        state[block["block_id"]] = {el["action_id"]: leaf}
    return state


def choose(state: dict, block: str, value: str) -> None:
    leaf = state[block][block]
    if leaf["type"] == "static_select":
        leaf["selected_option"] = {"value": value, "text": {"type": "plain_text", "text": value}}
    elif leaf["type"] == "timepicker":
        leaf["selected_time"] = value
    else:
        leaf["value"] = value


def at(day: int, month: int, hh: int, mm: int) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=LONDON)


def rounds(core) -> list[str]:
    with core.db.Session() as s:
        return list(s.scalars(select(Round.slot_key).order_by(Round.id)))


def test_modal_opens_with_the_current_schedule(fake, slack):
    set_audience(fake, slack)
    view = open_schedule_modal(fake, slack)
    state = initial_state(view)
    assert state["cadence"]["cadence"]["selected_option"]["value"] == "fortnightly"
    assert state["weekday"]["weekday"]["selected_option"]["value"] == "1"
    assert state["time"]["time"]["selected_time"] == "10:00"
    assert state["timezone"]["timezone"]["selected_option"]["value"] == "Europe/London"
    assert state["questions"]["questions"]["selected_option"]["value"] == "2"
    assert state["reminder"]["reminder"]["value"] == "24"
    assert state["close"]["close"]["value"] == "5"
    assert "Tuesday 8 December 2026, 10:00" in text_of(view["blocks"])
    assert len(view["title"]["text"]) <= 24


def test_modal_change_moves_the_next_round_and_the_scheduler_follows(core, fake, slack, clock):
    doctors(fake, 8)
    say(fake, slack, "audience <#C0DOCTORS|doctors>")
    scheduler = Scheduler(core, sync_audience=False)  # already running before the change
    assert scheduler.tick().created == []

    view = open_schedule_modal(fake, slack)
    state = initial_state(view)
    choose(state, "cadence", "weekly")
    choose(state, "weekday", "2")  # Wednesday
    choose(state, "time", "11:30")
    choose(state, "questions", "3")
    reply = slack.view_submission(
        ADMIN, "admin_schedule", state, private_metadata=view["private_metadata"]
    )
    body = reply.json()
    assert body["response_action"] == "update"
    confirmation = text_of(body["view"]["blocks"])
    assert "Saved" in confirmation and "Wednesday 25 November 2026, 11:30 (GMT)" in confirmation

    with core.db.Session() as s:
        row = s.scalars(select(Schedule)).one()
        assert (row.cadence, row.weekday, row.local_time, row.questions_per_pulse) == (
            "weekly",
            2,
            "11:30",
            3,
        )
        entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.action == "schedule" and entry.actor == ADMIN
        assert (
            "Every other Tuesday at 10:00" in entry.old and "Every Wednesday at 11:30" in entry.new
        )

    assert "Next round:* Wednesday 25 November 2026, 11:30 (GMT)" in say(fake, slack, "status")

    # Just before the new slot: nothing. At it (within one 30 s tick): a round.
    _move(clock, at(25, 11, 11, 29))
    assert scheduler.tick().created == []
    _move(clock, at(25, 11, 11, 30) + timedelta(seconds=30))
    assert len(scheduler.tick().created) == 1
    assert rounds(core) == ["2026-11-25T11:30"]

    # The old slot (fortnightly Tuesday 8 Dec 10:00) no longer makes a round.
    _move(clock, at(8, 12, 10, 0) + timedelta(seconds=30))
    report = scheduler.tick()
    assert report.created == []
    assert "2026-12-08T10:00" not in rounds(core)
    assert rounds(core) == ["2026-11-25T11:30"]


def test_old_slot_does_not_fire_when_changed_just_before_it(core, fake, slack, clock):
    """Moved from Tuesday 10:00 to Thursday with the old slot a minute away: only Thursday runs."""
    doctors(fake, 8)
    say(fake, slack, "audience <#C0DOCTORS|doctors>")
    scheduler = Scheduler(core, sync_audience=False)
    _move(clock, at(8, 12, 9, 59))
    view = open_schedule_modal(fake, slack)
    state = initial_state(view)
    choose(state, "weekday", "3")
    reply = slack.view_submission(ADMIN, "admin_schedule", state)
    assert reply.json()["response_action"] == "update"
    _move(clock, at(8, 12, 10, 0) + timedelta(seconds=30))
    assert scheduler.tick().created == []
    # Fortnightly from the coming Thursday (10 Dec), at the unchanged 10:00.
    _move(clock, at(10, 12, 10, 0) + timedelta(seconds=20))
    assert len(scheduler.tick().created) == 1
    assert rounds(core) == ["2026-12-10T10:00"]


def test_modal_errors_point_at_the_field_and_change_nothing(core, fake, slack):
    set_audience(fake, slack)
    view = open_schedule_modal(fake, slack)
    with core.db.Session() as s:
        before = s.scalars(select(Schedule)).one().updated_at
        n_audit = s.scalar(select(func.count(AuditEntry.id)))

    state = initial_state(view)
    choose(state, "time", "25:99")
    body = slack.view_submission(ADMIN, "admin_schedule", state).json()
    assert body["response_action"] == "errors"
    assert "25:99 is not a time" in body["errors"]["time"]

    state = initial_state(view)
    choose(state, "reminder", "lots")
    body = slack.view_submission(ADMIN, "admin_schedule", state).json()
    assert body == {
        "response_action": "errors",
        "errors": {"reminder": "the reminder hours must be a whole number"},
    }

    state = initial_state(view)
    choose(state, "reminder", "200")
    choose(state, "close", "0")
    body = slack.view_submission(ADMIN, "admin_schedule", state).json()
    assert set(body["errors"]) == {"reminder", "close"}

    state = initial_state(view)
    choose(state, "reminder", "72")
    choose(state, "close", "2")
    body = slack.view_submission(ADMIN, "admin_schedule", state).json()
    assert "after the round closes" in body["errors"]["reminder"]

    with core.db.Session() as s:
        assert s.scalars(select(Schedule)).one().updated_at == before
        assert s.scalar(select(func.count(AuditEntry.id))) == n_audit


def test_unchanged_submission_changes_nothing(core, fake, slack):
    set_audience(fake, slack)
    view = open_schedule_modal(fake, slack)
    with core.db.Session() as s:
        n_audit = s.scalar(select(func.count(AuditEntry.id)))
    body = slack.view_submission(ADMIN, "admin_schedule", initial_state(view)).json()
    assert "Nothing changed" in text_of(body["view"]["blocks"])
    with core.db.Session() as s:
        assert s.scalar(select(func.count(AuditEntry.id))) == n_audit


def test_a_non_admin_cannot_submit_the_form(core, fake, slack):
    set_audience(fake, slack)
    view = open_schedule_modal(fake, slack)
    fake.add_user("UNOBODY", name="nobody")
    state = initial_state(view)
    choose(state, "cadence", "weekly")
    body = slack.view_submission("UNOBODY", "admin_schedule", state).json()
    assert body["response_action"] == "update"
    assert "is for medpulse admins" in text_of(body["view"]["blocks"])
    with core.db.Session() as s:
        assert s.scalars(select(Schedule)).one().cadence == "fortnightly"


def test_schedule_form_needs_an_audience_first(fake, slack):
    text = say(fake, slack, "schedule")
    assert "/pulse audience #channel" in text
    assert not fake.calls_to("views.open")


def _move(clock, when: datetime) -> None:
    """Move the fake clock forward to ``when``."""
    delta = when - clock.now()
    assert delta >= timedelta(0), "tests only move time forward"
    clock.advance(delta)


def test_a_change_never_fires_a_slot_that_already_passed(core, fake, slack, clock):
    """Wednesday 12:00; moving to Wednesdays 11:00 waits a week, not fire at once (updated_at)."""
    doctors(fake, 8)
    say(fake, slack, "audience <#C0DOCTORS|doctors>")  # Tuesday 10:00: the schedule's birth
    scheduler = Scheduler(core, sync_audience=False)
    _move(clock, at(25, 11, 12, 0))
    text = say(fake, slack, "schedule weekly wed 11:00")
    assert "Wednesday 2 December 2026, 11:00" in text
    clock.advance(timedelta(seconds=30))
    assert scheduler.tick().created == []  # 11:00 today is within grace, but before the change
    _move(clock, at(2, 12, 11, 0) + timedelta(seconds=10))
    assert len(scheduler.tick().created) == 1
    assert rounds(core) == ["2026-12-02T11:00"]
