"""Parsing what people type after /pulse: subcommands, escaped mentions, plain names."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from integrations.slack.blocks import USER_MENTION

CHANNEL_ESCAPED = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|([^>]*))?>$")
CHANNEL_PLAIN = re.compile(r"^#([a-z0-9][a-z0-9._-]{0,79})$")
USER_PLAIN = re.compile(r"^@([\w.\-]{1,80})$")
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{4,}$")


@dataclass(frozen=True)
class Parsed:
    sub: str
    args: list[str]
    raw: str


def split(text: str | None) -> Parsed:
    """Split ``/pulse`` text into a lower-cased subcommand and its arguments.

    Quotes group words (``department:"Emergency Medicine"``); an unbalanced quote falls back
    to plain whitespace splitting rather than failing.
    """
    raw = (text or "").strip()
    try:
        parts = shlex.split(raw)
    except ValueError:
        parts = raw.split()
    if not parts:
        return Parsed("help", [], raw)
    sub = parts[0].lower()
    args = parts[1:]
    if sub == "send" and args and args[0].lower() == "now":
        args = args[1:]
    return Parsed(sub, args, raw)


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


def keyword(args: list[str], key: str) -> tuple[str | None, list[str]]:
    """Pull ``key:value`` out of args (the value may have been quoted)."""
    rest, value = [], None
    for a in args:
        if a.lower().startswith(key + ":"):
            value = a.split(":", 1)[1].strip() or None
        else:
            rest.append(a)
    return value, rest
