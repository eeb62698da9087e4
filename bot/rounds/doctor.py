"""The doctor-facing pieces around a pulse: the note confirming a tap, the comment and privacy
modals, and "not now, remind me tomorrow"."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core import Core
from bot.rounds import facts as roundfacts
from bot.rounds import windows
from bot.rounds.answers import current_answers, find_delivery
from integrations.slack import pulse_blocks as messages
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


def comment_modal(core: Core, team: str, user: str, round_id: int) -> dict:
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
    options = [
        {"text": {"type": "plain_text", "text": THEME_LABELS.get(t, t)[:75]}, "value": t}
        for t in dict.fromkeys(themes)
    ]
    options.append({"text": {"type": "plain_text", "text": "Something else"}, "value": "other"})
    return {
        "type": "modal",
        "callback_id": "pulse_comment",
        "private_metadata": str(round_id),
        "title": {"type": "plain_text", "text": "Add a comment"},
        "submit": {"type": "plain_text", "text": "Send anonymously"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "comment",
                "label": {"type": "plain_text", "text": "Your comment"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "text",
                    "multiline": True,
                    "max_length": 3000,
                    "placeholder": {"type": "plain_text", "text": "What should leaders know?"},
                },
                "hint": {
                    "type": "plain_text",
                    "text": "Up to 2,000 characters. Stored without your name. Avoid naming "
                    "yourself or others if you want to stay anonymous.",
                },
            },
            {
                "type": "input",
                "block_id": "theme",
                "optional": True,
                "label": {"type": "plain_text", "text": "What is it about?"},
                "element": {"type": "static_select", "action_id": "theme", "options": options},
            },
        ],
    }


def thanks_modal() -> dict:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Thank you"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Your comment was stored anonymously. Leaders read comments only "
                    "from groups large enough to keep them anonymous.",
                },
            }
        ],
    }


def why_modal(core: Core) -> dict:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Why am I getting this?"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Your trust uses medpulse to ask doctors, every week or two, a few "
                    "questions drawn from The King's Fund medical engagement checklist, so "
                    "leaders can see what is changing and act on it.",
                },
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": privacy_notice(core.k)}},
        ],
    }


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
