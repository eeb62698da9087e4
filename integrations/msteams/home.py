"""A person's home on Teams: the core's ``bot.people.home.Home`` drawn as an Adaptive Card.

Teams has no per-person surface a bot can publish to (Slack's App Home), so the home is a card
in the person's 1:1 with the bot, sent on install and when they send ``home`` or ``my results``.
Its choices (when pulses may reach them, department, grade) are inputs on the card, saved with
one ``Action.Execute`` (``home_save``); opting out or in is a button of its own. The invoke's
reply is the card redrawn from what is now stored, so the card in the chat always shows the
person's current settings, and never anything about their answers.
"""

from __future__ import annotations

from typing import Any

from bot.chat.forms import Input, Note
from bot.chat.views import Section
from bot.people.home import Home
from integrations.msteams.cards import card, execute, teams_markdown, text_block

SAVE = "home_save"
OPT_VERBS = ("home_optout", "home_optin")
VERBS = (SAVE, *OPT_VERBS)
NO_ACTIONS = Section(
    "You said, we did", ("Nothing yet: what leaders do in response to doctors appears here.",)
)


def _choice(field: Input) -> dict[str, Any]:
    return {
        "type": "Input.ChoiceSet",
        "id": field.name,
        "label": field.label,
        "style": "compact",
        "value": field.value or "",
        "placeholder": field.placeholder or "",
        "choices": [{"title": label, "value": value} for value, label in field.options],
    }


def _part(part: Section | Note) -> list[dict[str, Any]]:
    if isinstance(part, Note):
        return [text_block(teams_markdown(part.text), isSubtle=True, size="Small")]
    out = []
    title = teams_markdown(part.title).strip().strip("*").strip()
    if title:
        out.append(text_block(f"**{title}**", spacing="Medium"))
    style = {"isSubtle": True, "size": "Small"} if part.note else {}
    out.extend(text_block(teams_markdown(line), spacing="Small", **style) for line in part.lines)
    return out


def home_card(home: Home, privacy: str) -> dict[str, Any]:
    """The whole home: status, results, "you said, we did", the settings to change (below the
    results, which point down to them), the admin part for admins, and the privacy notice in
    Teams' terms (``privacy``)."""
    body: list[dict[str, Any]] = [
        text_block("medpulse · your home", size="Large", weight="Bolder"),
        text_block(teams_markdown(home.intro), isSubtle=True),
    ]
    if home.notice:
        body.append(text_block(teams_markdown(home.notice), color="Good", weight="Bolder"))
    body.append(text_block(teams_markdown(home.status), weight="Bolder", spacing="Medium"))
    if home.group:
        body.append(text_block(teams_markdown(home.group), isSubtle=True, size="Small"))
    for part in home.results:
        body.extend(_part(part))
    body.extend(_part(home.actions or NO_ACTIONS))
    body.append(text_block("**Your settings**", spacing="Medium"))
    body.extend(_choice(field) for field in home.choices)
    body.append(
        {
            "type": "ActionSet",
            "actions": [
                execute("Save my settings", SAVE, {}),
                execute(home.opt.label, home.opt.action_id, {}),
            ],
        }
    )
    if home.admin is not None:
        body.append(text_block("**For admins**", spacing="Large"))
        body.extend(text_block(teams_markdown(line), spacing="Small") for line in home.admin.lines)
    body.append(text_block("**Privacy**", spacing="Large"))
    body.append(text_block(teams_markdown(privacy), isSubtle=True, size="Small"))
    return card(body)


def chosen(offered: tuple[Input, ...], data: dict[str, Any]) -> dict[str, str]:
    """The settings a ``home_save`` carried: only the card's own inputs (``offered``, the
    core's ``bot.people.home.choices``), as strings."""
    names = {field.name for field in offered}
    return {name: str(value) for name, value in data.items() if name in names and value is not None}
