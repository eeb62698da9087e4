"""The one module of ``bot/`` that speaks slack_sdk.

Core code (delivery, rounds, summaries) talks to a ``ChatGateway``; this module turns Slack's
answers into a few outcomes the core understands (sent, rate limited, transient, undeliverable,
permanent), so a Microsoft Teams gateway can slot in beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("medpulse.slack")

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


class ChatError(Exception):
    """Base of the outcomes the core reacts to."""

    def __init__(self, error: str, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.retry_after = retry_after


class RateLimited(ChatError):
    """Slack said 429: wait ``retry_after`` seconds, then try again."""


class Transient(ChatError):
    """5xx, timeouts, connection errors: try again later with backoff."""


class Undeliverable(ChatError):
    """This person cannot receive DMs from us; do not retry forever."""


class Permanent(ChatError):
    """A request Slack will never accept (bad token, missing scope...)."""


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


@dataclass(frozen=True)
class Member:
    user_id: str
    is_bot: bool
    deleted: bool
    email: str | None
    tz: str | None
    team_id: str | None = None  # the person's home workspace (another org's, for Slack Connect)
    teams: tuple[str, ...] = ()  # Enterprise Grid: every workspace of the org they belong to


def _member(u: dict) -> Member:
    return Member(
        user_id=u["id"],
        is_bot=bool(u.get("is_bot")) or u["id"] == "USLACKBOT",
        deleted=bool(u.get("deleted")),
        email=(u.get("profile") or {}).get("email"),
        tz=u.get("tz"),
        team_id=u.get("team_id"),
        teams=tuple((u.get("enterprise_user") or {}).get("teams") or ()),
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


class SlackGateway:
    """Thin, typed calls to the Web API with errors already sorted for the core."""

    def __init__(
        self, token: str, base_url: str, timeout: float = 10.0, team_id: str | None = None
    ) -> None:
        self.client = WebClient(token=token, base_url=base_url, timeout=timeout)
        self.client.retry_handlers = []  # delivery owns retries: it knows what is safe to repeat
        self.team_id = team_id  # set for an org-wide (Grid) token: every call names its workspace

    def _call(self, method: str, **kwargs):
        if self.team_id and method != "files_upload_v2":
            kwargs["team_id"] = self.team_id
        try:
            return getattr(self.client, method)(**kwargs)
        except Exception as exc:  # noqa: BLE001 - sorted into outcomes below
            raise _translate(exc) from exc

    def post_dm(
        self, user_id: str, text: str, blocks: list[dict], tag: str | None = None
    ) -> Posted:
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
        return Posted(channel=resp["channel"], ts=resp["ts"])

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

    def find_tagged(self, channel: str, tag: str, oldest: float) -> Posted | None:
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
                return Posted(channel=channel, ts=msg["ts"])
        return None

    def post_channel(self, channel: str, text: str, blocks: list[dict]) -> Posted:
        resp = self._call(
            "chat_postMessage", channel=channel, text=text, blocks=blocks, unfurl_links=False
        )
        return Posted(channel=resp["channel"], ts=resp["ts"])

    def update(self, channel: str, ts: str, text: str, blocks: list[dict]) -> None:
        self._call("chat_update", channel=channel, ts=ts, text=text, blocks=blocks)

    def delete(self, channel: str, ts: str) -> None:
        """Delete a message the bot posted (chat.delete, Tier 3)."""
        self._call("chat_delete", channel=channel, ts=ts)

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

    def channel_info(self, channel: str) -> dict:
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

    def upload_png(
        self,
        channel: str,
        data: bytes,
        filename: str,
        title: str,
        comment: str | None = None,
        alt_text: str | None = None,
    ) -> None:
        self.upload(channel, data, filename, title, comment, alt_text)

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
        note = self.post_channel(user_id, text, [])
        self.upload(note.channel, data, filename, title, alt_text=alt_text)

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

    def publish_home(self, user_id: str, view: dict) -> None:
        self._call("views_publish", user_id=user_id, view=view)


class NotInstalled(Exception):
    """No installation for this workspace (multi-workspace mode)."""


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
