"""Reading what Slack puts in a command's text: escaped channel and user mentions, plain names.
(The command's words themselves are parsed by the core, ``bot.admin.commands.parse``.)"""

from __future__ import annotations

import re
from dataclasses import dataclass

from integrations.slack.blocks import USER_MENTION

CHANNEL_ESCAPED = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|([^>]*))?>$")
CHANNEL_PLAIN = re.compile(r"^#([a-z0-9][a-z0-9._-]{0,79})$")
USER_PLAIN = re.compile(r"^@([\w.\-]{1,80})$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{4,}$")


@dataclass(frozen=True)
class ChannelRef:
    id: str | None
    name: str | None


def channel_ref(token: str) -> ChannelRef | None:
    """``<#C123|name>``, ``<#C123>``, ``#name`` or a bare channel ID; None if it is none of those."""
    if m := CHANNEL_ESCAPED.match(token):
        return ChannelRef(m.group(1), m.group(2) or None)
    if m := CHANNEL_PLAIN.match(token):
        return ChannelRef(None, m.group(1))
    if CHANNEL_ID.match(token):
        return ChannelRef(token, None)
    return None


@dataclass(frozen=True)
class UserRef:
    id: str | None
    name: str | None


def user_ref(token: str) -> UserRef | None:
    if m := USER_MENTION.match(token):
        return UserRef(m.group(1), m.group(2) or None)
    if m := USER_PLAIN.match(token):
        return UserRef(None, m.group(1))
    return None
