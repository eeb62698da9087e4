"""The summary as Block Kit: Slack's drawing of ``bot.insights.summary_view.SummaryView``.

One screen: a header, the headline, each part as a section (a long list split over sections,
since Slack cuts one at 3,000 characters, never cutting a line in two), small print as context,
the "More detail" button and the footer; capped at Slack's 50 blocks. Every word and figure
comes from the view.
"""

from __future__ import annotations

from bot.chat.views import Section, SummaryView
from bot.insights.summary_view import MORE

SECTION_MAX = 3000
HEADER_MAX = 150
MAX_BLOCKS = 50
SHOW_INTERVALS = "summary_detail"  # action_id of the "More detail" button


def _clip(text: str, limit: int = SECTION_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(text)}]}


def _sections(title: str, lines: list[str]) -> list[dict]:
    """A titled list over as many sections as it needs, never cutting a line in two."""
    blocks, chunk = [], [f"*{title}*"]
    for line in lines:
        line = _clip(line, 500)
        if len("\n".join([*chunk, line])) > SECTION_MAX:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    blocks.append(_section("\n".join(chunk)))
    return blocks


def _part(part: Section) -> list[dict]:
    if part.note:
        return [_context("\n".join(part.lines))]
    if part.title:
        return _sections(part.title, list(part.lines))
    return [_section("\n".join(part.lines))]


def _more_button(value: str) -> dict:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": SHOW_INTERVALS,
                "text": {"type": "plain_text", "text": MORE},
                "value": value,
            }
        ],
    }


def summary_blocks(view: SummaryView) -> list[dict]:
    """The whole message; parts that do not fit Slack's block limit are left out, and it says so."""
    head = {"type": "header", "text": {"type": "plain_text", "text": _clip(view.title, HEADER_MAX)}}
    body: list[dict] = [_context(view.preface)] if view.preface else []
    body.append(_section(view.headline))
    for part in view.sections:
        body += _part(part)
    tail = [] if view.more_detail is None else [_more_button(view.more_detail)]
    if view.footer:
        tail.append(_context(view.footer))
    room = MAX_BLOCKS - 1 - len(tail)
    if len(body) > room:
        body = body[: room - 1] + [_context("Some sections were left out to fit one message.")]
    return [head, *body, *tail]
