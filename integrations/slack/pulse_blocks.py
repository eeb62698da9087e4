"""Block Kit for the pulse DM, as plain dicts (validated against Slack's limits in tests).

The doctor's view is designed for a phone between patients: one line saying it is anonymous and
quick, one tap per question (confirmed by a note only the doctor sees, which Slack does not
keep), a comment button, a "not now" button and a privacy line.
"""

from __future__ import annotations

from dataclasses import dataclass

from questions import scales

SCALE_CHOICES = scales.CHOICES
SCALE_HINT = scales.HINTS

PRIVACY = (
    "🔒 Anonymous: your answers are stored without your name, and leaders only ever see "
    "groups of {k} or more."
)


@dataclass(frozen=True)
class Question:
    version_id: int
    text: str
    scale: str
    help: str | None = None


value_label = scales.label
valid_value = scales.valid


def answer_value(round_id: int, version_id: int, value: int) -> str:
    """Button values carry what the tap means, so the listener needs no lookup to parse it."""
    return f"{round_id}:{version_id}:{value}"


def parse_answer_value(raw: str) -> tuple[int, int, int] | None:
    try:
        a, b, c = raw.split(":")
        return int(a), int(b), int(c)
    except (ValueError, AttributeError):
        return None


def tap_note(questions: list[Question], answers: dict[int, int], tapped: int, closes: str) -> str:
    """The ephemeral note after a tap: which answer is stored, and how many are done."""
    n = next((i for i, q in enumerate(questions, 1) if q.version_id == tapped), 0)
    q = questions[n - 1] if n else None
    if q is None or tapped not in answers:
        return "✅ Recorded."
    done = sum(1 for x in questions if x.version_id in answers)
    line = (
        f"✅ Question {n} of {len(questions)}: *{value_label(q.scale, answers[tapped])}* is "
        f"recorded (only you can see this note). Tap another answer to change it until {closes}."
    )
    if done == len(questions):
        return line + f"\n🙏 All {done} answered. Thank you."
    return line + f" {done} of {len(questions)} answered."


def _question_blocks(round_id: int, q: Question, n: int, total: int) -> list[dict]:
    head = f"*{n}/{total}*  {q.text}"
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    buttons = []
    for value, label in SCALE_CHOICES[q.scale]:
        btn = {
            "type": "button",
            "action_id": f"answer-{value}",
            "text": {"type": "plain_text", "text": label},
            "value": answer_value(round_id, q.version_id, value),
        }
        buttons.append(btn)
    blocks.append({"type": "actions", "block_id": f"q-{q.version_id}", "elements": buttons})
    hint = " · ".join(x for x in (SCALE_HINT.get(q.scale), q.help) if x)
    if hint:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": hint}]})
    return blocks


def pulse_blocks(
    round_id: int,
    questions: list[Question],
    k: int,
    closes: str,
    intro: str | None = None,
    action_note: str | None = None,
) -> list[dict]:
    """The whole DM. It never shows an answer: taps are confirmed by ephemeral notes, so the
    message Slack keeps is the same for everyone asked the same questions."""
    line = intro or (
        f"*Your medical engagement pulse* · {len(questions)} quick questions, about 30 seconds, "
        f"anonymous. Open until {closes}."
    )
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": line}}]
    if action_note:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"📣 *You said, we did:* {action_note}"}],
            }
        )
    for n, q in enumerate(questions, start=1):
        blocks.extend(_question_blocks(round_id, q, n, len(questions)))
    footer = [
        {
            "type": "button",
            "action_id": "comment",
            "text": {"type": "plain_text", "text": "Add a comment"},
            "value": str(round_id),
        },
        {
            "type": "button",
            "action_id": "not_now",
            "text": {"type": "plain_text", "text": "Not now, remind me tomorrow"},
            "value": str(round_id),
        },
    ]
    footer.append(
        {
            "type": "button",
            "action_id": "why",
            "text": {"type": "plain_text", "text": "Why am I getting this?"},
            "value": str(round_id),
        }
    )
    blocks.append({"type": "actions", "block_id": "pulse-footer", "elements": footer})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": PRIVACY.format(k=k)}]}
    )
    return blocks


def pulse_text(n_questions: int) -> str:
    """Notification text (push and screen readers) for the pulse DM."""
    return f"Your anonymous medical engagement pulse: {n_questions} quick questions, 30 seconds."


# The second line says where the results are (bot.insights.results_home): the same for everyone.
CLOSED_TEXT = (
    "This medpulse pulse has closed. The next one will come to you here.\n"
    "See what everyone's answers add up to in medpulse's *Home* tab."
)


def closed_blocks(note: str = CLOSED_TEXT) -> list[dict]:
    """What every pulse DM of a closed round shows: the same for everyone, whether or not they
    answered, so the DM history says nothing about it (bot.rounds.closing)."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": note}}]
