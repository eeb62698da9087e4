"""Neutral identifiers: what the core stores about where a person or message lives.

Every platform's IDs are opaque strings to the core. The column widths that hold the longest of
them are defined with the schema (``storage.ids``) and re-exported here for the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from storage.ids import CONVERSATION_ID_LEN, MESSAGE_ID_LEN, TENANT_ID_LEN, USER_ID_LEN

Platform = Literal["slack", "teams", "text"]

__all__ = [
    "CONVERSATION_ID_LEN",
    "MESSAGE_ID_LEN",
    "TENANT_ID_LEN",
    "USER_ID_LEN",
    "MessageRef",
    "Platform",
    "Tenant",
]


@dataclass(frozen=True)
class Tenant:
    """One installation's scope: a Slack workspace, or a Teams tenant."""

    platform: Platform
    id: str


@dataclass(frozen=True)
class MessageRef:
    """A message the bot posted: enough to update or delete it later."""

    conversation: str
    message: str
