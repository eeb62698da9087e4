"""The Slack adapter's gateway: ``bot.chat.gateway.ChatGateway`` on slack_sdk's Web API.

The core (delivery, rounds, summaries) hands this views and neutral identifiers; this module
draws the views as Block Kit (``pulse_blocks``, ``summary_blocks``, ``forms``) and turns Slack's
answers into the few outcomes the core reacts to (``bot.chat.errors``: rate limited, transient,
undeliverable, permanent). Slack-only calls the Slack listeners use (ephemeral notes, modals
as Block Kit, user and channel look-ups, file uploads) stay here beside the protocol's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chat.errors import (
    ChatError,
    Gone,
    NotInstalled,
    Permanent,
    RateLimited,
    Transient,
    Undeliverable,
)
from bot.chat.gateway import Capabilities, ChannelInfo, Member
from bot.chat.ids import MessageRef
from bot.chat.views import (
    ClosedPulseView,
    FormView,
    HomeView,
    Image,
    PulseView,
    SummaryView,
    TextView,
    View,
)

log = logging.getLogger("medpulse.slack")

# Kept importable from here for the Slack listeners; the core imports them from bot.chat.
__all__ = [
    "BOT_SCOPES",
    "ChatError",
    "Gone",
    "InstallationTokens",
    "NotInstalled",
    "Permanent",
    "RateLimited",
    "SlackGateway",
    "Transient",
    "Undeliverable",
]

# The bot scopes the features need, and no more (kept in step with slack-app-manifest.yml).
BOT_SCOPES = (
    "chat:write",
    "commands",
    "users:read",
    "users:read.email",
    "channels:read",
    "groups:read",
    "im:history",
    "im:read",
    "files:write",
)

UNDELIVERABLE = {
    "user_not_found",
    "channel_not_found",
    "messages_tab_disabled",
    "account_inactive",
    "user_disabled",
    "cannot_dm_bot",
    "is_archived",
    "not_allowed_token_type",
}


# What chat.update and chat.delete answer for a message that is no longer there.
# (cant_update_message / cant_delete_message are not: the message is there, we may not touch it.)
GONE = {"message_not_found", "channel_not_found"}


def _member(u: dict) -> Member:
    return Member(
        user_id=u["id"],
        is_bot=bool(u.get("is_bot")) or u["id"] == "USLACKBOT",
        deleted=bool(u.get("deleted")),
        email=(u.get("profile") or {}).get("email"),
        tz=u.get("tz"),
        team_id=u.get("team_id"),
        teams=tuple((u.get("enterprise_user") or {}).get("teams") or ()),
        name=u.get("name"),
    )


def _translate(exc: Exception) -> ChatError:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = (exc.response.data or {}).get("error", "unknown") if exc.response else "unknown"
        if status == 429 or error == "ratelimited":
            retry = float(
                exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", 1))
            )
            return RateLimited("ratelimited", retry_after=retry)
        if status >= 500:
            return Transient(f"http_{status}")
        if error in UNDELIVERABLE:
            return Undeliverable(error)
        if error in ("internal_error", "fatal_error", "service_unavailable", "request_timeout"):
            return Transient(error)
        return Permanent(error)
    return Transient(type(exc).__name__)


def sharing(info: dict, team_id: str | None) -> str | None:
    """Why a channel (``conversations.info``) reaches beyond ``team_id``, or None if it does not:
    Slack Connect with another organisation, or other workspaces of an Enterprise Grid org."""
    if info.get("is_ext_shared") or info.get("is_pending_ext_shared"):
        return "it is shared with another organisation (Slack Connect)"
    if info.get("is_org_shared"):
        return "it is shared with other workspaces of the organisation"
    others = [t for t in info.get("shared_team_ids") or () if t != team_id]
    if others or info.get("is_shared"):
        return "it is shared with another workspace"
    return None


def render(view: View) -> tuple[str, list[dict]]:
    """(notification text, blocks) of a view."""
    from integrations.slack import pulse_blocks, summary_blocks

    if isinstance(view, PulseView):
        return view.fallback, pulse_blocks.pulse_blocks(view)
    if isinstance(view, ClosedPulseView):
        return pulse_blocks.closed_text(view), pulse_blocks.closed_blocks(view)
    if isinstance(view, SummaryView):
        return view.fallback, summary_blocks.summary_blocks(view)
    if isinstance(view, TextView):
        return view.text, []
    raise TypeError(f"Slack cannot post a {type(view).__name__} as a message")


class SlackGateway:
    """One workspace's calls to the Web API, with errors already sorted for the core."""

    platform = "slack"
    capabilities = Capabilities(
        read_back=True, ephemeral=True, response_url=True, home=True, forms=True, directory=True
    )

    def __init__(
        self,
        token: str,
        base_url: str,
        timeout: float = 10.0,
        team_id: str | None = None,
        tenant: str | None = None,
    ) -> None:
        self.client = WebClient(token=token, base_url=base_url, timeout=timeout)
        self.client.retry_handlers = []  # delivery owns retries: it knows what is safe to repeat
        self.team_id = team_id  # set for an org-wide (Grid) token: every call names its workspace
        self.tenant = tenant or team_id  # the workspace this gateway serves (channel checks)
        self._dms: dict[str, str] = {}  # user ID -> the bot's DM channel with them, as learnt

    def _call(self, method: str, **kwargs):
        if self.team_id and method != "files_upload_v2":
            kwargs["team_id"] = self.team_id
        try:
            return getattr(self.client, method)(**kwargs)
        except Exception as exc:  # noqa: BLE001 - sorted into outcomes below
            raise _translate(exc) from exc

    # -- the protocol ----------------------------------------------------------------------
    def send_dm(self, user_id: str, view: View, tag: str | None = None) -> MessageRef:
        text, blocks = render(view)
        ref = self.post_dm(user_id, text, blocks, tag=tag)
        self._dms[user_id] = ref.conversation
        return ref

    def find_sent(self, user_id: str, tag: str, since: float) -> MessageRef | None:
        """Look in the person's DM for a message carrying ``tag`` in its metadata."""
        channel = self._dms.get(user_id) or self.dm_channel(user_id)
        if channel is None:
            return None
        self._dms[user_id] = channel
        return self.find_tagged(channel, tag, since)

    def update(self, ref: MessageRef, view: View) -> None:
        text, blocks = render(view)
        self._on_message("chat_update", ref, text=text, blocks=blocks)

    def delete(self, ref: MessageRef) -> None:
        """Delete a message the bot posted (chat.delete, Tier 3)."""
        self._on_message("chat_delete", ref)

    def _on_message(self, method: str, ref: MessageRef, **kwargs) -> None:
        try:
            self._call(method, channel=ref.conversation, ts=ref.message, **kwargs)
        except (Permanent, Undeliverable) as exc:
            if exc.error in GONE:
                raise Gone(exc.error) from exc
            raise

    def post_channel(self, channel: str, view: View, image: Image | None = None) -> MessageRef:
        """The message, then its chart as a file under it (Block Kit images need a public URL)."""
        text, blocks = render(view)
        resp = self._call(
            "chat_postMessage", channel=channel, text=text, blocks=blocks, unfurl_links=False
        )
        ref = MessageRef(conversation=resp["channel"], message=resp["ts"])
        if image is not None:
            self.post_image(ref.conversation, image, must=False)
        return ref

    def post_image(self, channel: str, image: Image, must: bool = True) -> None:
        """Upload a chart with its alt text; with ``must`` False a failure is only logged (the
        message it belongs to is out, and must not be posted twice)."""
        try:
            self.upload(channel, image.png, image.filename, image.title, alt_text=image.alt)
        except Exception:  # noqa: BLE001 - see above
            if must:
                raise
            log.exception("chart upload to %s failed", channel)

    def members(self, source: str) -> Iterator[Member]:
        """The channel's members as ``users.list`` describes them: paged 200 at a time, far
        cheaper than one ``users.info`` per member, and it tells bots and deactivated accounts
        apart. Members ``users.list`` does not know (other organisations') are left out."""
        ids = set(self.channel_members(source))
        for u in self.users():
            if u.user_id in ids:
                yield u

    def channel_info(self, channel: str) -> ChannelInfo:
        """A DM (a user or D… ID) is the person's own and never shared: no call for it."""
        if not channel.startswith(("C", "G")):
            return ChannelInfo(id=channel, name=channel, shared_outside=False)
        info = self.conversation(channel)
        why = sharing(info, self.tenant)
        return ChannelInfo(
            id=info.get("id") or channel,
            name=info.get("name") or channel,
            shared_outside=why is not None,
            is_private=bool(info.get("is_private")),
            why_shared=why,
        )

    def open_form(self, trigger: str, form: FormView) -> None:
        from integrations.slack.views import modal

        self.open_view(trigger, modal(form))

    def publish_home(self, user_id: str, home: HomeView | dict) -> None:
        """Publish a home; the Slack listeners may hand over a Block Kit view as it is."""
        from integrations.slack.forms import home_view

        view = home if isinstance(home, dict) else home_view(home)
        self._call("views_publish", user_id=user_id, view=view)

    # -- Slack's own ---------------------------------------------------------------------------
    def post_dm(self, user_id: str, text: str, blocks: list[dict], tag: str | None = None):
        """DM by user ID (no conversations.open). ``tag`` rides in message metadata so a resend
        after an ambiguous failure can first look for the message that may already be there."""
        meta = {"event_type": "medpulse_delivery", "event_payload": {"tag": tag}} if tag else None
        resp = self._call(
            "chat_postMessage",
            channel=user_id,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            metadata=meta,
        )
        return MessageRef(conversation=resp["channel"], message=resp["ts"])

    def dm_channel(self, user_id: str) -> str | None:
        """The bot's existing DM channel with a user, if any (users.conversations, not open)."""
        cursor = None
        while True:
            resp = self._call("users_conversations", types="im", limit=200, cursor=cursor)
            for ch in resp["channels"]:
                if ch.get("user") == user_id:
                    return ch["id"]
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def find_tagged(self, channel: str, tag: str, oldest: float) -> MessageRef | None:
        """A message we already posted with this metadata tag, if Slack has it."""
        resp = self._call(
            "conversations_history",
            channel=channel,
            oldest=str(oldest),
            limit=100,
            include_all_metadata=True,
        )
        for msg in resp.get("messages", []):
            payload = (msg.get("metadata") or {}).get("event_payload") or {}
            if payload.get("tag") == tag:
                return MessageRef(conversation=channel, message=msg["ts"])
        return None

    def post_text(self, channel: str, text: str, blocks: list[dict]) -> MessageRef:
        resp = self._call(
            "chat_postMessage", channel=channel, text=text, blocks=blocks, unfurl_links=False
        )
        return MessageRef(conversation=resp["channel"], message=resp["ts"])

    def ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict] | None = None
    ) -> None:
        self._call("chat_postEphemeral", channel=channel, user=user, text=text, blocks=blocks)

    def channel_members(self, channel: str) -> Iterator[str]:
        cursor = None
        while True:
            resp = self._call("conversations_members", channel=channel, limit=200, cursor=cursor)
            yield from resp["members"]
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def conversation(self, channel: str) -> dict:
        """``conversations.info`` as Slack gives it."""
        return self._call("conversations_info", channel=channel)["channel"]

    def find_channel(self, name: str) -> dict | None:
        cursor = None
        while True:
            resp = self._call(
                "conversations_list",
                types="public_channel,private_channel",
                limit=200,
                cursor=cursor,
                exclude_archived=True,
            )
            for ch in resp["channels"]:
                if ch.get("name") == name:
                    return ch
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def user(self, user_id: str) -> Member:
        return _member(self._call("users_info", user=user_id)["user"])

    def user_by_email(self, email: str) -> str | None:
        try:
            return self._call("users_lookupByEmail", email=email)["user"]["id"]
        except Undeliverable:
            return None
        except Permanent as exc:
            if exc.error == "users_not_found":
                return None
            raise

    def users(self) -> Iterator[Member]:
        for u in self._iter_raw_users():
            yield _member(u)

    def find_user(self, name: str) -> str | None:
        for page_user in self._iter_raw_users():
            if name in (
                page_user.get("name"),
                (page_user.get("profile") or {}).get("display_name"),
            ):
                return page_user["id"]
        return None

    def _iter_raw_users(self) -> Iterator[dict]:
        cursor = None
        while True:
            resp = self._call("users_list", limit=200, cursor=cursor)
            yield from resp["members"]
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def dm_file(
        self,
        user_id: str,
        text: str,
        data: bytes,
        filename: str,
        title: str,
        alt_text: str | None = None,
    ) -> None:
        """A short DM (which also gives us the DM channel's ID) with a file under it."""
        note = self.post_text(user_id, text, [])
        self.upload(note.conversation, data, filename, title, alt_text=alt_text)

    def upload(
        self,
        channel: str,
        data: bytes,
        filename: str,
        title: str,
        comment: str | None = None,
        alt_text: str | None = None,
    ) -> None:
        """Upload a file into a channel or DM (files.getUploadURLExternal + complete); an image
        carries ``alt_text`` for screen readers (bot.insights.alt_text)."""
        self._call(
            "files_upload_v2",
            channel=channel,
            content=data,
            filename=filename,
            title=title,
            initial_comment=comment,
            alt_txt=alt_text,
        )

    def open_view(self, trigger_id: str, view: dict) -> None:
        self._call("views_open", trigger_id=trigger_id, view=view)


class InstallationTokens:
    """Bot tokens for installed workspaces, refreshed when they are about to expire.

    Used by both the HTTP listener (as Bolt's authorize) and the worker (scheduler, delivery),
    so there is one rotation path. One refresh per installation at a time: a per-team lock in
    the process, and on PostgreSQL a transaction-scoped advisory lock across processes, after
    which the row is read again (another process may have refreshed it meanwhile).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        engine,
        base_url: str,
        token_key: str,
        minutes_before: int = 120,
    ):
        import threading
        from collections import defaultdict

        from slack_sdk.oauth.token_rotation import TokenRotator

        from integrations.slack.oauth_store import EncryptedInstallationStore

        self.engine = engine
        self.store = EncryptedInstallationStore(client_id, engine, token_key)
        self.rotator = TokenRotator(
            client_id=client_id, client_secret=client_secret, client=WebClient(base_url=base_url)
        )
        self.minutes_before = minutes_before
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def bot(self, team_id: str, enterprise_id: str | None = None):
        """The workspace's bot installation, rotated first if its token is about to expire.

        Looked up as Slack stores it: a workspace install of an Enterprise Grid organisation
        under (org, team), an ordinary one under (None, team), and an organisation-wide install
        under (org, None), which then serves every workspace of the org. The org comes from the
        request or, for the worker, from the workspace row (``bot.people.workspaces.note_enterprise``).
        """
        bot = self._find(team_id, enterprise_id)
        if bot is None and not enterprise_id:
            enterprise_id = self._enterprise_of(team_id)  # only Grid workspaces get this far
            bot = self._find(team_id, enterprise_id) if enterprise_id else None
        if bot is None:
            raise NotInstalled(team_id)
        if not self._expiring(bot):
            return bot
        key = f"{bot.enterprise_id}:{None if bot.is_enterprise_install else bot.team_id}"
        with self._locks[key], self._cross_process_lock(key):
            bot = self._find(team_id, enterprise_id)
            refreshed = self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self.minutes_before
            )
            if refreshed is not None:
                self.store.save_bot(refreshed)
                log.info("rotated the bot token of workspace %s", team_id)
                return refreshed
            return bot

    def _find(self, team_id: str, enterprise_id: str | None):
        if enterprise_id:
            bot = self.store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
            if bot is not None:
                return bot
        bot = self.store.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None and enterprise_id:
            bot = self.store.find_bot(
                enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True
            )
        return bot

    def _enterprise_of(self, team_id: str) -> str | None:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(
                text("SELECT enterprise_id FROM workspaces WHERE team_id = :t"), {"t": team_id}
            ).scalar()

    def gateway_token(self, team_id: str) -> tuple[str, str | None]:
        """(token, team to name in every call): an org-wide token must say which workspace."""
        bot = self.bot(team_id)
        return bot.bot_token, team_id if bot.is_enterprise_install else None

    def forget(self, enterprise_id: str | None, team_id: str | None) -> None:
        """Delete an installation's tokens (uninstalled or revoked): nothing can use them again.
        ``team_id`` None is an organisation-wide (Enterprise Grid) install."""
        self.store.delete_all(enterprise_id=enterprise_id, team_id=team_id)

    def bot_token(self, team_id: str) -> str:
        return self.bot(team_id).bot_token

    def _expiring(self, bot) -> bool:
        import time

        expires = bot.bot_token_expires_at
        return expires is not None and expires <= time.time() + self.minutes_before * 60

    def _cross_process_lock(self, team_id: str):
        import contextlib
        import zlib

        from sqlalchemy import text

        if self.engine.dialect.name != "postgresql":
            return contextlib.nullcontext()

        @contextlib.contextmanager
        def locked():
            with self.engine.begin() as conn:
                key = zlib.crc32(f"medpulse-token:{team_id}".encode())
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                yield

        return locked()

    def team_ids(self) -> list[str]:
        from sqlalchemy import select

        bots = self.store.bots
        with self.engine.connect() as conn:
            return sorted({r[0] for r in conn.execute(select(bots.c.team_id).distinct()) if r[0]})
