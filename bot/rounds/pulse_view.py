"""The pulse as the core says it, before any platform draws it (``bot.chat.views``).

One builder for every platform: the words of the pulse, its answer choices (from the one
definition of the scales, ``questions.scales``), what a tap carries, the note confirming a tap,
and the closed pulse every message of a round becomes. Adapters lay these out (Slack as Block
Kit in ``integrations.slack.pulse_blocks``); none of them decides a word of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.chat.views import Choice, ClosedPulseView, PulseView, QuestionView
from questions import scales

PRIVACY = (
    "🔒 Anonymous: your answers are stored without your name, and leaders only ever see "
    "groups of {k} or more."
)

CLOSED = "This medpulse pulse has closed. The next one will come to you here."
# Where the results are (bot.insights.results_home), on a platform with a home: the same for all.
RESULTS_HINT = "See what everyone's answers add up to in medpulse's *Home* tab."
CLOSED_TEXT = f"{CLOSED}\n{RESULTS_HINT}"


@dataclass(frozen=True)
class Question:
    version_id: int
    text: str
    scale: str
    help: str | None = None


def answer_value(round_id: int, version_id: int, value: int) -> str:
    """What a tap carries says what it means, so the listener needs no look-up to parse it."""
    return f"{round_id}:{version_id}:{value}"


def parse_answer_value(raw: str) -> tuple[int, int, int] | None:
    """(round, question version, value) from a tap's value; None for anything malformed."""
    try:
        a, b, c = raw.split(":")
        return int(a), int(b), int(c)
    except (ValueError, AttributeError):
        return None


def tap_note(questions: list[Question], answers: dict[int, int], tapped: int, closes: str) -> str:
    """The note after a tap, for the doctor only: which answer is stored, and how many are done."""
    n = next((i for i, q in enumerate(questions, 1) if q.version_id == tapped), 0)
    q = questions[n - 1] if n else None
    if q is None or tapped not in answers:
        return "✅ Recorded."
    done = sum(1 for x in questions if x.version_id in answers)
    line = (
        f"✅ Question {n} of {len(questions)}: *{scales.label(q.scale, answers[tapped])}* is "
        f"recorded (only you can see this note). Tap another answer to change it until {closes}."
    )
    if done == len(questions):
        return line + f"\n🙏 All {done} answered. Thank you."
    return line + f" {done} of {len(questions)} answered."


def pulse_text(n_questions: int) -> str:
    """Notification text (push and screen readers) for the pulse."""
    return f"Your anonymous medical engagement pulse: {n_questions} quick questions, 30 seconds."


def reminder_intro(closes: str) -> str:
    return (
        f"*A gentle reminder* · your anonymous pulse is open until {closes}. "
        "One tap per question, about 30 seconds."
    )


def _question(round_id: int, q: Question, number: int) -> QuestionView:
    choices = tuple(
        Choice(value, label, answer_value(round_id, q.version_id, value))
        for value, label in scales.choices(q.scale)
    )
    return QuestionView(q.version_id, number, q.text, choices, question_hint(q))


def question_hint(q: Question) -> str | None:
    """The scale's anchors, then the question's own help; where the help gives anchors of its
    own ("0 = not at all engaged, …"), those replace the scale's generic ones rather than
    repeat them."""
    generic = scales.hint(q.scale)
    if generic and q.help:
        low = generic.split("=", 1)[0].strip()  # "0" of "0 = not at all · …"
        if q.help.lstrip().startswith(f"{low} ="):
            generic = None
    return " · ".join(x for x in (generic, q.help) if x) or None


def pulse_view(
    round_id: int,
    questions: list[Question],
    k: int,
    closes: str,
    reminder: bool = False,
    action_note: str | None = None,
) -> PulseView:
    """The pulse for one doctor. It never shows an answer (taps are confirmed by notes only the
    doctor sees), so what the platform keeps is the same for everyone asked these questions."""
    intro = (
        reminder_intro(closes)
        if reminder
        else (
            f"*Your medical engagement pulse* · {len(questions)} quick questions, about 30 seconds, "
            f"anonymous. Open until {closes}."
        )
    )
    return PulseView(
        round_id=round_id,
        intro=intro,
        questions=tuple(_question(round_id, q, n) for n, q in enumerate(questions, start=1)),
        privacy=PRIVACY.format(k=k),
        closes=closes,
        fallback=pulse_text(len(questions)),
        reminder=reminder,
        action_note=f"📣 *You said, we did:* {action_note}" if action_note else None,
    )


def closed_view(home: bool) -> ClosedPulseView:
    """What every pulse message of a closed round becomes: the same for everyone, whether or not
    they answered, so the chat history says nothing about it (bot.rounds.closing). ``home``: the
    platform has a home surface where the results are."""
    return ClosedPulseView(CLOSED, RESULTS_HINT if home else None)
