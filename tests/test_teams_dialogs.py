"""The core's forms as Teams dialogs, and people named by @mention, end to end over HTTP.

The real app (``build_core``/``build_wsgi``) receives signed activities from the fake Bot
Connector: a command's form is answered with a card whose button asks for a dialog; the
``task/fetch`` click is answered with the form, built afresh for whoever clicked; the
``task/submit`` goes to the form's own submit, its problems drawn back under their fields.
A doctor's clicks and forged submissions change nothing; malformed invokes are 400s.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.admin import form_table
from bot.admin import schedule as schedules
from bot.insights import checklist
from storage.models import (
    Assessment,
    AssessmentRating,
    AuditEntry,
    LeaderAction,
    QuestionItem,
    Role,
    Schedule,
)
from tests import test_teams_e2e

teams = test_teams_e2e.teams  # the same fixture: the real app over HTTP against FakeTeams

TABLES = (Schedule, QuestionItem, Assessment, AssessmentRating, LeaderAction, Role, AuditEntry)


def counts(core) -> tuple[int, ...]:
    with core.db.Session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in TABLES)


def installed(teams):
    """A trust: an admin (the installer), a leader-to-be and doctors in one installed team."""
    fake, core, url, _worker = teams
    admin = fake.add_user("Dr Admin")
    leader = fake.add_user("Dr Leader")
    doctors = [fake.add_user() for _ in range(5)]
    team = fake.add_team("Trust doctors", [admin, leader, *doctors], installed=True)
    assert fake.post(url, fake.installed_activity(team, by=admin)).status_code == 200
    return fake, core, url, admin, leader, doctors, team


def last_card(fake, team) -> dict:
    return fake.channel_messages(team)[-1].payload["attachments"][0]["content"]


def last_text(fake, team) -> str:
    return fake.channel_messages(team)[-1].payload.get("text") or ""


def open_button(fake, team) -> dict:
    """The card a command's form is answered with: its one button asks Teams for a dialog."""
    [button] = last_card(fake, team)["actions"]
    assert button["type"] == "Action.Submit"
    assert button["data"]["msteams"] == {"type": "task/fetch"}
    return button["data"]


def task(resp) -> dict:
    assert resp.status_code == 200, resp.text
    return resp.json()["task"]


def dialog_card(body: dict) -> dict:
    assert body["type"] == "continue", body
    value = body["value"]
    assert value["card"]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert value["width"] in ("small", "medium", "large") and value["height"]
    return value["card"]["content"]


def inputs(card: dict) -> dict[str, dict]:
    return {b["id"]: b for b in card["body"] if b["type"].startswith("Input.")}


def error_under(card: dict, field: str) -> str | None:
    """The red line right after a field's input (its hint may come between)."""
    body = card["body"]
    at = next(i for i, b in enumerate(body) if b.get("id") == field)
    for block in body[at + 1 :]:
        if block["type"].startswith("Input."):
            return None
        if block.get("color") == "attention":
            return block["text"]
    return None


def submit_data(card: dict, **values) -> dict:
    """What Teams sends on submit: the button's data merged with every input, as strings."""
    [button] = card["actions"]
    data = dict(button["data"])
    for name, field in inputs(card).items():
        if "value" in field:
            data[name] = str(field["value"])
    data.update(values)
    return data


def make_leader(fake, url, admin, leader, team) -> None:
    msg = fake.message(admin, f"leaders-role add <at>{leader.name}</at>", team, (leader,))
    fake.post(url, msg)
    assert "is now a medpulse leader" in last_text(fake, team)


# ------------------------------------------------------------------ the schedule


def test_schedule_opens_as_a_dialog_and_saves_only_good_values(teams):
    fake, core, url, admin, _leader, _doctors, team = installed(teams)
    fake.post(url, fake.message(admin, "schedule", team=team))
    data = open_button(fake, team)
    assert "Pulse schedule" in last_card(fake, team)["body"][0]["text"]

    card = dialog_card(task(fake.post(url, fake.task_fetch(admin, data, team))))
    now = schedules.read(core, fake.tenant_id).settings
    fields = inputs(card)
    assert fields["reminder"]["type"] == "Input.Number"
    assert fields["reminder"]["value"] == now.reminder_after_hours
    assert (fields["reminder"]["min"], fields["reminder"]["max"]) == schedules.REMINDER_RANGE
    assert fields["time"] == {**fields["time"], "type": "Input.Time", "value": now.local_time}
    assert (
        fields["cadence"]["type"] == "Input.ChoiceSet" and fields["cadence"]["style"] == "compact"
    )
    assert fields["cadence"]["value"] == now.cadence
    assert all(f["isRequired"] for f in fields.values())
    assert card["actions"][0]["data"] == {"form": "admin_schedule"}

    # A reminder out of range: the dialog again, the error under that field, typed values kept.
    before = counts(core)
    bad = submit_data(card, reminder="500", close="9")
    again = dialog_card(task(fake.post(url, fake.task_submit(admin, bad, team))))
    assert "reminder" in (error_under(again, "reminder") or "").lower()
    assert error_under(again, "close") is None
    assert inputs(again)["close"]["value"] == 9  # what was typed, not what is stored
    assert counts(core) == before
    assert schedules.read(core, fake.tenant_id).settings == now

    # Not a number at all: the same, nothing saved.
    worse = submit_data(card, close="soon")
    again = dialog_card(task(fake.post(url, fake.task_submit(admin, worse, team))))
    assert "whole number" in (error_under(again, "close") or "")
    assert schedules.read(core, fake.tenant_id).settings == now

    # Good values: saved, and the dialog becomes the core's notice.
    good = submit_data(card, reminder="24", close="5", time="14:15")
    done = dialog_card(task(fake.post(url, fake.task_submit(admin, good, team))))
    assert "Saved" in " ".join(b["text"] for b in done["body"])
    after = schedules.read(core, fake.tenant_id).settings
    assert (after.reminder_after_hours, after.close_after_days, after.local_time) == (
        24,
        5,
        "14:15",
    )


# ------------------------------------------------------------------ a question


def test_questions_add_as_a_dialog(teams):
    fake, core, url, admin, _leader, _doctors, team = installed(teams)
    fake.post(url, fake.message(admin, "questions add", team=team))
    card = dialog_card(task(fake.post(url, fake.task_fetch(admin, open_button(fake, team), team))))
    fields = inputs(card)
    assert fields["text"]["maxLength"] == 150 and fields["text"]["placeholder"]
    assert fields["audience"]["isMultiSelect"] is True and "isRequired" not in fields["audience"]

    # Invalid (no question at all): refused in place, nothing added.
    before = counts(core)
    bad = submit_data(card, text="  ", theme="stable-leadership")
    again = dialog_card(task(fake.post(url, fake.task_submit(admin, bad, team))))
    assert error_under(again, "text")
    assert counts(core) == before

    # Good: added, with the multi-select's comma-joined values as the audience.
    good = submit_data(
        card,
        text="In my department, I have time to teach.",
        theme="stable-leadership",
        audience="consultant,sas",
    )
    done = dialog_card(task(fake.post(url, fake.task_submit(admin, good, team))))
    notice = " ".join(b["text"] for b in done["body"])
    assert "Added as" in notice and "/pulse" not in notice
    with core.db.Session() as s:
        item = s.scalar(select(QuestionItem).where(QuestionItem.key.startswith("custom-")))
    assert item is not None and sorted(item.audience) == ["consultant", "sas"]


# ------------------------------------------------------------------ leaders' forms


def test_a_leaders_checklist_and_action_as_dialogs(teams):
    fake, core, url, admin, leader, _doctors, team = installed(teams)
    make_leader(fake, url, admin, leader, team)
    fake.post(url, fake.message(leader, "checklist", team=team))
    card = dialog_card(task(fake.post(url, fake.task_fetch(leader, open_button(fake, team), team))))
    refs = list(checklist.QUESTIONS)
    assert {f"rate|{r}" for r in refs} <= set(inputs(card))

    # Ratings missing: each missing one marked in place, nothing stored.
    partial = submit_data(card, **{f"rate|{r}": "3" for r in refs[:4]})
    again = dialog_card(task(fake.post(url, fake.task_submit(leader, partial, team))))
    assert error_under(again, f"rate|{refs[5]}") and not error_under(again, f"rate|{refs[0]}")
    assert inputs(again)[f"rate|{refs[0]}"]["value"] == "3"
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Assessment.id))) == 0

    full = submit_data(
        card,
        **{f"rate|{r}": str(1 + i % 5) for i, r in enumerate(refs)},
        **{f"note|{refs[0]}": "x"},
    )
    body = task(fake.post(url, fake.task_submit(leader, full, team)))
    assert body["type"] == "message" and "saved" in body["value"]
    with core.db.Session() as s:
        assert s.scalar(select(Assessment.leader)) == leader.aad_object_id
        stored = dict(s.execute(select(AssessmentRating.ref, AssessmentRating.rating)).all())
    assert stored == {r: 1 + i % 5 for i, r in enumerate(refs)}

    fake.post(url, fake.message(leader, "action", team=team))
    card = dialog_card(task(fake.post(url, fake.task_fetch(leader, open_button(fake, team), team))))
    assert inputs(card)["text"]["isMultiline"] is True
    data = submit_data(card, text="Rota gaps raised: two locum posts funded.")
    body = task(fake.post(url, fake.task_submit(leader, data, team)))
    assert body["type"] == "message" and "Recorded" in body["value"]
    with core.db.Session() as s:
        assert s.scalars(select(LeaderAction.text)).all() == [
            "Rota gaps raised: two locum posts funded."
        ]


# ------------------------------------------------------------------ refusals


def test_a_doctor_cannot_open_or_forge_any_form(teams):
    fake, core, url, admin, _leader, doctors, team = installed(teams)
    fake.post(url, fake.message(admin, "schedule", team=team))
    data = open_button(fake, team)
    doctor = doctors[0]
    before = counts(core)
    # The admin's card, clicked by a doctor in the same channel: refused in one line.
    body = task(fake.post(url, fake.task_fetch(doctor, data, team)))
    assert body["type"] == "message" and "is for medpulse admins" in body["value"]
    assert "/pulse" not in body["value"]

    forged = {
        "admin_schedule": {"reminder": "1", "close": "2", "cadence": "monthly", "time": "03:00"},
        "admin_add_question": {"text": "Forged?", "scale": "agree5", "theme": "stable-leadership"},
        "leadership_checklist": {f"rate|{r}": "5" for r in checklist.QUESTIONS},
        "leadership_action": {"text": "Forged action"},
    }
    assert set(forged) == set(form_table.FORMS)
    for form_id, values in forged.items():
        opened = task(fake.post(url, fake.task_fetch(doctor, {"form": form_id}, team)))
        assert opened["type"] == "message" and "Sorry" in opened["value"]
        reply = task(fake.post(url, fake.task_submit(doctor, {"form": form_id, **values}, team)))
        shown = reply["value"] if reply["type"] == "message" else str(reply["value"]["card"])
        assert "Nothing was changed" in shown
    assert counts(core) == before


def test_malformed_dialog_invokes_are_400_and_unknown_forms_one_line(teams):
    fake, core, url, admin, _leader, _doctors, team = installed(teams)
    before = counts(core)
    for make in (fake.task_fetch, fake.task_submit):
        for data in ("admin_schedule", None, ["form"], {"nope": 1}, {"form": 7}):
            resp = fake.post(url, make(admin, data, team))
            assert resp.status_code == 400, (make.__name__, data)
        no_value = make(admin, {"form": "admin_schedule"}, team)
        no_value["value"] = "x"
        assert fake.post(url, no_value).status_code == 400
        body = task(fake.post(url, make(admin, {"form": "admin_nonsense"}, team)))
        assert body == {"type": "message", "value": form_table.UNKNOWN}
    assert counts(core) == before


def test_a_failing_dialog_handler_is_a_line_not_a_500(teams, monkeypatch):
    fake, core, url, admin, _leader, _doctors, team = installed(teams)

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(form_table, "build", broken)
    body = task(fake.post(url, fake.task_fetch(admin, {"form": "admin_schedule"}, team)))
    assert body["type"] == "message" and "nothing was saved" in body["value"]


# ------------------------------------------------------------------ people by @mention


def test_admins_add_by_mention(teams):
    fake, core, url, admin, leader, doctors, team = installed(teams)
    target = doctors[0]
    msg = fake.message(admin, f"admins add <at>{target.name}</at>", team, (target,))
    fake.post(url, msg)
    assert "is now a medpulse admin" in last_text(fake, team)
    with core.db.Session() as s:
        held = set(s.scalars(select(Role.user_id).where(Role.role == "admin")))
    assert held == {admin.aad_object_id, target.aad_object_id}
    assert [c.status for c in fake.ops("member")] == [200]  # looked up in the team, once

    # The bot's own mention is still only the address: "admins" alone lists them.
    fake.post(url, fake.message(admin, "admins", team=team))
    assert last_text(fake, team).startswith("**Admins:**")

    # Someone Teams does not know in this team: one clear line, nothing changed.
    stranger = fake.add_user("Dr Stranger")
    before = counts(core)
    fake.post(url, fake.message(admin, f"admins add <at>{stranger.name}</at>", team, (stranger,)))
    assert "can't find that person in this team" in last_text(fake, team)
    assert counts(core) == before

    # A guest from another organisation, though in the team, may hold no role.
    guest = fake.add_user("Dr Visitor", guest=True)
    team.members.append(guest.id)
    fake.post(url, fake.message(admin, f"admins add <at>{guest.name}</at>", team, (guest,)))
    assert "not a member of this workspace" in last_text(fake, team)
    assert counts(core) == before

    # A doctor may not do it at all, mention or not.
    fake.post(
        url, fake.message(doctors[1], f"leaders-role add <at>{leader.name}</at>", team, (leader,))
    )
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Role.id)).where(Role.role == "leader")) == 0
    assert "is for medpulse admins" in last_text(fake, team)


def test_admins_add_by_entra_id_and_unresolvable_words(teams):
    fake, core, url, admin, leader, _doctors, team = installed(teams)
    fake.post(url, fake.message(admin, f"leaders-role add {leader.aad_object_id}", team=team))
    assert "is now a medpulse leader" in last_text(fake, team)
    before = counts(core)
    fake.post(url, fake.message(admin, "admins add @DrNobody", team=team))
    assert "@mention the person" in last_text(fake, team)
    fake.post(
        url, fake.message(admin, "admins add 0b0e0f00-0000-4000-8000-000000000000", team=team)
    )
    assert "can't find that person" in last_text(fake, team)
    assert counts(core) == before


@pytest.mark.parametrize("words", ["schedule", "questions add", "action"])
def test_each_form_command_answers_with_an_opener_card(teams, words):
    fake, _core, url, admin, _leader, _doctors, team = installed(teams)
    fake.post(url, fake.message(admin, words, team=team))
    data = open_button(fake, team)
    assert form_table.known(data["form"])
