"""Neutral identifiers: what the core stores about where a person or message lives.

Every platform's IDs are opaque strings to the core. Column widths (``storage.models``) hold the
longest of them: a Teams user ID (``29:`` and ~100 characters), a Teams conversation ID (a few
hundred), a Teams tenant GUID (36), a Slack ``ts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Platform = Literal["slack", "teams", "text"]

# Widths of the columns that hold platform identifiers; one place, used by storage.models.
TENANT_ID_LEN = 64  # Slack team/enterprise IDs, Teams tenant GUIDs (36)
USER_ID_LEN = 255  # Slack U…/W…; Teams "29:…" IDs and Entra object IDs
CONVERSATION_ID_LEN = 512  # Slack C…/D…; Teams "a:…" and "19:…@thread.tacv2" IDs
MESSAGE_ID_LEN = 255  # Slack ts; Teams activity IDs


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
