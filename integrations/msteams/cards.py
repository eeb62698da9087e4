"""Adaptive Cards for Teams, rendered from the core's view models (``bot.chat.views``).

Why plain dicts and not ``microsoft-teams-cards``: that package is synchronous-friendly (pydantic
models, no asyncio) but it is 8,000 generated lines covering every Microsoft 365 host, its 2.1
release does not declare its own pydantic dependency, and what Teams receives is JSON anyway.
medpulse sends a handful of small cards; the checks that matter (Teams' size limits, one-tap
actions carrying the right data) are tested against the fake Bot Connector.

The doctor's pulse mirrors the Slack DM: one line saying it is anonymous and quick, one tap per
question (``Action.Execute``: the tap arrives as an ``adaptiveCard/action`` invoke), an
``Input.Text`` comment with its own button, "not now", "why am I getting this?" and the
privacy line. Every word comes from the view; the card only lays it out.

Anonymity, and why a tap is answered with a toast, not a redrawn card: a Teams chat lives in the
tenant's message store, under its retention policies and eDiscovery (on NHSmail, searchable by
the national compliance team), and Microsoft 365 can keep earlier versions of an edited
message. A card redrawn to show "Recorded: Agree" would put the answer beside the doctor's name
in that store, and replacing it at close might not remove it. So the pulse card carries nothing
about the person and is never redrawn per person: an answer tap gets a short invoke reply that
Teams shows and does not keep in the chat, and typed comment text stays in the client until
"Send comment". At close every card becomes the same closed card. (Teams sends every input with
every ``Action.Execute``, so an answer tap also carries the comment box's text; the listener
ignores it there and stores a comment only on "Send comment".)

A card's action data carries only what the core put in the view (the opaque ``action_value``
of an answer, the round's number); never a Teams or Entra ID identifier.
"""

from __future__ import annotations

import base64
import io
import json
import re
import struct
from typing import Any

from bot.chat import views

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"  # the first version with Action.Execute (Universal Actions)
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_MESSAGE_BYTES = 100 * 1024  # Teams' message limit besides inline images
MAX_IMAGE_BYTES = 1024 * 1024
MAX_IMAGE_SIDE = 1024
ROW = 6  # answer buttons per row at most: 0-10 becomes 0-5 and 6-10, each on one line
# A row of answer buttons must fit a phone (a doctor answers between patients): about 320 px of
# card, a button about 7 px a character plus 26 px of padding, 8 px between buttons. Teams
# shrinks buttons that do not fit and cuts their labels ("Disagr…"), which would make a
# five-point scale unreadable; so "Strongly disagree … Strongly agree" takes two rows.
ROW_PX, CHAR_PX, BUTTON_PX, GAP_PX = 320, 7.0, 26, 8
VERBS = ("answer", "comment", "not_now", "why")


class CardTooBig(ValueError):
    """A card Teams would refuse (413, or an image over its limits): fix the content."""


def text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def execute(title: str, verb: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": data, **extra}


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict:
    """An Adaptive Card shell at the version Teams needs for Action.Execute, full width."""
    out: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": SCHEMA,
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        out["actions"] = actions
    return out


def rows(labels: list[str]) -> list[list[int]]:
    """Indexes of ``labels`` by row, in order, each row as wide as a phone allows."""
    out: list[list[int]] = [[]]
    width = 0.0
    for i, label in enumerate(labels):
        need = CHAR_PX * len(label) + BUTTON_PX
        if out[-1] and (width + GAP_PX + need > ROW_PX or len(out[-1]) == ROW):
            out.append([])
            width = 0.0
        width += need + (GAP_PX if out[-1] else 0)
        out[-1].append(i)
    return out


def _question(q: views.QuestionView, total: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [text_block(f"**{q.number}/{total}**  {q.text}", spacing="Large")]
    for row in rows([c.label for c in q.choices]):
        buttons = [
            execute(q.choices[i].label, "answer", {"answer": q.choices[i].action_value})
            for i in row
        ]
        items.append({"type": "ActionSet", "actions": buttons, "spacing": "Small"})
    if q.hint:
        items.append(text_block(q.hint, isSubtle=True, size="Small", spacing="None"))
    return items


def pulse_card(view: views.PulseView, comment_max: int = 2000) -> dict[str, Any]:
    """The whole pulse card, the same for every doctor asked the same questions."""
    ref = str(view.round_id)
    body: list[dict[str, Any]] = [text_block(teams_markdown(view.intro))]
    for q in view.questions:
        body.extend(_question(q, len(view.questions)))
    body.append(
        {
            "type": "Input.Text",
            "id": "comment",
            "label": "Add a comment (optional, anonymous)",
            "isMultiline": True,
            "maxLength": comment_max,
            "placeholder": "What would make the biggest difference?",
            "spacing": "Large",
        }
    )
    body.append(_row([execute("Send comment", "comment", {"pulse": ref})]))
    body.append(text_block(teams_markdown(view.privacy), isSubtle=True, size="Small"))
    more = [
        execute("Not now, remind me later", "not_now", {"pulse": ref}),
        execute("Why am I getting this?", "why", {"pulse": ref}),
    ]
    # In the body, not the card's own action bar, so that they wrap to a phone's width too.
    body.extend(_row([more[i] for i in row]) for row in rows([a["title"] for a in more]))
    return card(body)


def _row(actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "ActionSet", "actions": actions, "spacing": "Small"}


def recorded(label: str, answered: int, total: int) -> str:
    """The reply to an answer tap (shown by Teams, not kept in the chat)."""
    left = total - answered
    more = f" {left} to go." if left > 0 else " All answered: thank you."
    return f"✅ Recorded anonymously: {label}. Tap another to change it.{more}"


RESULTS_HINT = "See what everyone's answers add up to: send me *my results*."


def closed_card(view: views.ClosedPulseView) -> dict[str, Any]:
    """What every pulse card becomes at close: no answers, no buttons, nothing personal."""
    # Teams has no home tab to point to: the results are a home card sent on request.
    body = [
        text_block(teams_markdown(view.text)),
        text_block(teams_markdown(RESULTS_HINT), isSubtle=True),
    ]
    return card(body)


def text_card(view: views.TextView) -> dict[str, Any]:
    return card([text_block(teams_markdown(view.text))])


def _sections(sections: tuple[views.Section, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for section in sections:
        title = teams_markdown(section.title).strip().strip("*").strip()
        if title:
            out.append(text_block(f"**{title}**", spacing="Medium"))
        out.extend(text_block(teams_markdown(line), spacing="Small") for line in section.lines)
    return out


def summary_card(view: views.SummaryView, image: views.Image | None = None) -> dict[str, Any]:
    """A leadership summary: title, headline, sections, footer, and the chart inline."""
    body: list[dict[str, Any]] = [
        text_block(teams_markdown(view.title), size="Large", weight="Bolder")
    ]
    if view.headline:
        body.append(text_block(teams_markdown(view.headline)))
    body.extend(_sections(view.sections))
    if image is not None:
        png = fit_image(image.png)
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        body.append({"type": "Image", "url": uri, "altText": image.alt, "size": "Stretch"})
    if view.footer:
        body.append(text_block(teams_markdown(view.footer), isSubtle=True, size="Small"))
    return card(body, _more_detail(view))


def _more_detail(view: views.SummaryView) -> list[dict[str, Any]] | None:
    """The detailed summary (every claim's evidence, themes, every question, departments) in a
    card the reader opens with a button: the post stays short, and nothing is asked of the bot
    (Teams has no response URL to redraw the post through, as Slack's "More detail" does)."""
    if not view.detail:
        return None
    inner: list[dict[str, Any]] = []
    if view.detail_headline:
        inner.append(text_block(teams_markdown(view.detail_headline)))
    inner.extend(_sections(view.detail))
    shown = {"type": "AdaptiveCard", "version": CARD_VERSION, "body": inner}
    return [{"type": "Action.ShowCard", "title": "More detail", "card": shown}]


def text_file_message(note: str, filename: str, text: str) -> dict[str, Any]:
    """A text file (a CSV export) in a card: Teams shows only images inline, and a bot can
    attach other files only through a consent card and the person's OneDrive, so the file's
    text goes in a monospaced block the reader can copy. One that does not fit a message says
    so instead of failing."""
    head = [
        text_block(teams_markdown(note), weight="Bolder"),
        text_block(f"`{filename}`", isSubtle=True, size="Small"),
    ]
    body = text_block(text, fontType="Monospace", size="Small")
    activity = {
        "type": "message",
        "summary": _plain(note),
        "attachments": [{"contentType": CARD_TYPE, "content": card([*head, body])}],
    }
    if message_bytes(activity) <= MAX_MESSAGE_BYTES:
        return activity
    too_big = text_block(
        f"{filename} is {len(text.encode()):,} bytes, more than a Teams message holds: ask the "
        "operator for it (`medpulse export` on the server).",
    )
    return message(card([*head, too_big]), _plain(note))


def home_card(view: views.HomeView) -> dict[str, Any]:
    """A person's home, sent as a card on request (Teams has no per-person surface to publish)."""
    body = [
        text_block(teams_markdown(view.title), size="Large", weight="Bolder"),
        *_sections(view.sections),
    ]
    return card(body)


def render(view: views.View, image: views.Image | None = None) -> dict[str, Any]:
    """The message activity for any view the core hands the gateway."""
    if isinstance(view, views.PulseView):
        return message(pulse_card(view), view.fallback)
    if isinstance(view, views.ClosedPulseView):
        return message(closed_card(view), _plain(view.text))
    if isinstance(view, views.SummaryView):
        return message(summary_card(view, image), _plain(view.fallback or view.title))
    if isinstance(view, views.HomeView):
        return message(home_card(view), _plain(view.title))
    if isinstance(view, views.TextView):
        return {"type": "message", "text": teams_markdown(view.text), "textFormat": "markdown"}
    raise TypeError(f"no Teams rendering for {type(view).__name__}")


_SLACK_BOLD = re.compile(r"(?<![*\w])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![*\w])")
_SLACK_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")


def teams_words(text: str) -> str:
    """The core names a command ``/pulse X``; in Teams the command is the message ``X`` (there
    are no slash commands), in a summary's footnote as much as in a command's reply."""
    return text.replace("`/pulse ", "`").replace("/pulse ", "")


def teams_markdown(text: str) -> str:
    """The core's words in Teams markdown: Slack-style ``*bold*`` and ``<url|label>`` (which
    some core strings still use) become ``**bold**`` and ``[label](url)``; backticks stay;
    ``/pulse X`` becomes ``X`` (``teams_words``)."""
    text = _SLACK_LINK.sub(r"[\2](\1)", teams_words(text))
    return _SLACK_BOLD.sub(r"**\1**", text)


def _plain(text: str) -> str:
    """Notification text: no markdown at all."""
    return _SLACK_LINK.sub(r"\2", teams_words(text)).replace("*", "").replace("`", "")[:200]


def message(card_: dict[str, Any], summary: str) -> dict[str, Any]:
    """A message activity carrying one card; ``summary`` is the notification text."""
    activity = {
        "type": "message",
        "summary": summary,
        "attachments": [{"contentType": CARD_TYPE, "content": card_}],
    }
    check_size(activity)
    return activity


def check_image(png: bytes) -> None:
    """Teams' inline image limits: at most 1 MB and 1024 × 1024 pixels."""
    if len(png) > MAX_IMAGE_BYTES:
        raise CardTooBig(f"chart is {len(png):,} bytes; Teams allows {MAX_IMAGE_BYTES:,}")
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise CardTooBig("chart is not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise CardTooBig(f"chart is {width}×{height} px; Teams allows {MAX_IMAGE_SIDE} a side")


def fit_image(png: bytes) -> bytes:
    """The chart within Teams' inline limits: scaled down (aspect kept) to 1024 px a side and
    re-encoded smaller until under 1 MB; a chart already within them is sent as it is."""
    try:
        check_image(png)
        return png
    except CardTooBig:
        pass
    from PIL import Image as PILImage

    img = PILImage.open(io.BytesIO(png))
    img.load()
    side = MAX_IMAGE_SIDE
    while True:
        img.thumbnail((side, side), PILImage.LANCZOS)
        out = io.BytesIO()
        img.save(out, format="PNG", optimize=True)
        data = out.getvalue()
        if len(data) <= MAX_IMAGE_BYTES:
            check_image(data)
            return data
        if side < 256:
            raise CardTooBig("the chart cannot be made small enough for Teams")
        side = int(side * 0.75)


def message_bytes(activity: dict[str, Any]) -> int:
    """The activity's size as Teams counts it: its JSON, inline images aside."""
    images = 0

    def walk(node: Any) -> None:
        nonlocal images
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and node.startswith("data:image/"):
            images += len(json.dumps(node))

    walk(activity)
    return len(json.dumps(activity).encode()) - images


def check_size(activity: dict[str, Any]) -> None:
    size = message_bytes(activity)
    if size > MAX_MESSAGE_BYTES:
        raise CardTooBig(f"message is {size:,} bytes besides images; Teams allows 100 KB")
