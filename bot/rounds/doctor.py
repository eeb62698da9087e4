"""The doctor-facing pieces around a pulse: the note confirming a tap, the comment form and the
privacy notice, and "not now, remind me tomorrow".

They return words and forms (``bot.chat.forms``); each platform draws them. What a comment must
be (``bot.rounds.answers``) and whether it may be stored is decided here, not in a listener.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.chat.forms import Form, Input, Notice
from bot.core import Core
from bot.rounds import answers, windows
from bot.rounds import facts as roundfacts
from bot.rounds import pulse_view as messages
from bot.rounds.answers import current_answers, find_delivery
from questions.themes import LABELS as THEME_LABELS
from storage.models import (
    Delivery,
    QuestionItem,
    QuestionVersion,
    Round,
)


def privacy_notice(k: int) -> str:
    return (
        "*What medpulse stores*\n"
        "• Your answers and comments are stored *without your name or Slack ID*, without a time "
        "finer than the round, and in random order.\n"
        "• While a round is open, a one-way code (its key is kept outside the database) lets you "
        "change your answer. It is erased when the round closes; after that nobody, including "
        "admins, can tell which answers were yours.\n"
        "• Your answers are confirmed by notes only you see, which Slack does not keep. When a "
        "round closes, every pulse message reads the same closed note and reminders are "
        "deleted, so your Slack history does not show whether or how you answered.\n"
        "• Your department and grade are attached to an answer only where at least "
        f"{k} people in that group were asked the same question.\n\n"
        "*Who sees what*\n"
        f"• Leaders see totals, trends and comments only for groups of *{k} or more* people; "
        "smaller groups show as “fewer than {k} responses”.\n"
        "• Admins see who was *sent* a pulse (to deliver it), never who answered what.\n\n"
        "*Your choices*\n"
        "• `/pulse optout` stops the DMs; `/pulse optin` brings them back. Choose a time of day "
        "that suits your rota in the medpulse Home tab."
    ).replace("{k}", str(k))


def tap_note(
    core: Core, team: str, user: str, delivery: Delivery, rnd: Round, version_id: int
) -> str:
    """The note confirming a tap, shown only to the doctor (ephemeral) and never kept by Slack.

    The pulse DM itself is not redrawn with the chosen answer: Slack keeps a message, and can
    keep its earlier versions, for as long as the workspace keeps history. The note reads the
    stored answer when it is shown, so after quick taps the last note shows the stored one.
    """
    with core.db.reading() as s:
        mine = current_answers(core, s, team, user, rnd.id, delivery.version_ids)
        questions = roundfacts.questions(core.facts, s, delivery.version_ids)
        closes = roundfacts.closes_label(core.facts, s, rnd)
    return messages.tap_note(questions, mine, version_id, closes)


COMMENT_FORM = "pulse_comment"
OTHER_THEME = "other"
CLOSED_NOTE = "Thanks for tapping, but this pulse has closed. Your next one will come soon."
NOT_STORED = (
    "This comment was not stored: the pulse it belongs to is not one sent to you. "
    "Use Add a comment on your own pulse."
)


def comment_form(core: Core, team: str, user: str, round_id: int) -> Form:
    """The comment form, offering the themes of this person's own pulse (none for a round
    that is not theirs: the submission is refused anyway)."""
    with core.db.Session() as s:
        found = find_delivery(s, team, user, round_id)
        keys = found[0].version_ids if found else None
        themes = []
        if keys:
            themes = list(
                s.scalars(
                    select(QuestionItem.theme)
                    .join(QuestionVersion, QuestionVersion.item_id == QuestionItem.id)
                    .where(QuestionVersion.id.in_(keys), QuestionItem.headline.is_(False))
                )
            )
    options = [(t, THEME_LABELS.get(t, t)) for t in dict.fromkeys(themes)]
    options.append((OTHER_THEME, "Something else"))
    return Form(
        form_id=COMMENT_FORM,
        title="Add a comment",
        submit="Send anonymously",
        private_metadata=str(round_id),
        fields=(
            Input(
                "comment",
                "Your comment",
                kind="multiline",
                max_length=3000,
                placeholder="What should leaders know?",
                hint="Up to 2,000 characters. Stored without your name. Avoid naming "
                "yourself or others if you want to stay anonymous.",
            ),
            Input(
                "theme", "What is it about?", kind="choice", options=tuple(options), optional=True
            ),
        ),
    )


def submit_comment(
    core: Core, team: str, user: str, round_id: int, raw: str, theme: str | None
) -> str | None:
    """Store a comment; None when stored, else the one line to show against the field (and
    nothing was stored)."""
    text = answers.clean_comment(raw)
    if not text:
        return "Write something, or close this window."
    if len(text) > answers.MAX_COMMENT:
        return (
            f"That is {len(text):,} characters; the limit is {answers.MAX_COMMENT:,}. "
            "Please shorten it (your text is still here)."
        )
    theme = None if theme == OTHER_THEME else theme
    outcome = answers.record_comment(core, team, user, round_id, text, theme)
    if outcome.status == "closed":
        return "Sorry, this pulse has closed."
    if outcome.status != "recorded":  # not this person's round: nothing was stored
        return NOT_STORED
    return None


def thanks_form() -> Notice:
    return Notice(
        "Thank you",
        (
            "Your comment was stored anonymously. Leaders read comments only "
            "from groups large enough to keep them anonymous.",
        ),
    )


def why_form(k: int) -> Notice:
    return Notice(
        "Why am I getting this?",
        (
            "Your trust uses medpulse to ask doctors, every week or two, a few "
            "questions drawn from The King's Fund medical engagement checklist, so "
            "leaders can see what is changing and act on it.",
            privacy_notice(k),
        ),
    )


def snooze_note(core: Core, team: str, user: str, round_id: int) -> str:
    """ "Not now": move the reminder to tomorrow, and say so (or why there is none)."""
    when = snooze(core, team, user, round_id)
    if when:
        return f"No problem. I'll remind you {when}."
    return "This pulse closes before tomorrow, so there's no reminder. No worries."


def snooze(core: Core, team: str, user: str, round_id: int) -> str | None:
    """Move this person's reminder to tomorrow's allowed time; None if the round closes first."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        row = find_delivery(s, team, user, round_id)
        if row is None:
            return None
        d, p, rnd = row
        tz = roundfacts.zone(s, rnd)
        due = windows.tomorrow_in_window(now, tz, p.preferred_window)
        if rnd.status != "open" or due >= rnd.closes_at:
            return None
        d.reminder, d.reminder_due = "scheduled", due
        return due.astimezone(ZoneInfo(tz)).strftime("tomorrow at %H:%M")
