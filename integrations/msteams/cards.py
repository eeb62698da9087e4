"""Adaptive Cards for Teams, rendered from plain data (the core's view models, once it has them).

Why plain dicts and not ``microsoft-teams-cards``: that package is synchronous-friendly (pydantic
models, no asyncio) but it is 8,000 generated lines covering every Microsoft 365 host, its 2.1
release does not declare its own pydantic dependency, and what Teams receives is JSON anyway.
medpulse sends four small cards; the checks that matter (Teams' size limits, one-tap actions
carrying the right data) are tested here against the fake Bot Connector.

The doctor's pulse mirrors the Slack DM: one line saying it is anonymous and quick, one tap per
question (``Action.Execute``: the tap arrives as an ``adaptiveCard/action`` invoke), an
``Input.Text`` comment with its own button, "not now", "why am I getting this?" and the
privacy line.

Anonymity, and why a tap is answered with a toast, not a redrawn card: a Teams chat lives in the
tenant's message store, under its retention policies and eDiscovery (on NHSmail, searchable by
the national compliance team), and Microsoft 365 can keep earlier versions of an edited
message. A card redrawn to show "Recorded: Agree" would put the answer beside the doctor's name
in that store, and replacing it at close might not remove it. So the pulse card carries nothing
about the person and is never redrawn per person: an answer tap gets a short invoke reply
(``recorded``) that Teams shows and does not keep in the chat, and typed comment text stays in
the client until "Send comment". At close every card becomes the same ``closed_card``. (Teams
sends every input with every ``Action.Execute``, so an answer tap also carries the comment box's
text; the core must ignore it there and store a comment only on "Send comment".)

A card's action data carries only what the core put in the view (an opaque pulse reference, a
question ID, a value); never a Teams or Entra ID identifier, which the invoke brings anyway.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any, NotRequired, TypedDict

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"  # the first version with Action.Execute (Universal Actions)
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
MAX_MESSAGE_BYTES = 100 * 1024  # Teams' message limit besides inline images
MAX_IMAGE_BYTES = 1024 * 1024
MAX_IMAGE_SIDE = 1024
ROW = 6  # answer buttons per row: 0-10 becomes 0-5 and 6-10, each on one line
VERBS = ("answer", "comment", "not_now", "why")

PRIVACY = (
    "🔒 Anonymous: your answers are stored without your name, and leaders only ever see "
    "groups of {k} or more."
)
CLOSED_NOTE = "This pulse has closed. Thank you; look out for the next one."


class CardTooBig(ValueError):
    """A card Teams would refuse (413, or an image over its limits): fix the content."""


class Option(TypedDict):
    value: str
    label: str


class QuestionView(TypedDict):
    id: str
    text: str
    options: list[Option]
    hint: NotRequired[str | None]


class PulseView(TypedDict):
    ref: str  # opaque to Teams: the core's handle on the round (never a person's ID)
    questions: list[QuestionView]
    k: int
    closes: str  # "Friday 14 March", already in the trust's words and zone
    intro: NotRequired[str | None]
    action_note: NotRequired[str | None]  # "you said, we did"
    comment_max: NotRequired[int]


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _execute(title: str, verb: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
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


def _question(ref: str, q: QuestionView, n: int, total: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [_text(f"**{n}/{total}**  {q['text']}", spacing="Large")]
    options = q["options"]
    for start in range(0, len(options), ROW):
        buttons = [
            _execute(o["label"], "answer", {"pulse": ref, "q": q["id"], "v": o["value"]})
            for o in options[start : start + ROW]
        ]
        items.append({"type": "ActionSet", "actions": buttons, "spacing": "Small"})
    if q.get("hint"):
        items.append(_text(str(q["hint"]), isSubtle=True, size="Small", spacing="None"))
    return items


def pulse_card(view: PulseView) -> dict[str, Any]:
    """The whole pulse card, the same for every doctor asked the same questions."""
    questions = view["questions"]
    ref = view["ref"]
    intro = view.get("intro") or (
        f"**Your medical engagement pulse** · {len(questions)} quick questions, about 30 "
        f"seconds, anonymous. Open until {view['closes']}."
    )
    body: list[dict[str, Any]] = [_text(intro)]
    if view.get("action_note"):
        body.append(_text(f"📣 **You said, we did:** {view['action_note']}", isSubtle=True))
    for n, q in enumerate(questions, start=1):
        body.extend(_question(ref, q, n, len(questions)))
    body.append(
        {
            "type": "Input.Text",
            "id": "comment",
            "label": "Add a comment (optional, anonymous)",
            "isMultiline": True,
            "maxLength": view.get("comment_max", 2000),
            "placeholder": "What would make the biggest difference?",
            "spacing": "Large",
        }
    )
    body.append(_text(PRIVACY.format(k=view["k"]), isSubtle=True, size="Small"))
    actions = [
        _execute("Send comment", "comment", {"pulse": ref}),
        _execute("Not now, remind me tomorrow", "not_now", {"pulse": ref}),
        _execute("Why am I getting this?", "why", {"pulse": ref}),
    ]
    return card(body, actions)


def recorded(label: str, answered: int, total: int) -> str:
    """The reply to an answer tap (shown by Teams, not kept in the chat)."""
    left = total - answered
    more = f" {left} to go." if left > 0 else " All answered: thank you."
    return f"✅ Recorded anonymously: {label}. Tap another to change it.{more}"


def closed_card(note: str = CLOSED_NOTE) -> dict[str, Any]:
    """What every pulse card becomes at close: no answers, no buttons, nothing personal."""
    return card([_text(note)])


def summary_card(
    title: str, lines: list[str], chart_png: bytes | None = None, chart_alt: str = ""
) -> dict[str, Any]:
    """A leadership summary: a heading, its lines, and the chart as an inline image."""
    body: list[dict[str, Any]] = [_text(title, size="Large", weight="Bolder")]
    body.extend(_text(line) for line in lines)
    if chart_png is not None:
        check_image(chart_png)
        uri = "data:image/png;base64," + base64.b64encode(chart_png).decode("ascii")
        body.append({"type": "Image", "url": uri, "altText": chart_alt, "size": "Stretch"})
    return card(body)


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
