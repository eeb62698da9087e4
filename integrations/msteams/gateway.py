"""``TeamsGateway``: the core's chat gateway (``bot.chat.gateway.ChatGateway``) on Teams.

One gateway per tenant (medpulse's Teams app is single-tenant, so usually one per process). Each
method is one request the core makes, done with the synchronous Bot Connector client
(``connector``), the cards (``cards``) and the stored routes (``routes``):

=====================  ==================================================================
``send_dm``            a view (pulse, closed pulse, text, home) as a card in the person's
                       1:1, which is created on first use and its ID and service URL kept;
                       at most once per tag (see below)
``update``/``delete``  a message we posted, by ``MessageRef`` (a PUT of the new card; a
                       DELETE where a 404 on a repeat is success)
``post_channel``       a summary card in a team's channel with the chart inline (scaled to
                       1024 × 1024 px and 1 MB when larger)
``members``            a team's roster, page by page (``pagedmembers``)
``member``             one member of a conversation (who an @mention names)
``reply_card``         a card in the conversation a command came from (a form's opener)
``channel_info``       a team the app is installed in, as the core checks it before posting
=====================  ==================================================================

Capabilities: no read-back, no ephemeral replies, no response URLs, no publishable home (a
home card is sent on request), no forms opened by trigger (``forms`` is False: a command's form
is a card whose button opens a dialog, ``integrations.msteams.dialogs``; comments are an
``Input.Text`` in the pulse card).

Errors become ``bot.chat.errors``: ``403 MessageWritesBlocked`` (the doctor blocked the app)
and ``403 BotNotInConversationRoster`` (the app is not installed for them) are
``Undeliverable``; throttling that outlasted the connector's retries is ``RateLimited`` with
the ``Retry-After``; 412/502/503/504 and unreachable service are ``Transient``; a message too
big or a bad request is ``Permanent``.

Avoiding duplicate DMs without read-back
-----------------------------------------
Slack lets the core look for a DM it may already have sent. Teams cannot: the Bot Connector
has no call to read a message back, and it ignores a client-chosen activity ID. So:

1. The connector repeats a send only when Teams certainly did not act on it (429, 412, 503,
   no connection made); after 502, 504, another 5xx, a read timeout or a dropped connection it
   stops and says the outcome is uncertain (``connector`` explains why).
2. Every tagged send is claimed in ``sent_messages`` (``routes.Routes.claim``) *before* the
   call, in its own transaction. Sent: the row keeps the message's reference, and a repeat of
   the tag returns it without sending. Certainly not sent: the claim is released, so the
   core's retry sends. Uncertain, or the process died mid-call (the row still says
   ``sending``): every later send under that tag raises ``DeliveryUncertain`` (a
   ``Permanent``), so neither this process, nor a restart, nor another worker sends it again.

The price: a doctor whose pulse was lost in an ambiguous failure is not sent it again (the
outbox row ends ``failed`` with an ``uncertain:`` error the status counts; the fan-out
benchmark reports how many). A doctor never gets the same pulse twice. Rejected: resending
after a timeout (the SDKs' way: a duplicate whenever only the reply was lost), a client-chosen
activity ID (Teams ignores it), reading the chat through Microsoft Graph (``Chat.Read.All``
needs admin consent NHSmail trusts rarely get).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.chat import errors
from bot.chat.gateway import Capabilities, ChannelInfo, Member
from bot.chat.ids import MessageRef, Platform
from bot.chat.views import ClosedPulseView, FormView, HomeView, Image, SummaryView, View
from integrations.msteams import cards, connector
from integrations.msteams.routes import DM, TEAM, Routes

log = logging.getLogger("medpulse.msteams.gateway")

CAPABILITIES = Capabilities(
    read_back=False, ephemeral=False, response_url=False, home=False, forms=False, directory=False
)
NOT_INSTALLED = frozenset({"BotNotInConversationRoster", "ConversationNotFound"})


class DeliveryUncertain(errors.Permanent):
    """A send that may have been posted: never to be made again under its tag."""


def mapped(call: Callable[[], Any]) -> Any:
    """Run one connector call with its errors as the core's ``bot.chat.errors``."""
    try:
        return call()
    except connector.DeliveryUncertain as exc:
        raise DeliveryUncertain(f"uncertain:{exc.code}") from None
    except connector.Undeliverable as exc:
        raise errors.Undeliverable(exc.code) from None
    except connector.TooBig as exc:
        raise errors.Permanent(f"too_big:{exc.code}") from None
    except cards.CardTooBig as exc:
        raise errors.Permanent(f"too_big:{exc}") from None
    except connector.TokenError as exc:
        if exc.status in (0, 429) or exc.status >= 500:
            raise errors.Transient(f"token:{exc.code}") from None
        raise errors.Permanent(f"token:{exc.code}") from None
    except connector.GaveUp as exc:
        if exc.status == 429:
            raise errors.RateLimited(exc.code, exc.retry_after or 1.0) from None
        raise errors.Transient(exc.code or str(exc.status), exc.retry_after) from None
    except connector.ConnectorError as exc:
        if exc.status == 404:
            raise errors.Gone(f"404:{exc.code}") from None
        if exc.status == 403 and exc.code in NOT_INSTALLED:
            raise errors.Undeliverable(exc.code) from None
        if exc.status in connector.RETRYABLE:
            raise errors.Transient(exc.code, exc.retry_after) from None
        raise errors.Permanent(f"{exc.status}:{exc.code}") from None


class TeamsGateway:
    """The core's requests on one Teams tenant (see the module docstring)."""

    platform: Platform = "teams"
    capabilities = CAPABILITIES

    def __init__(self, client: connector.BotConnector, routes: Routes) -> None:
        self.client = client
        self.routes = routes
        self._dm_lock = threading.Lock()

    # ------------------------------------------------------------ direct messages

    def send_dm(self, user_id: str, view: View, tag: str | None = None) -> MessageRef:
        activity = mapped(lambda: cards.render(view))
        if tag is None:
            return self._post_dm(user_id, activity)
        self.routes.sweep()
        earlier = self.routes.claim(tag)
        if earlier is not None:
            if earlier.state == "sent" and earlier.conversation_id and earlier.message_id:
                return MessageRef(earlier.conversation_id, earlier.message_id)
            raise DeliveryUncertain(f"uncertain:{earlier.state}")
        try:
            ref = self._post_dm(user_id, activity)
        except DeliveryUncertain:
            self.routes.settle(tag, "uncertain")
            raise
        except BaseException:
            self.routes.release(tag)  # certainly not posted: the core may try again
            raise
        self.routes.settle(tag, "sent", ref.conversation, ref.message)
        return ref

    def _post_dm(self, user_id: str, activity: dict[str, Any]) -> MessageRef:
        service_url, conversation = self.dm_conversation(user_id)
        message = mapped(lambda: self.client.send(service_url, conversation, activity))
        return MessageRef(conversation, message)

    def dm_conversation(self, user_id: str) -> tuple[str, str]:
        """(service URL, conversation ID) of the person's 1:1, created and kept on first use."""
        route = self.routes.get(DM, user_id)
        if route is not None and route.conversation_id:
            return route.service_url, route.conversation_id
        service_url = (route.service_url if route else None) or self.routes.any_service_url()
        if service_url is None:
            raise errors.Permanent("no_service_url: medpulse is not installed in any team yet")
        conversation = mapped(
            lambda: self.client.create_personal_conversation(service_url, user_id)
        )
        self.routes.save(DM, user_id, service_url, conversation)
        return service_url, conversation

    def find_sent(self, user_id: str, tag: str, since: float) -> MessageRef | None:
        """From the ledger only (Teams cannot read a message back): a send known to be done."""
        earlier = self.routes.sent(tag)
        if earlier and earlier.state == "sent" and earlier.conversation_id and earlier.message_id:
            return MessageRef(earlier.conversation_id, earlier.message_id)
        return None

    # ------------------------------------------------------------ messages we posted

    def update(self, ref: MessageRef, view: View) -> None:
        """Redraw a message (``Gone`` when it no longer exists). Redrawn as closed, a pulse's
        ledger row has done its work (no send under its tag can come again): it goes."""
        activity = mapped(lambda: cards.render(view))
        service_url = self._service_url(ref.conversation)
        self._then_forget(
            ref,
            lambda: self.client.update(service_url, ref.conversation, ref.message, activity),
            isinstance(view, ClosedPulseView),
        )

    def delete(self, ref: MessageRef) -> None:
        """Delete a message we posted; one already gone counts as deleted (the connector takes
        Teams' 404 on a repeat as done). Its ledger row goes with it: a row left for a reminder
        would say who had not answered."""
        service_url = self._service_url(ref.conversation)
        self._then_forget(
            ref, lambda: self.client.delete(service_url, ref.conversation, ref.message), True
        )

    def _then_forget(self, ref: MessageRef, call: Callable[[], Any], forget: bool) -> None:
        """Make the call; with ``forget``, the message's ledger row goes once it is done or
        refused for good (the core does not retry a refused close or delete, and the row says
        whose 1:1 it was), but not after a failure the core will retry."""
        try:
            mapped(call)
        except (errors.Transient, errors.RateLimited):
            raise
        except errors.ChatError:
            if forget:
                self._forget(ref)
            raise
        if forget:
            self._forget(ref)

    def _forget(self, ref: MessageRef) -> None:
        """The ledger's tidy-up after a close or delete Teams has done: best effort. Were its
        failure (a database hiccup) to reach the core, the core would retry the Teams call and
        edit the card a second time, an edit history that differs from other doctors'; a row
        left now goes at the next sweep (``Routes.sweep``)."""
        try:
            self.routes.forget_sends(ref)
        except SQLAlchemyError:
            log.warning("msteams: send-ledger tidy-up deferred to the next sweep", exc_info=True)

    def reply(self, service_url: str, conversation_id: str, view: View) -> MessageRef:
        """Answer in the conversation an activity came from (a command's reply, a home card)."""
        activity = mapped(lambda: cards.render(view))
        message = mapped(lambda: self.client.send(service_url, conversation_id, activity))
        return MessageRef(conversation_id, message)

    def reply_card(
        self, service_url: str, conversation_id: str, card: dict[str, Any], summary: str
    ) -> MessageRef:
        """A card of our own (a form's opener, a notice) where an activity came from."""
        activity = mapped(lambda: cards.message(card, summary))
        message = mapped(lambda: self.client.send(service_url, conversation_id, activity))
        return MessageRef(conversation_id, message)

    def member(self, service_url: str, conversation_id: str, user_id: str) -> connector.Member:
        """One member of a team or chat (``Gone`` when Teams knows no such member there)."""
        return mapped(lambda: self.client.member(service_url, conversation_id, user_id))

    def _service_url(self, conversation: str) -> str:
        found = self.routes.service_url_of(conversation) or self.routes.any_service_url()
        if found is None:
            raise errors.Permanent("no_service_url")
        return found

    # ------------------------------------------------------------ channels and teams

    def post_channel(self, channel: str, view: View, image: Image | None = None) -> MessageRef:
        """Into a team's channel (``channel`` a team ID posts to its General channel); never
        repeated after an ambiguous failure (``DeliveryUncertain``), like a DM."""
        activity = mapped(lambda: _channel_activity(view, image))
        service_url = self._service_url(channel)
        message = mapped(lambda: self.client.send(service_url, channel, activity))
        return MessageRef(channel, message)

    def post_text_file(self, conversation: str, note: str, filename: str, text: str) -> MessageRef:
        """A text file (a CSV export) as a card in a conversation (``cards.text_file_message``)."""
        activity = mapped(lambda: cards.text_file_message(note, filename, text))
        service_url = self._service_url(conversation)
        message = mapped(lambda: self.client.send(service_url, conversation, activity))
        return MessageRef(conversation, message)

    def members(self, source: str) -> Iterator[Member]:
        """The people of a team the app is installed in (``source`` the team's ID)."""
        route = self.routes.get(TEAM, source)
        service_url = route.service_url if route else self._service_url(source)
        page = self.client.members(service_url, source)
        while True:
            member = mapped(lambda: next(page, None))
            if member is None:
                return
            yield Member(user_id=member.id, email=member.email, name=member.name)

    def channel_info(self, channel: str) -> ChannelInfo:
        """A team the app was installed in. Teams' shared channels live inside a team; the
        General channel medpulse posts to is never shared outside the tenant."""
        route = self.routes.get(TEAM, channel)
        if route is None:
            raise errors.Permanent("channel_not_found: medpulse is not installed in that team")
        return ChannelInfo(id=channel, name=route.name or "team", shared_outside=False)

    def post_image(self, channel: str, image: Image) -> None:
        """A further chart in a team's channel: a card holding only the image."""
        view = SummaryView(title=image.title, headline="", sections=(), fallback=image.alt[:200])
        activity = mapped(lambda: _channel_activity(view, image))
        service_url = self._service_url(channel)
        mapped(lambda: self.client.send(service_url, channel, activity))

    def user(self, user_id: str) -> Member:
        """One person, found in the roster of a team the app is installed in (the Bot Connector
        answers rosters, not a tenant directory)."""
        for team in self.routes.keys(TEAM):
            for member in self.members(team):
                if member.user_id == user_id:
                    return member
        raise errors.Undeliverable("user_not_found")

    # ------------------------------------------------------------ what Teams does not have

    def user_by_email(self, email: str) -> str | None:
        raise errors.Permanent("directory: not on Teams (capabilities.directory is False)")

    def open_form(self, trigger: str, form: FormView) -> None:
        raise errors.Permanent("forms: not on Teams (capabilities.forms is False)")

    def publish_home(self, user_id: str, home: HomeView) -> None:
        raise errors.Permanent("home: not on Teams (send the home card with send_dm)")


def _channel_activity(view: View, image: Image | None) -> dict[str, Any]:
    if image is not None and not isinstance(view, cards.views.SummaryView):
        raise cards.CardTooBig("an image goes with a summary only")
    return cards.render(view, image)


def build(config, db, clock, rate: float, **connector_args: Any) -> TeamsGateway:
    """The gateway for the configured tenant: one token source, one pace for every call the
    tenant's limit counts (``pacer``), one connector."""
    from integrations.msteams.pacer import TenantPacer

    pacer = TenantPacer(rate)
    client = connector.BotConnector(
        connector.TokenSource.from_config(config),
        app_id=config.app_id,
        tenant_id=config.tenant_id,
        before_request=pacer.wait,
        on_throttled=pacer.throttled,
        **connector_args,
    )
    return TeamsGateway(client, Routes(db, clock, config.tenant_id))
