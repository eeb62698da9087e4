"""The pulse and the closed pulse as Block Kit: Slack's drawing of ``bot.rounds.pulse_view``.

The doctor's view is designed for a phone between patients: one line saying it is anonymous and
quick, one tap per question (confirmed by a note only the doctor sees, which Slack does not
keep), a comment button, a "not now" button and a privacy line. Every word comes from the view;
this module only lays it out (validated against Slack's limits in tests).
"""

from __future__ import annotations

from bot.chat.views import ClosedPulseView, PulseView, QuestionView


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(action_id: str, label: str, value: str) -> dict:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }


def _question_blocks(q: QuestionView, total: int) -> list[dict]:
    head = f"*{q.number}/{total}*  {q.text}"
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    buttons = [_button(f"answer-{c.value}", c.label, c.action_value) for c in q.choices]
    blocks.append({"type": "actions", "block_id": f"q-{q.version_id}", "elements": buttons})
    if q.hint:
        blocks.append(_context(q.hint))
    return blocks


def pulse_blocks(view: PulseView) -> list[dict]:
    """The whole DM: intro, "you said, we did", the questions, the footer buttons, privacy."""
    blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": view.intro}}]
    if view.action_note:
        blocks.append(_context(view.action_note))
    for q in view.questions:
        blocks.extend(_question_blocks(q, len(view.questions)))
    rid = str(view.round_id)
    footer = [
        _button("comment", "Add a comment", rid),
        _button("not_now", "Not now, remind me tomorrow", rid),
        _button("why", "Why am I getting this?", rid),
    ]
    blocks.append({"type": "actions", "block_id": "pulse-footer", "elements": footer})
    blocks.append(_context(view.privacy))
    return blocks


def closed_text(view: ClosedPulseView) -> str:
    return "\n".join(x for x in (view.text, view.results_hint) if x)


def closed_blocks(view: ClosedPulseView) -> list[dict]:
    """One section: the same for everyone asked, whether or not they answered."""
    return [{"type": "section", "text": {"type": "mrkdwn", "text": closed_text(view)}}]
