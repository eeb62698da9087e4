"""Every /pulse admin command over HTTP: it works, bad arguments are answered with usage, the
change is in the audit log, Slack's refusals teach, and the reply comes inside Slack's 3 s."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.people import roles
from bot.people.authz import ADMIN as ADMIN_ROLE
from bot.people.authz import LEADER
from bot.people.workspaces import ensure_team
from integrations.slack.listeners.commands import COMMANDS, CONTINUED, usage_of
from server.runtime import build_core
from simulator import fake_slack
from storage.models import Audience, AuditEntry, LeaderChannel, Role, Round, Schedule
from tests.conftest import ADMIN
from tests.helpers import answer_buttons, doctors, pulse_message, wait_for


# ------------------------------------------------------------------------------ helpers
def say(fake, slack, text: str, user: str = ADMIN) -> str:
    """Run ``/pulse text`` and return everything the person was shown (ack + follow-ups)."""
    reply = slack.slash(text, user)
    assert reply.status == 200, reply.body_text
    body = reply.json() or {}
    shown = body.get("text", "")
    if body:
        assert body.get("response_type") == "ephemeral"
    if shown.startswith("⏳") or shown.endswith(CONTINUED):

        def complete():
            posts = fake.response_posts(reply.response_key)
            return posts if posts and not posts[-1].body["text"].endswith(CONTINUED) else None

        posts = wait_for(complete, what="follow-up")
        shown += "\n" + "\n".join(p.body["text"] for p in posts)
        assert all(p.body.get("response_type") == "ephemeral" for p in posts)
    return shown


def set_audience(fake, slack, n: int = 8) -> list[str]:
    ids = doctors(fake, n)
    assert "doctors" in say(fake, slack, "audience <#C0DOCTORS|doctors>")
    return ids


def audit_rows(core) -> list[AuditEntry]:
    with core.db.Session() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def last_audit(core) -> AuditEntry:
    rows = audit_rows(core)
    assert rows, "no audit entry"
    return rows[-1]


def schedule_row(core) -> Schedule:
    with core.db.Session() as s:
        return s.scalars(select(Schedule)).one()


# ------------------------------------------------------------------------------- help
def test_help_lists_every_command_for_admins_and_only_theirs_for_doctors(fake, slack):
    full = say(fake, slack, "help")
    for cmd in COMMANDS.values():
        assert cmd.usage in full
    fake.add_user("UDOC", name="doc")
    mine = say(fake, slack, "help", "UDOC")
    assert "/pulse optout" in mine and "/pulse schedule" not in mine
    assert say(fake, slack, "help schedule") == usage_of("schedule")
    assert "fortnightly tue 10:00" in say(fake, slack, "help schedule")


def test_unknown_subcommand_suggests_and_shows_help(fake, slack):
    text = say(fake, slack, "statsu")
    assert "don't know `/pulse statsu`" in text and "/pulse status" in text
    assert "/pulse help" in text


# ----------------------------------------------------------------------------- status
def test_status_before_and_after_an_audience(core, fake, slack, worker):
    assert "No audience yet" in say(fake, slack, "status")
    set_audience(fake, slack, 8)
    text = say(fake, slack, "status")
    assert "#doctors · 8 doctors" in text
    assert "Every other Tuesday at 10:00 (Europe/London)" in text
    assert "Next round:* Tuesday 8 December 2026, 10:00 (GMT)" in text
    assert "running" in text and "Last round:* none yet" in text

    say(fake, slack, "send now")
    while worker.run_once():
        pass
    text = say(fake, slack, "status")
    assert "sent by hand, open" in text
    # Nobody has answered yet: fewer than k answered, so no figure is shown.
    assert "fewer than 5 responses so far" in text
    assert "usage" in say(fake, slack, "status now").lower()


def test_an_open_rounds_count_moves_in_steps_of_k_not_with_each_answer(core, fake, slack, worker):
    """A leader watching a colleague tap must not see the count move by one: while open it is
    shown in whole steps of k (here 5), and exact only at close."""
    ids = set_audience(fake, slack, 12)
    say(fake, slack, "send now")
    while worker.run_once():
        pass
    shown = []
    for n, uid in enumerate(ids[:11], start=1):
        msg = pulse_message(fake, uid)
        btn = answer_buttons(msg)[0][0]
        assert slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api()).ok
        text = say(fake, slack, "status")
        shown.append(text)
        if n < 5:
            assert "fewer than 5 responses so far" in text
        else:
            assert f"at least {n - n % 5} of 12 answered so far" in text
    # Answers 6 to 9 change nothing a reader of the status can see.
    assert len({t.split("Last round:*")[1] for t in shown[5:9]}) == 1


# ---------------------------------------------------------------------------- schedule
def test_schedule_text_form_changes_the_schedule_and_is_audited(core, fake, slack):
    set_audience(fake, slack)
    text = say(fake, slack, "schedule weekly thu 14:00 questions:3 reminder:0 close:3")
    assert "✅ Schedule changed" in text
    assert "Every Thursday at 14:00 (Europe/London)" in text
    assert "Thursday 26 November 2026, 14:00 (GMT)" in text
    row = schedule_row(core)
    assert (row.cadence, row.weekday, row.local_time) == ("weekly", 3, "14:00")
    assert (row.questions_per_pulse, row.reminder_after_hours, row.close_after_days) == (3, 0, 3)
    entry = last_audit(core)
    assert entry.actor == ADMIN and entry.action == "schedule"
    assert "Every other Tuesday" in entry.old and "Every Thursday at 14:00" in entry.new


def test_fortnightly_means_the_coming_day(core, fake, slack):
    set_audience(fake, slack)
    # Tuesday 24 Nov 10:00 now: "fortnightly thu" starts this Thursday, not in a fortnight.
    text = say(fake, slack, "schedule fortnightly thu 09:00")
    assert "Thursday 26 November 2026, 09:00 (GMT)" in text
    # Changing only the reminder keeps the fortnight already under way.
    text = say(fake, slack, "schedule reminder:12")
    assert "Thursday 26 November 2026, 09:00" in text


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("25:99", "25:99 is not a time; use 24-hour HH:MM"),
        ("weekly someday", "I don't understand 'someday'"),
        ("weekly Mars/Olympus", "not a known time zone"),
        ("questions:x", "questions:x needs a whole number"),
        ("weekly monthly", "sets the cadence a second time"),
    ],
)
def test_schedule_text_form_errors_teach(core, fake, slack, args, problem):
    set_audience(fake, slack)
    before = schedule_row(core).updated_at
    n_audit = len(audit_rows(core))
    text = say(fake, slack, f"schedule {args}")
    assert problem in text
    assert "*Usage:* `/pulse schedule" in text
    assert schedule_row(core).updated_at == before and len(audit_rows(core)) == n_audit


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("questions:9", "questions per pulse must be a whole number from 1 to 4"),
        ("close:0", "days before a round closes must be a whole number from 1 to 28"),
        ("reminder:200", "reminder hours (0 = no reminder) must be"),
        ("reminder:48 close:2", "would come after the round closes"),
    ],
)
def test_schedule_out_of_range_values_are_refused(core, fake, slack, args, problem):
    set_audience(fake, slack)
    n_audit = len(audit_rows(core))
    assert problem in say(fake, slack, f"schedule {args}")
    assert len(audit_rows(core)) == n_audit


def test_schedule_without_audience_says_what_to_do_first(fake, slack):
    assert "/pulse audience #channel" in say(fake, slack, "schedule weekly mon 09:00")


def test_pause_and_resume(core, fake, slack):
    set_audience(fake, slack)
    text = say(fake, slack, "pause")
    assert "Paused" in text and schedule_row(core).paused
    assert last_audit(core).action == "schedule paused"
    assert "Already paused" in say(fake, slack, "pause")
    assert "paused" in say(fake, slack, "status")
    assert "Next round:* none: the schedule is paused" in say(fake, slack, "status")
    text = say(fake, slack, "resume")
    assert "Resumed" in text and "Tuesday 8 December 2026, 10:00" in text
    assert not schedule_row(core).paused
    assert last_audit(core).action == "schedule resumed"
    assert "*Usage:* `/pulse pause`" in say(fake, slack, "pause please")


# --------------------------------------------------------------------- audience / leaders
def test_audience_with_plain_channel_name_and_bad_channels(core, fake, slack):
    doctors(fake, 6)
    assert "6 doctors" in say(fake, slack, "audience #doctors")
    assert last_audit(core).action == "audience"

    text = say(fake, slack, "audience #nowhere")
    assert "can't find a channel called #nowhere" in text
    fake.add_channel("C0OUTSIDE", "outside", members=[], bot_member=False)
    text = say(fake, slack, "audience <#C0OUTSIDE|outside>")
    assert "I'm not in #outside yet" in text and "/invite @medpulse" in text
    text = say(fake, slack, "audience <#C0GONE99|gone>")
    assert "can't see that channel" in text
    text = say(fake, slack, "audience doctors please")
    assert "*Usage:* `/pulse audience #channel`" in text
    with core.db.Session() as s:
        assert s.scalar(select(Audience.channel_id)) == "C0DOCTORS"


def test_missing_scope_is_explained(core, fake, slack, monkeypatch):
    doctors(fake, 6)

    def refuse(fake_, team, params, headers):
        raise fake_slack._ApiError("missing_scope")

    monkeypatch.setitem(fake_slack._METHODS, "conversations.info", refuse)
    text = say(fake, slack, "audience <#C0DOCTORS|doctors>")
    assert "missing a permission (scope)" in text
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Audience.id))) == 0


def test_leaders_channel(core, fake, slack):
    fake.add_channel("C0LEADS", "leadership", members=[ADMIN])
    assert "will receive summaries" in say(fake, slack, "leaders <#C0LEADS|leadership>")
    assert "Nothing changed" in say(fake, slack, "leaders #leadership")
    assert last_audit(core).action == "leaders channel added"
    text = say(fake, slack, 'leaders #leadership department:"Nope"')
    assert "no department called 'Nope'" in text
    assert "*Usage:*" in say(fake, slack, "leaders")
    with core.db.Session() as s:
        assert s.scalar(select(func.count(LeaderChannel.id))) == 1


# ----------------------------------------------------------------------------- send now
def test_send_now_audited_and_malformed(core, fake, slack):
    set_audience(fake, slack, 6)
    assert "*Usage:* `/pulse send now`" in say(fake, slack, "send later")
    assert "sending to 6 doctors" in say(fake, slack, "send now")
    assert last_audit(core).action == "send now"


# ---------------------------------------------------------------------------- questions
def test_questions_list_disable_enable_reword(core, fake, slack):
    set_audience(fake, slack)
    listing = say(fake, slack, "questions")
    assert "*Set bank*" in listing and "being asked" in listing
    with core.db.Session() as s:
        from storage.models import QuestionItem

        key = s.scalar(select(QuestionItem.key).where(QuestionItem.headline.is_(False)).limit(1))
    assert f"`{key}`" in listing

    assert "is off" in say(fake, slack, f"questions disable {key}")
    assert last_audit(core).action == "question disabled"
    assert f"• `{key}` · " in say(fake, slack, "questions") and "*off*" in say(
        fake, slack, "questions"
    )
    assert "already off" in say(fake, slack, f"questions disable {key}")
    assert "is on" in say(fake, slack, f"questions enable {key}")
    assert last_audit(core).action == "question enabled"

    text = say(fake, slack, f'questions reword {key} "In my team, I can suggest changes."')
    assert "version 2" in text
    entry = last_audit(core)
    assert entry.action == "question reworded" and "v2: In my team" in entry.new

    assert "Did you mean" in say(fake, slack, f"questions disable {key[:-1]}")
    assert "*Usage:*" in say(fake, slack, "questions disable")
    assert "*Usage:*" in say(fake, slack, "questions frobnicate")
    assert "*Usage:*" in say(fake, slack, f"questions reword {key}")
    long = "x" * 151
    assert "151 characters, the limit is 150" in say(fake, slack, f"questions reword {key} {long}")


def test_questions_add_opens_the_form(fake, slack):
    reply = slack.slash("questions add", ADMIN)
    assert reply.status == 200 and not (reply.json() or {}).get("text")
    call = wait_for(lambda: fake.calls_to("views.open"), what="views.open")[-1]
    assert call.params["trigger_id"] == reply.trigger_id
    assert call.params["view"]["callback_id"] == "admin_add_question"
    assert "*Usage:*" in say(fake, slack, "questions add now")


def test_question_sets_listed_and_switched(core, fake, slack):
    set_audience(fake, slack)
    assert "`bank` · bank" in say(fake, slack, "questions sets")
    assert "*Usage:*" in say(fake, slack, "questions set bank maybe")
    assert "no question set called 'nope'" in say(fake, slack, "questions set nope off")


# -------------------------------------------------------------------------------- audit
def test_audit_shows_latest_changes_with_who_and_old_new(core, fake, slack):
    assert "empty" in say(fake, slack, "audit")
    set_audience(fake, slack)
    say(fake, slack, "schedule weekly wed 09:30")
    say(fake, slack, "pause")
    text = say(fake, slack, "audit 2")
    lines = [ln for ln in text.splitlines() if ln.startswith("• ")]
    assert len(lines) == 2
    assert "schedule paused" in lines[0] and f"<@{ADMIN}>" in lines[0]
    assert "*schedule*" in lines[1] and "Every other Tuesday" in lines[1] and "→" in lines[1]
    assert "24 Nov 2026 10:00" in lines[1]
    full = say(fake, slack, "audit")
    assert "*audience*" in full and "<#C0DOCTORS>" in full
    for bad in ("audit x", "audit 0", "audit 51", "audit 1 2"):
        assert "*Usage:* `/pulse audit [n]`" in say(fake, slack, bad)


# -------------------------------------------------------------------------------- roles
def test_admins_add_remove_and_the_last_admin_stays(core, fake, slack):
    fake.add_user("UNEW1", name="new.admin")
    text = say(fake, slack, "admins add <@UNEW1|new.admin>")
    assert "<@UNEW1> is now a medpulse admin" in text
    assert last_audit(core).action == "admin added" and last_audit(core).new == "UNEW1"
    assert "already an admin" in say(fake, slack, "admins add @new.admin")
    assert "<@UNEW1>" in say(fake, slack, "admins")

    # The new admin can now configure; then removes the bootstrap admin.
    assert "no audience yet" in say(fake, slack, "pause", "UNEW1")  # allowed, nothing to pause
    text = say(fake, slack, f"admins remove <@{ADMIN}>", "UNEW1")
    assert "no longer a medpulse admin" in text and "MEDPULSE_ADMINS" in text
    assert last_audit(core).action == "admin removed" and last_audit(core).old == ADMIN
    # Now UNEW1 is the last admin and cannot remove themselves.
    text = say(fake, slack, "admins remove <@UNEW1>", "UNEW1")
    assert "can't remove yourself" in text and "no admin" in text
    assert roles.holders(core, fake.team_id, ADMIN_ROLE) == ["UNEW1"]

    # A restart (a new process, same database) does not bring the removed bootstrap admin back.
    restarted = build_core(core.settings, clock=core.clock)
    ensure_team(restarted, fake.team_id)
    assert roles.holders(restarted, fake.team_id, ADMIN_ROLE) == ["UNEW1"]
    restarted.db.dispose()


def test_admins_malformed_and_unknown_people(core, fake, slack):
    fake.add_user("UBOT2", name="somebot", is_bot=True)
    before = len(audit_rows(core))
    assert "*Usage:* `/pulse admins" in say(fake, slack, "admins add")
    assert "*Usage:* `/pulse admins" in say(fake, slack, "admins promote <@UX>")
    assert "is not a person" in say(fake, slack, "admins add #doctors")
    assert "can't find anyone called @ghost" in say(fake, slack, "admins add @ghost")
    assert "can't find that person" in say(fake, slack, "admins add <@UGHOST99>")
    assert "that is a bot" in say(fake, slack, "admins add <@UBOT2|somebot>")
    fake.add_user("UHUM1", name="human")
    assert "wasn't an admin" in say(fake, slack, "admins remove <@UHUM1>")
    assert len(audit_rows(core)) == before


def test_leaders_role_add_and_remove(core, fake, slack):
    fake.add_user("ULEAD1", name="lead.one")
    assert "now a medpulse leader" in say(fake, slack, "leaders-role add @lead.one")
    assert last_audit(core).action == "leader added"
    with core.db.Session() as s:
        assert s.scalar(select(Role.role).where(Role.user_id == "ULEAD1")) == LEADER
    # A leader may read status but not configure.
    assert "No audience yet" in say(fake, slack, "status", "ULEAD1")
    assert "is for medpulse admins" in say(fake, slack, "pause", "ULEAD1")
    assert "no longer a medpulse leader" in say(fake, slack, "leaders-role remove <@ULEAD1>")
    assert last_audit(core).action == "leader removed"
    assert "wasn't a leader" in say(fake, slack, "leaders-role remove <@ULEAD1>")
    assert "*Usage:* `/pulse leaders-role" in say(fake, slack, "leaders-role add")


def test_slow_slack_lookup_still_acks_at_once(core, fake, slack):
    # Slack wants the ack within 3 s: the reply must not wait for the lookup. The lookup is held
    # until the reply is in, so an app that waited for it could only answer after the hold.
    fake.add_user("USLOW1", name="slow.person")
    held = fake.hold("users.list")
    reply = slack.slash("admins add @slow.person", ADMIN)
    assert reply.json()["text"].startswith("⏳")
    assert held.wait_until_waiting(1) and fake.calls_to("users.list") == []
    held.release()
    posts = wait_for(lambda: fake.response_posts(reply.response_key), timeout=15, what="reply")
    assert "now a medpulse admin" in posts[0].body["text"]


def test_a_bug_is_a_readable_reply_not_a_stack_trace(core, fake, slack, monkeypatch):
    from bot.admin import status

    def broken(core, team):
        raise RuntimeError("boom")

    monkeypatch.setattr(status, "status", broken)
    text = say(fake, slack, "status")
    assert "Something went wrong on our side" in text and "boom" not in text


def test_optout_and_optin_still_work_for_anyone(fake, slack):
    fake.add_user("UDOC9", name="doc9")
    assert "opted out" in say(fake, slack, "optout", "UDOC9")
    assert "opted in" in say(fake, slack, "optin", "UDOC9")


def test_no_round_is_created_by_any_admin_query(core, fake, slack):
    set_audience(fake, slack)
    for text in ("status", "questions", "questions sets", "audit", "admins", "help"):
        say(fake, slack, text)
    with core.db.Session() as s:
        assert s.scalar(select(func.count(Round.id))) == 0


def test_long_listings_are_split_under_slacks_message_size(core, fake, slack):
    from bot.admin import questions as question_admin

    set_audience(fake, slack)
    for i in range(40):  # a trust with many of its own questions
        question_admin.add_custom(
            core,
            fake.team_id,
            ADMIN,
            text=f"Question number {i} about how my department works day to day.",
            scale="agree5",
            theme="quality-strategy",
        )
    reply = slack.slash("questions", ADMIN)
    first = reply.json()["text"]
    assert first.endswith(CONTINUED)
    posts = wait_for(
        lambda: (
            (p := fake.response_posts(reply.response_key))
            and not p[-1].body["text"].endswith(CONTINUED)
            and p
        ),
        what="rest of the listing",
    )
    parts = [first] + [p.body["text"] for p in posts]
    assert all(len(part) < 4000 for part in parts)
    joined = "\n".join(parts)
    assert joined.count("• `") == len(question_admin.list_items(core, fake.team_id))
