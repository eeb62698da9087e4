"""Verified Teams activities as small typed events, the way the core will consume them.

Only what medpulse acts on is parsed: a message (admin commands, ``help``, ``home``), an
``adaptiveCard/action`` invoke (a tap on an answer, a comment), ``task/fetch`` and
``task/submit`` invokes (a form's dialog opened and sent), the app installed in or removed
from a team or a personal chat, and team members joining or leaving (roster sync). Anything
else is ``None``: Teams adds event types over time and a bot must answer 200 to those it
ignores. A malformed activity of a kind we do handle raises ``MalformedActivity`` (400).

Identifiers are Teams' own and they name people (``29:`` user IDs, Entra ID object IDs): they
belong to the identity side of the core (participants, deliveries, admins) and must never be
copied onto an answer or a comment. ``CardAction.data`` carries what our own card put there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

INVOKE_CARD_ACTION = "adaptiveCard/action"
INVOKE_TASK_FETCH = "task/fetch"
INVOKE_TASK_SUBMIT = "task/submit"
_AT_TAG = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
PERSON_TOKEN = re.compile(r"^<@([^<>\s]+)>$")  # a mentioned person, as the command text names them


class MalformedActivity(ValueError):
    """An activity that claims a type we handle but lacks what that type needs."""


@dataclass(frozen=True)
class Conversation:
    """Where an event happened, and where to answer: Teams routes by service URL."""

    service_url: str
    id: str
    tenant_id: str | None
    kind: str  # "personal", "channel" or "groupChat"
    team_id: str | None = None
    team_name: str | None = None


@dataclass(frozen=True)
class Person:
    """A Teams user: ``id`` is the per-bot ``29:`` ID, ``aad_object_id`` the Entra ID object
    ID that authorisation uses (stable across bots and apps)."""

    id: str
    aad_object_id: str | None
    name: str | None = None


@dataclass(frozen=True)
class Message:
    """Text sent to the bot (in a channel only @mentions arrive; the mention is removed)."""

    conversation: Conversation
    sender: Person
    text: str
    activity_id: str | None


@dataclass(frozen=True)
class CardAction:
    """An ``Action.Execute`` tap: ``verb`` and ``data`` are what our card set, plus inputs
    (a comment's ``Input.Text``) merged into ``data`` by Teams. ``activity_id`` is the card's
    message, which the invoke response replaces."""

    conversation: Conversation
    sender: Person
    verb: str
    data: dict[str, Any]
    activity_id: str | None


@dataclass(frozen=True)
class DialogFetch:
    """A click on a card's "open the form" button (``Action.Submit`` with ``msteams.type``
    ``task/fetch``): Teams waits for the dialog to show. ``form_id`` is what our card put there;
    ``sender`` is whoever clicked, not necessarily who typed the command."""

    conversation: Conversation
    sender: Person
    form_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class DialogSubmit:
    """A dialog's form sent: ``data`` holds its inputs by ID, merged with the submit button's
    own data (``form``)."""

    conversation: Conversation
    sender: Person
    form_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Installed:
    """The app was added to a team, a group chat, or a person's personal scope."""

    conversation: Conversation
    by: Person | None


@dataclass(frozen=True)
class Uninstalled:
    conversation: Conversation
    by: Person | None


@dataclass(frozen=True)
class MembersChanged:
    """People (not the bot) joined or left a team the app is in: a roster sync hint."""

    conversation: Conversation
    added: tuple[Person, ...] = field(default_factory=tuple)
    removed: tuple[Person, ...] = field(default_factory=tuple)


Event = Message | CardAction | DialogFetch | DialogSubmit | Installed | Uninstalled | MembersChanged
Invoke = CardAction | DialogFetch | DialogSubmit  # answered in the HTTP reply, not by a message


def parse(activity: Mapping[str, Any]) -> Event | None:
    """The event an activity means, None for kinds medpulse ignores."""
    kind = activity.get("type")
    if kind == "message":
        return _message(activity)
    if kind == "invoke":
        return _invoke(activity)
    if kind == "installationUpdate":
        return _installation(activity)
    if kind == "conversationUpdate":
        return _conversation_update(activity)
    return None


def _conversation(activity: Mapping[str, Any]) -> Conversation:
    conv = _obj(activity, "conversation")
    data = activity.get("channelData")
    data = data if isinstance(data, dict) else {}
    tenant = data.get("tenant") if isinstance(data.get("tenant"), dict) else {}
    team = data.get("team") if isinstance(data.get("team"), dict) else {}
    return Conversation(
        service_url=_str(activity, "serviceUrl"),
        id=_str(conv, "id"),
        tenant_id=_opt_str(tenant.get("id")) or _opt_str(conv.get("tenantId")),
        kind=_opt_str(conv.get("conversationType")) or "personal",
        team_id=_opt_str(team.get("id")),
        team_name=_opt_str(team.get("name")),
    )


def _person(raw: Any) -> Person:
    if not isinstance(raw, dict):
        raise MalformedActivity("a person is not an object")
    return Person(
        id=_str(raw, "id"),
        aad_object_id=_opt_str(raw.get("aadObjectId")),
        name=_opt_str(raw.get("name")),
    )


def _message(activity: Mapping[str, Any]) -> Message:
    text = activity.get("text")
    text = text if isinstance(text, str) else ""
    return Message(
        conversation=_conversation(activity),
        sender=_person(activity.get("from")),
        text=strip_mentions(mentions_as_tokens(text, activity)),
        activity_id=_opt_str(activity.get("id")),
    )


def _invoke(activity: Mapping[str, Any]) -> Invoke | None:
    name = activity.get("name")
    if name in (INVOKE_TASK_FETCH, INVOKE_TASK_SUBMIT):
        return _dialog(activity, DialogFetch if name == INVOKE_TASK_FETCH else DialogSubmit)
    if name != INVOKE_CARD_ACTION:
        return None
    value = _obj(activity, "value")
    action = value.get("action")
    if not isinstance(action, dict) or action.get("type") != "Action.Execute":
        raise MalformedActivity("adaptiveCard/action without an Action.Execute")
    data = action.get("data", {})
    if not isinstance(data, dict):
        raise MalformedActivity("action data is not an object")
    return CardAction(
        conversation=_conversation(activity),
        sender=_person(activity.get("from")),
        verb=_str(action, "verb"),
        data=dict(data),
        activity_id=_opt_str(activity.get("replyToId")),
    )


def _dialog(activity: Mapping[str, Any], kind: type) -> DialogFetch | DialogSubmit:
    """``value.data``: the button's data (and, on submit, the inputs); ``form`` names the form."""
    data = _obj(activity, "value").get("data")
    if not isinstance(data, dict):
        raise MalformedActivity(f"{activity.get('name')} without an object in value.data")
    return kind(
        conversation=_conversation(activity),
        sender=_person(activity.get("from")),
        form_id=_str(data, "form"),
        data=dict(data),
    )


def _installation(activity: Mapping[str, Any]) -> Installed | Uninstalled | None:
    action = activity.get("action")
    by = _person(activity["from"]) if isinstance(activity.get("from"), dict) else None
    if action in ("add", "add-upgrade"):
        return Installed(_conversation(activity), by)
    if action in ("remove", "remove-upgrade"):
        return Uninstalled(_conversation(activity), by)
    return None


def _conversation_update(activity: Mapping[str, Any]) -> Event | None:
    bot_id = _opt_str(_obj(activity, "recipient").get("id"))
    added = _people(activity.get("membersAdded"))
    removed = _people(activity.get("membersRemoved"))
    by = _person(activity["from"]) if isinstance(activity.get("from"), dict) else None
    if any(p.id == bot_id for p in added):
        return Installed(_conversation(activity), by)
    if any(p.id == bot_id for p in removed):
        return Uninstalled(_conversation(activity), by)
    added = tuple(p for p in added if p.id != bot_id)
    removed = tuple(p for p in removed if p.id != bot_id)
    if not added and not removed:
        return None
    return MembersChanged(_conversation(activity), added, removed)


def _people(raw: Any) -> tuple[Person, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MalformedActivity("members is not a list")
    return tuple(_person(p) for p in raw)


def strip_mentions(text: str) -> str:
    """Remove ``<at>…</at>`` mentions (Teams puts the bot's name there in channels)."""
    return " ".join(_AT_TAG.sub(" ", text).split())


def mentions_as_tokens(text: str, activity: Mapping[str, Any]) -> str:
    """Each @mention of a person (a ``mention`` entity whose ``mentioned.id`` is not the bot)
    as ``<@29:…>``, the token ``TeamsConversation.person`` resolves; the bot's own mention,
    and any ``<at>`` with no entity behind it, are left for ``strip_mentions``. Entities that
    are not shaped as Teams sends them are ignored: a mention is never needed to read a
    message, only to name a person in it."""
    recipient = activity.get("recipient")
    bot_id = recipient.get("id") if isinstance(recipient, dict) else None
    entities = activity.get("entities")
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict) or entity.get("type") != "mention":
            continue
        mentioned, tag = entity.get("mentioned"), entity.get("text")
        person = mentioned.get("id") if isinstance(mentioned, dict) else None
        if not isinstance(person, str) or not isinstance(tag, str) or not tag or person == bot_id:
            continue
        if "<" in person or ">" in person or not person.strip() or " " in person:
            continue
        text = text.replace(tag, f" <@{person}> ", 1)
    return text


def person_token(token: str) -> str | None:
    """The Teams user ID in a mention token (``<@29:…>``), else None."""
    found = PERSON_TOKEN.match(token)
    return found.group(1) if found else None


def _obj(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise MalformedActivity(f"{key} is missing or not an object")
    return value


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedActivity(f"{key} is missing or not a string")
    return value


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
