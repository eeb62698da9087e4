"""The chat gateway: every request the core makes of a chat platform, as one typed protocol.

An adapter implements it for one platform and one tenant (``Core.gateway(tenant)``). What only
some platforms can do is a capability flag the core checks before relying on it; the core
never asks a platform what the platform cannot answer:

- ``read_back``: a sent message can be found again by its tag (Slack metadata +
  ``conversations.history``). Without it (Teams), delivery avoids duplicates after an ambiguous
  failure another way (the adapter's at-most-once send; see ``integrations.msteams.connector``).
- ``ephemeral``: a note only one person sees, which the platform does not keep (Slack).
- ``response_url``: a tap's reply can redraw the message through a URL (Slack).
- ``home``: a per-person home surface that can be published at any time (Slack App Home).
- ``forms``: a modal form opened from a tap or command (Slack modals, Teams dialogs).
- ``directory``: people can be looked up by e-mail address (Slack ``users.lookupByEmail``);
  without it a roster must name people by their platform ID.

Errors are ``bot.chat.errors``; identifiers are ``bot.chat.ids``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from bot.chat.ids import MessageRef, Platform
from bot.chat.views import FormView, HomeView, Image, View


@dataclass(frozen=True)
class Capabilities:
    read_back: bool = False
    ephemeral: bool = False
    response_url: bool = False
    home: bool = False
    forms: bool = False
    directory: bool = False


@dataclass(frozen=True)
class Member:
    """A member of an audience source (a Slack channel, a Teams team), as the core needs it."""

    user_id: str
    is_bot: bool = False
    deleted: bool = False
    email: str | None = None
    tz: str | None = None
    team_id: str | None = None  # the person's home workspace (another org's, for Slack Connect)
    teams: tuple[str, ...] = ()  # Enterprise Grid: every workspace of the org they belong to
    name: str | None = None


@dataclass(frozen=True)
class ChannelInfo:
    """What the core checks before sending a trust's data to a channel."""

    id: str
    name: str
    shared_outside: bool  # connected to another organisation (Slack Connect, Teams shared channel)
    is_private: bool = False
    why_shared: str | None = None  # the platform's words for how it is shared, for the admin


class ChatGateway(Protocol):
    platform: Platform
    capabilities: Capabilities

    def send_dm(self, user_id: str, view: View, tag: str | None = None) -> MessageRef:
        """Send ``view`` to one person's direct conversation with the bot."""
        ...

    def find_sent(self, user_id: str, tag: str, since: float) -> MessageRef | None:
        """A message already sent with ``tag`` since ``since`` (a POSIX time), only when
        ``capabilities.read_back``."""
        ...

    def update(self, ref: MessageRef, view: View) -> None: ...

    def delete(self, ref: MessageRef) -> None: ...

    def post_channel(self, channel: str, view: View, image: Image | None = None) -> MessageRef:
        """Post to a channel, with the chart inline where the platform allows.

        Once the message is out it stands: if only the image then fails, the adapter logs it and
        returns (posting again would duplicate the message)."""
        ...

    def members(self, source: str) -> Iterator[Member]:
        """The people of an audience source (a channel ID on Slack, a team ID on Teams), bots and
        deactivated accounts included and flagged: the core decides who is asked."""
        ...

    def post_image(self, channel: str, image: Image) -> None:
        """A further image in a channel, under what was posted there (a second chart)."""
        ...

    def channel_info(self, channel: str) -> ChannelInfo:
        """Whether a channel reaches beyond this tenant; raises ``ChatError`` if it cannot say."""
        ...

    def user(self, user_id: str) -> Member:
        """One person of this tenant (``Undeliverable``/``Permanent`` when there is none)."""
        ...

    def user_by_email(self, email: str) -> str | None:
        """The user ID for an e-mail address (only when ``capabilities.directory``)."""
        ...

    def open_form(self, trigger: str, form: FormView) -> None:
        """Open a form (only when ``capabilities.forms``)."""
        ...

    def publish_home(self, user_id: str, home: HomeView) -> None:
        """Show a person's home (only when ``capabilities.home``)."""
        ...
