"""Homes as Block Kit: Slack's drawing of ``bot.chat.views.HomeView`` (forms are drawn by
``integrations.slack.views.modal``, the one modal drawer)."""

from __future__ import annotations

from bot.chat.views import HomeView, Section


def _plain(text: str, limit: int = 2000) -> dict:
    return {"type": "plain_text", "text": text[:limit]}


def _mrkdwn(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _section(part: Section) -> dict:
    text = "\n".join(([f"*{part.title}*"] if part.title else []) + list(part.lines))
    if part.note:
        return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}
    return _mrkdwn(text)


def home_view(home: HomeView) -> dict:
    blocks: list[dict] = [{"type": "header", "text": _plain(home.title, 150)}]
    blocks += [_section(p) for p in home.sections]
    return {"type": "home", "blocks": blocks[:100]}
