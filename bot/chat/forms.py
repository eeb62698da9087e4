"""Forms and panels the core builds for people to fill in or read, beyond ``bot.chat.views``.

``FormView`` and ``Field`` say what a form asks; the core's forms also say how much fits
(``max_length``), what an empty box suggests (``placeholder``) and a number's range, because
those are rules of the data (a comment's length, a schedule's limits), not of a platform. A
``Notice`` is a form with nothing to fill in: a confirmation, a refusal, the privacy notice.
A ``Button`` is an action a person can take from a home or a notice. Adapters render all of
them (``integrations.slack.views`` as Block Kit modals); the core never sees Block Kit.

Text is the core's light markup, which Slack's mrkdwn reads as is and other adapters
translate: ``*bold*``, ``_italic_``, ``` `code` ```, and mentions written ``<@USER>`` and
``<#CHANNEL>`` (typed text is escaped with ``escape`` so it cannot forge one).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.chat.views import Field, FormView


@dataclass(frozen=True)
class Input(Field):
    """A field with the data's own limits. ``kind`` adds ``choices`` (pick several) and
    ``time`` (HH:MM) to ``Field``'s kinds; ``values`` are the choices already picked."""

    placeholder: str | None = None
    max_length: int | None = None
    lo: int | None = None  # a number's range
    hi: int | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Form(FormView):
    """A form with a text above its fields (``intro``, markup) and a label for giving up."""

    close: str = "Cancel"


@dataclass(frozen=True)
class Notice:
    """A panel to read and close: its title, then paragraphs of markup."""

    title: str
    paragraphs: tuple[str, ...]
    close: str = "Close"


@dataclass(frozen=True)
class Note:
    """Small print under a section (what the figures follow, a refusal on a Home)."""

    text: str


@dataclass(frozen=True)
class Confirm:
    """The question a platform asks before a button with consequences acts."""

    title: str
    text: str
    yes: str
    no: str = "Cancel"


@dataclass(frozen=True)
class Button:
    action_id: str
    label: str
    primary: bool = False
    confirm: Confirm | None = None
    value: str | None = None


def escape(text: str) -> str:
    """The markup's three control characters, so typed text cannot mention anyone or fake a
    link (Slack's own escaping; other adapters unescape)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
