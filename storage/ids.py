"""Widths of the columns that hold a chat platform's identifiers: one place, for any platform.

Every platform's IDs are opaque strings to medpulse. The widths hold the longest of them: a
Teams user ID (``29:`` and ~100 characters), a Teams conversation ID (a few hundred), a Teams
tenant GUID (36), a Slack ``ts``. They live in ``storage`` because the schema is sized by them;
``bot.chat.ids`` re-exports them for the core.
"""

from __future__ import annotations

TENANT_ID_LEN = 64  # Slack team/enterprise IDs, Teams tenant GUIDs (36)
USER_ID_LEN = 255  # Slack U…/W…; Teams "29:…" IDs and Entra object IDs
CONVERSATION_ID_LEN = 512  # Slack C…/D…; Teams "a:…" and "19:…@thread.tacv2" IDs
MESSAGE_ID_LEN = 255  # Slack ts; Teams activity IDs
PLATFORM_LEN = 16  # "slack", "teams", "text"
