"""The Teams side of the chat gateway the core will call once it has one (issue 15).

Each method is one thing the core asks of a platform, in the core's terms (a pulse view, a
closed pulse, a summary, a roster), done with the Bot Connector client and the cards:

=====================  ==================================================================
``roster``             the members of a team the app is installed in (audience sync)
``open_dm``            the 1:1 conversation with a member (safe to repeat)
``send_pulse``         a pulse card, at most once; the outcome for the outbox row
``close_pulse``        the card replaced by the neutral closed card
``post_summary``       a summary card with its chart in a leadership team's channel
``say``                a short text in a conversation (command replies)
=====================  ==================================================================

Capabilities the core must not assume on Teams (``CAPABILITIES``): no read-back of a sent
message (so no look-up before resending: see ``connector``), no ephemeral replies, no
response URLs. A tap is answered in the invoke's own HTTP reply (a short text Teams shows and
does not keep), so it costs no outbound call; the card itself is never redrawn per person
(see ``cards``: the tenant's retention and eDiscovery keep what a chat shows).

What the core stores for Teams is ``DmAddress`` on the identity side (participant) and
``MessageRef`` on the delivery; both hold Teams identifiers and must never reach an answer,
a comment or anything published.
"""

from __future__ import annotations

from dataclasses import dataclass

from integrations.msteams import cards
from integrations.msteams.connector import BotConnector, Member, Outcome, SendResult

CAPABILITIES = {
    "read_back": False,
    "ephemeral": False,
    "response_url": False,
    "reply_in_tap_response": True,
    "slash_commands": False,
}


@dataclass(frozen=True)
class DmAddress:
    """Where a person's 1:1 with the bot lives (Teams routes by service URL)."""

    service_url: str
    conversation_id: str


@dataclass(frozen=True)
class MessageRef:
    """One message the bot posted: enough to update or replace it later."""

    service_url: str
    conversation_id: str
    activity_id: str


@dataclass(frozen=True)
class Sent:
    """A send's outcome for the outbox, with the message's reference when it is known."""

    outcome: Outcome
    ref: MessageRef | None = None
    detail: str = ""


class TeamsGateway:
    """The core's requests, done on Teams (see the table above)."""

    capabilities = CAPABILITIES

    def __init__(self, connector: BotConnector) -> None:
        self.connector = connector

    def roster(self, service_url: str, team_id: str) -> list[Member]:
        return list(self.connector.members(service_url, team_id))

    def open_dm(self, service_url: str, user_id: str) -> DmAddress:
        conv = self.connector.create_personal_conversation(service_url, user_id)
        return DmAddress(service_url, conv)

    def send_pulse(self, to: DmAddress, view: cards.PulseView) -> Sent:
        n = len(view["questions"])
        activity = cards.message(
            cards.pulse_card(view),
            f"Your anonymous medical engagement pulse: {n} quick questions, 30 seconds.",
        )
        return self._sent(
            to, self.connector.send_once(to.service_url, to.conversation_id, activity)
        )

    def close_pulse(self, ref: MessageRef) -> None:
        """The same closed card for everyone who was asked, answered or not."""
        activity = cards.message(cards.closed_card(), "This pulse has closed")
        self.connector.update(ref.service_url, ref.conversation_id, ref.activity_id, activity)

    def post_summary(
        self,
        service_url: str,
        channel_id: str,
        title: str,
        lines: list[str],
        chart_png: bytes | None = None,
        chart_alt: str = "",
    ) -> Sent:
        activity = cards.message(cards.summary_card(title, lines, chart_png, chart_alt), title)
        to = DmAddress(service_url, channel_id)
        return self._sent(to, self.connector.send_once(service_url, channel_id, activity))

    def say(self, to: DmAddress, text: str) -> Sent:
        activity = {"type": "message", "text": text, "textFormat": "plain"}
        return self._sent(
            to, self.connector.send_once(to.service_url, to.conversation_id, activity)
        )

    @staticmethod
    def _sent(to: DmAddress, result: SendResult) -> Sent:
        ref = None
        if result.activity_id:
            ref = MessageRef(to.service_url, to.conversation_id, result.activity_id)
        return Sent(result.outcome, ref, result.detail)
