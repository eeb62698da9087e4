"""A fake Slack Web API served over real HTTP on 127.0.0.1.

Why a real server and not mocks: the design promises that tests drive the *real*
``slack_sdk.WebClient`` (``base_url=fake.api_url``), so request encoding, retry handlers,
pagination and file-upload plumbing are exercised exactly as in production. The demo uses
it too, which is why it lives in ``bot/`` and imports nothing but the standard library.

Usage::

    with FakeSlack() as fake:
        fake.add_user("U1", real_name="Dr Ada")
        client = WebClient(token=fake.bot_token, base_url=fake.api_url)
        client.chat_postMessage(channel="U1", text="hi")
        assert len(fake.dms_to("U1")) == 1

Semantics worth knowing:

* Tokens are read from ``Authorization: Bearer`` (or a ``token`` param). A missing or
  unknown token gives ``invalid_auth``. Each token belongs to one team (workspace); users,
  channels and rate-limit buckets are per team.
* A DM channel id is ``"D" + user_id``. ``chat.postMessage`` accepts a user id or that DM id;
  ``chat.update`` and ``chat.delete`` are strict and need the channel id that
  ``chat.postMessage`` returned; a deleted message is gone from ``conversations.history``.
* Faults (``fail_next``, ``error_rate``) by default fail *before* any effect. With
  ``error_after_effect=True`` the effect happens (the message is stored) and only the
  response is replaced by the error -- Slack delivered, the reply got lost. ``Call.effect``
  records whether state changed, so tests can count duplicates with ``dms_to``.
* Pseudo-methods recorded in ``calls``: ``"upload"`` (bytes POSTed to an upload URL) and
  ``"response_url"`` (POSTs to ``response_url(key)``); faults can target them by name.
* A response URL minted for a clicked message (``response_url_for_message``, or the key form
  ``anything~CHANNEL~TS``) acts on that message as Slack's do: ``replace_original`` edits it in
  place, ``delete_original`` removes it. Unlike ``chat.update`` (Tier 3, about 50 a minute per
  workspace), response URLs are not under the Web API's rate tiers.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import itertools
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from simulator.local_http import FakeHandler, Faults, LocalHttpFake, TokenBucket

log = logging.getLogger(__name__)

DEFAULT_SCOPES = (
    "chat:write,commands,im:write,users:read,users:read.email,"
    "channels:read,groups:read,channels:join,files:write"
)
MAX_BODY_BYTES = 64 * 1024 * 1024
# Params that Slack accepts as JSON strings in form bodies; decoded so recorded calls look
# the same whichever encoding the client chose.
_JSON_FIELDS = ("blocks", "attachments", "view", "files", "metadata")
_FAULT_ERRORS = {429: "ratelimited", 500: "internal_error"}


# --------------------------------------------------------------------------------------
# Records exposed to tests
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request the fake received, as tests want to see it.

    ``status`` is the HTTP status returned; ``ok``/``error`` the body's verdict; ``effect``
    whether workspace state changed (true even when a fault hid the success from the
    client); ``response`` the body the method produced before any fault replaced it.
    """

    method: str
    params: dict[str, Any]
    token: str | None
    time: float
    status: int
    ok: bool = False
    error: str | None = None
    effect: bool = False
    team_id: str | None = None
    response: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        """True when the client saw a successful reply."""
        return self.status == 200 and self.ok


@dataclass
class User:
    """A workspace member; ``to_api`` renders Slack's user object."""

    id: str
    team_id: str
    name: str
    real_name: str
    email: str | None = None
    is_bot: bool = False
    deleted: bool = False
    tz: str = "Europe/London"
    home_team: str | None = None  # Slack Connect: a member from another organisation's team
    enterprise_id: str | None = None  # Enterprise Grid: the org, and the org's teams they are in
    enterprise_teams: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        label, offset = _tz_label_offset(self.tz)
        profile: dict[str, Any] = {
            "real_name": self.real_name,
            "real_name_normalized": self.real_name,
            "display_name": self.name,
            "display_name_normalized": self.name,
            "team": self.team_id,
        }
        if self.email:
            profile["email"] = self.email
        out: dict[str, Any] = {
            "id": self.id,
            "team_id": self.home_team or self.team_id,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_admin": False,
            "is_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "tz": self.tz,
            "tz_label": label,
            "tz_offset": offset,
            "profile": profile,
            "updated": 1700000000,
        }
        if self.enterprise_id:
            out["enterprise_user"] = {
                "id": self.id,
                "enterprise_id": self.enterprise_id,
                "teams": list(self.enterprise_teams or [self.team_id]),
            }
        return out


@dataclass
class Channel:
    """A public or private channel; ``bot_member`` says whether the bot is in it."""

    id: str
    team_id: str
    name: str
    members: list[str]
    is_private: bool = False
    bot_member: bool = True
    # Sharing (Slack Connect / Grid): other teams' ids, and whether one is another organisation.
    shared_team_ids: list[str] = field(default_factory=list)
    ext_shared: bool = False
    org_shared: bool = False

    def to_api(self, bot_user_id: str) -> dict[str, Any]:
        others = [t for t in self.shared_team_ids if t != self.team_id]
        return {
            "is_shared": bool(others) or self.ext_shared or self.org_shared,
            "is_ext_shared": self.ext_shared,
            "is_org_shared": self.org_shared,
            "is_pending_ext_shared": False,
            "shared_team_ids": [self.team_id, *others],
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": False,
            "is_general": self.name == "general",
            "is_member": self.bot_member,
            "context_team_id": self.team_id,
            "num_members": len(self._all_members(bot_user_id)),
            "created": 1700000000,
        }

    def _all_members(self, bot_user_id: str) -> list[str]:
        if self.bot_member and bot_user_id not in self.members:
            return [*self.members, bot_user_id]
        return list(self.members)


@dataclass
class Message:
    """The latest state of a posted message (``chat.update`` edits it in place)."""

    channel: str
    ts: str
    team_id: str
    text: str = ""
    blocks: list[Any] | None = None
    attachments: list[Any] | None = None
    thread_ts: str | None = None
    user: str | None = None
    dm_user: str | None = None
    files: list[str] = field(default_factory=list)
    metadata: Any = None
    edits: int = 0

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "ts": self.ts,
            "text": self.text,
            "user": self.user,
            "team": self.team_id,
            "channel": self.channel,
        }
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.attachments is not None:
            out["attachments"] = self.attachments
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.metadata is not None:
            out["metadata"] = self.metadata
        return out


@dataclass
class UploadedFile:
    """A file announced by files.getUploadURLExternal; ``data`` arrives at the upload URL."""

    id: str
    team_id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    alt_txt: str | None = None
    completed: bool = False
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None

    @property
    def channel(self) -> str | None:
        """The first channel the file was shared to (most uploads go to exactly one)."""
        return self.channels[0] if self.channels else None


@dataclass(frozen=True)
class ResponsePost:
    """A POST the app made to a ``response_url``."""

    key: str
    body: Any
    raw: bytes
    time: float


@dataclass
class Team:
    """One workspace: its bot identity, people, channels and delivery quirks."""

    id: str
    name: str
    bot_user_id: str
    bot_id: str
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    undeliverable: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------


class _ApiError(Exception):
    """A Slack ``ok: false`` reply (HTTP 200)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class _Token:
    team_id: str | None  # None for an organisation-wide (Enterprise Grid) token
    expires_at: float | None = None
    enterprise_id: str | None = None
    revoked: bool = False
    replaces: str | None = None  # rotation: the old token dies once this one is used


@dataclass
class _OAuthGrant:
    team_id: str
    team_name: str
    token: str
    installer_user_id: str
    refresh_token: str | None
    expires_in: int | None
    bot_user_id: str
    enterprise_id: str | None = None  # an organisation-wide install of this Grid org


@dataclass
class _Fault:
    status: int
    retry_after: int
    error_after_effect: bool


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), headers=headers or {})


def _tz_label_offset(tz: str) -> tuple[str, int]:
    """Slack's tz_label/tz_offset, computed for now so BST/GMT are right."""
    try:
        now = datetime.now(ZoneInfo(tz))
    except Exception:  # unknown zone: behave like UTC rather than fail a lookup
        return "UTC", 0
    offset = now.utcoffset()
    return now.tzname() or tz, int(offset.total_seconds()) if offset else 0


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        offset = int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _ApiError("invalid_cursor") from exc
    if kind != "offset" or offset < 0:
        raise _ApiError("invalid_cursor")
    return offset


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, str]]:
    """Cursor pagination the way Slack does it: ``limit`` (default 100) and ``cursor``."""
    try:
        limit = int(params.get("limit") or 100)
    except (TypeError, ValueError) as exc:
        raise _ApiError("invalid_limit") from exc
    limit = min(max(limit, 1), 1000)
    cursor = params.get("cursor")
    start = _decode_cursor(str(cursor)) if cursor else 0
    chunk = items[start : start + limit]
    end = start + len(chunk)
    next_cursor = _encode_cursor(end) if end < len(items) else ""
    return chunk, {"next_cursor": next_cursor}


def _as_json_value(value: Any) -> Any:
    """Decode a JSON-in-a-form-field value; leave anything else alone."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except (ValueError, UnicodeDecodeError):
            return value
    return value


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """Multipart form fields: text parts as str, file parts as bytes."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is None:
            fields[str(name)] = data.decode("utf-8", "replace")
        else:
            fields[str(name)] = data
    return fields


def _parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Merge query string and body (form, JSON or multipart) into one dict."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    ctype = content_type.split(";")[0].strip().lower()
    if body:
        if ctype == "application/json":
            try:
                decoded = json.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise _ApiError("invalid_json") from exc
            if not isinstance(decoded, dict):
                raise _ApiError("invalid_json")
            params.update(decoded)
        elif ctype == "multipart/form-data":
            params.update(_parse_multipart(body, content_type))
        else:
            text = body.decode("utf-8", "replace")
            params.update(parse_qsl(text, keep_blank_values=True))
    for key in _JSON_FIELDS:
        if key in params:
            params[key] = _as_json_value(params[key])
    return params


def bound_response_key(key: str, channel: str, ts: str) -> str:
    """A response-URL key tied to one message (channel, ts), read by ``_apply_to_original``."""
    return f"{key}~{channel}~{ts}"


def _bearer(headers: Any, params: dict[str, Any]) -> str | None:
    auth = headers.get("Authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    token = params.get("token")
    return str(token) if token else None


def _basic_auth(headers: Any) -> tuple[str, str] | None:
    auth = headers.get("Authorization") or ""
    if not auth.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return user, password


# --------------------------------------------------------------------------------------
# The fake itself
# --------------------------------------------------------------------------------------


class FakeSlack(LocalHttpFake):
    """A fake Slack workspace plus Web API on a local threaded HTTP server.

    Thread-safe: all state sits behind one lock; request handling sleeps (``latency``) or waits
    (``hold``) outside it, so slow responses still overlap. The server, start/stop, latency and
    holds are simulator.local_http's, shared with the fake Teams.
    """

    name = "fake slack"

    def __init__(
        self,
        *,
        team_id: str = "T0001",
        bot_user_id: str = "UBOT",
        bot_token: str = "xoxb-test",
        team_name: str = "medpulse-test",
        app_id: str = "A0001",
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
    ) -> None:
        self._init_server(host, port)
        self.app_id = app_id
        self.latency = latency
        self.method_latency: dict[str, float] = {}
        self.clock: Callable[[], float] = time.time
        self._lock = threading.RLock()
        self._calls: list[Call] = []
        self._teams: dict[str, Team] = {}
        self._tokens: dict[str, _Token] = {}
        self._oauth_codes: dict[str, _OAuthGrant] = {}
        self._enterprises: dict[str, tuple[str, list[str]]] = {}
        self._refresh_tokens: dict[str, tuple[str, str]] = {}  # refresh -> (team, access)
        self._client_credentials: tuple[str, str] | None = None
        self._messages: dict[tuple[str, str], Message] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._files: dict[str, UploadedFile] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._home_views: dict[str, dict[str, Any]] = {}
        self._response_posts: list[ResponsePost] = []
        self._app_tokens: set[str] = set()
        self.socket_mode: Any = None  # simulator.fake_socket_mode.FakeSocketMode once enabled
        self._faults: Faults[_Fault] = Faults()
        self._rate_limits: dict[str, tuple[float, float]] = {}
        self._buckets: dict[tuple[str, str | None], TokenBucket] = {}
        self._ts_counter = itertools.count(100)
        self._last_ts_micros = 0
        self._ids = itertools.count(1)
        self._primary = team_id
        self.add_team(team_id, bot_token, bot_user_id, name=team_name)

    # ---------------------------------------------------------------- lifecycle

    def enable_socket_mode(self, app_token: str = "xapp-1-A0001-test"):
        """Accept ``app_token`` (an app-level token, for ``apps.connections.open`` only) and
        serve Socket Mode's WebSocket; returns the FakeSocketMode to push envelopes with."""
        from simulator.fake_socket_mode import FakeSocketMode

        with self._lock:
            self._app_tokens.add(app_token)
            self._tokens[app_token] = _Token(team_id=self._primary)
        if self.socket_mode is None:
            self.socket_mode = FakeSocketMode().start()
        return self.socket_mode

    def stop(self) -> None:
        """Stop serving (Socket Mode too) and release the ports."""
        if self.socket_mode is not None:
            self.socket_mode.stop()
            self.socket_mode = None
        super().stop()

    def __enter__(self) -> FakeSlack:
        return self.start()

    @property
    def api_url(self) -> str:
        """What to pass as ``WebClient(base_url=...)``; ends with ``/api/``."""
        return f"{self.base_url}/api/"

    @property
    def response_url_base(self) -> str:
        """Prefix for response URLs: ``response_url(key) == response_url_base + "/" + key``."""
        return f"{self.base_url}/response"

    def response_url(self, key: str) -> str:
        """A response_url whose POSTs are recorded under ``key``."""
        return f"{self.response_url_base}/{key}"

    # ---------------------------------------------------------------- workspace setup

    @property
    def team_id(self) -> str:
        return self._primary

    @property
    def bot_user_id(self) -> str:
        return self._teams[self._primary].bot_user_id

    @property
    def bot_token(self) -> str:
        return next(t for t, info in self._tokens.items() if info.team_id == self._primary)

    def team(self, team_id: str | None = None) -> Team:
        """The (primary by default) team's state, for direct inspection."""
        return self._teams[team_id or self._primary]

    def add_team(
        self, team_id: str, token: str, bot_user_id: str = "UBOT", *, name: str | None = None
    ) -> Team:
        """Create a workspace (or add another accepted token to an existing one)."""
        with self._lock:
            team = self._teams.get(team_id)
            if team is None:
                team = Team(
                    id=team_id,
                    name=name or team_id.lower(),
                    bot_user_id=bot_user_id,
                    bot_id="B" + team_id.lstrip("T"),
                )
                self._teams[team_id] = team
            self._tokens[token] = _Token(team_id=team_id)
            return team

    def add_user(
        self,
        id: str,
        name: str | None = None,
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "Europe/London",
        *,
        team_id: str | None = None,
        home_team: str | None = None,
        enterprise_id: str | None = None,
        enterprise_teams: Iterable[str] = (),
    ) -> User:
        """Add (or replace) a workspace member. ``home_team``: a Slack Connect member from
        another organisation (users.info reports that team); ``enterprise_id`` and
        ``enterprise_teams``: a Grid member and the org's workspaces they belong to."""
        team = self.team(team_id)
        user = User(
            id=id,
            team_id=team.id,
            name=name or id.lower(),
            real_name=real_name or name or id,
            email=email,
            is_bot=is_bot,
            deleted=deleted,
            tz=tz,
            home_team=home_team,
            enterprise_id=enterprise_id,
            enterprise_teams=list(enterprise_teams),
        )
        with self._lock:
            team.users[id] = user
        return user

    def add_channel(
        self,
        id: str,
        name: str,
        members: Iterable[str] = (),
        is_private: bool = False,
        bot_member: bool = True,
        *,
        team_id: str | None = None,
    ) -> Channel:
        """Add (or replace) a channel; ``members`` are user ids (the bot is implied)."""
        team = self.team(team_id)
        channel = Channel(id, team.id, name, list(members), is_private, bot_member)
        with self._lock:
            team.channels[id] = channel
        return channel

    def share_channel(
        self,
        channel_id: str,
        with_team: str,
        *,
        external: bool = True,
        members: Iterable[str] = (),
        team_id: str | None = None,
    ) -> Channel:
        """Share a channel with another team: Slack Connect (another organisation) when
        ``external``, else with another workspace of the same Grid organisation. ``members``
        (the other team's people) join it."""
        channel = self._channel(self.team(team_id), channel_id)
        with self._lock:
            channel.shared_team_ids.append(with_team)
            channel.ext_shared = channel.ext_shared or external
            channel.org_shared = channel.org_shared or not external
            channel.members.extend(members)
        return channel

    def set_undeliverable(
        self, user_id: str, error: str | None, *, team_id: str | None = None
    ) -> None:
        """Make chat.postMessage to this user fail with ``error`` (None clears it)."""
        team = self.team(team_id)
        with self._lock:
            if error is None:
                team.undeliverable.pop(user_id, None)
            else:
                team.undeliverable[user_id] = error

    def add_oauth_code(
        self,
        code: str,
        team_id: str,
        team_name: str,
        token: str,
        installer_user_id: str,
        refresh_token: str | None = None,
        expires_in: int | None = None,
        *,
        bot_user_id: str = "UBOT",
        enterprise_id: str | None = None,
    ) -> None:
        """Make ``oauth.v2.access(code=code)`` install the app into ``team_id`` (single use).
        With ``enterprise_id`` it is an organisation-wide install of that Grid org (see
        ``add_enterprise``); ``team_id`` is then ignored."""
        with self._lock:
            self._oauth_codes[code] = _OAuthGrant(
                team_id,
                team_name,
                token,
                installer_user_id,
                refresh_token,
                expires_in,
                bot_user_id,
                enterprise_id,
            )

    def add_enterprise(self, enterprise_id: str, teams: Iterable[str], name: str = "") -> None:
        """An Enterprise Grid organisation of existing workspaces (add them with ``add_team``).

        An organisation-wide token works in every one of them: a call names its workspace with
        ``team_id``, or else through the channel or user it is about (IDs are org-wide), and
        failing both the org's first workspace answers."""
        with self._lock:
            self._enterprises[enterprise_id] = (name or enterprise_id.lower(), list(teams))

    def set_client_credentials(self, client_id: str, client_secret: str) -> None:
        """Require these credentials on oauth.v2.access (unchecked by default)."""
        self._client_credentials = (client_id, client_secret)

    def revoke_token(self, token: str) -> None:
        """Make a token stop working (``token_revoked``), e.g. to simulate an uninstall."""
        with self._lock:
            if token in self._tokens:
                self._tokens[token].revoked = True

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int = 503,
        count: int = 1,
        retry_after: int = 1,
        *,
        error_after_effect: bool = False,
    ) -> None:
        """Fail the next ``count`` calls to ``method`` ("*" = any) with HTTP ``status``.

        429s carry ``Retry-After: retry_after``. With ``error_after_effect`` the call's
        effect is applied first and only the reply is lost.
        """
        fault = _Fault(status, max(1, int(retry_after)), error_after_effect)
        with self._lock:
            self._faults.fail_next(method, fault, count)

    def error_rate(
        self,
        method: str,
        status: int = 503,
        rate: float = 0.02,
        seed: int | None = None,
        *,
        error_after_effect: bool = False,
    ) -> None:
        """Fail a random fraction of calls to ``method`` ("*" = any); rate 0 removes.

        Deterministic for a given seed and call order (concurrency can reorder calls).
        """
        with self._lock:
            self._faults.error_rate(method, rate, _Fault(status, 1, error_after_effect), seed)

    def rate_limit(
        self,
        method: str,
        per_second: float | None,
        burst: float | None = None,
        *,
        team_id: str | None = None,
    ) -> None:
        """Token-bucket limit per team for ``method`` ("*" = each method); None removes.

        Over the limit: HTTP 429, ``Retry-After`` (whole seconds, >= 1) and
        ``{"ok": false, "error": "ratelimited"}``. ``burst`` defaults to ``max(1, per_second)``.
        With ``team_id`` the limit applies to that team only (and wins over a general one).
        """
        key = method if team_id is None else f"{method}@{team_id}"
        with self._lock:
            self._buckets = {k: v for k, v in self._buckets.items() if k[0] != key}
            if per_second is None:
                self._rate_limits.pop(key, None)
            else:
                self._rate_limits[key] = (per_second, burst or max(1.0, per_second))

    def clear_faults(self) -> None:
        """Remove every fault, random error and rate limit."""
        with self._lock:
            self._faults.clear()
            self._rate_limits.clear()
            self._buckets.clear()

    # ---------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every recorded request, oldest first."""
        with self._lock:
            return list(self._calls)

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()
            self._response_posts.clear()

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def dms_to(self, user_id: str, *, team_id: str | None = None) -> list[Call]:
        """chat.postMessage calls that actually delivered a DM to ``user_id``.

        Includes deliveries whose reply was lost (``error_after_effect``), because the
        doctor did receive them -- exactly what a duplicate-DM test must count.
        """
        channel = "D" + user_id
        return [
            c
            for c in self.calls_to("chat.postMessage")
            if c.effect
            and c.response is not None
            and c.response.get("channel") == channel
            and (team_id is None or c.team_id == team_id)
        ]

    @property
    def messages(self) -> dict[tuple[str, str], Message]:
        """(channel, ts) -> latest message state."""
        with self._lock:
            return dict(self._messages)

    def message(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            return self._messages.get((channel, ts))

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._ephemerals)

    @property
    def uploaded_files(self) -> dict[str, UploadedFile]:
        """file id -> upload (bytes in ``data``, share targets in ``channels``)."""
        with self._lock:
            return dict(self._files)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """view id -> latest modal/home view."""
        with self._lock:
            return dict(self._views)

    @property
    def home_views(self) -> dict[str, dict[str, Any]]:
        """user id -> latest App Home view published for them."""
        with self._lock:
            return dict(self._home_views)

    def response_posts(self, key: str | None = None) -> list[ResponsePost]:
        with self._lock:
            return [p for p in self._response_posts if key is None or p.key == key]

    # ---------------------------------------------------------------- request pipeline

    def _wait_before(self, method: str) -> None:
        """A request's latency (or hold), served outside the lock so slow calls overlap."""
        self._delay(method, self.method_latency.get(method, self.latency))

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _pick_fault(self, method: str, team_id: str | None) -> _Fault | None:
        """Decide, under the lock, whether this call is failed by injection."""
        with self._lock:
            queued = self._faults.next_queued(method)
            if queued is not None:
                return queued
            limit_key = next(
                (k for k in (f"{method}@{team_id}", method) if k in self._rate_limits), "*"
            )
            if limit_key in self._rate_limits:
                per_second, burst = self._rate_limits[limit_key]
                bucket = self._buckets.setdefault(
                    (limit_key, f"{team_id}:{method}"), TokenBucket(per_second, burst)
                )
                wait = bucket.take()
                if wait > 0:
                    return _Fault(429, max(1, math.ceil(wait)), False)
            return self._faults.next_random(method)

    def _fault_reply(self, fault: _Fault) -> _Reply:
        error = _FAULT_ERRORS.get(fault.status, "service_unavailable")
        headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
        return _json_reply(fault.status, {"ok": False, "error": error}, headers)

    def _team_for_token(self, token: str | None, params: dict | None = None) -> str | None:
        """Resolve a token to its team without side effects (for rate-limit keys)."""
        info = self._tokens.get(token or "")
        if info is None:
            return None
        if info.team_id is None and info.enterprise_id:
            return self._org_team(info.enterprise_id, params or {})
        return info.team_id

    def _org_team(self, enterprise_id: str, params: dict) -> str | None:
        """The workspace an org-wide call is about: ``team_id``, else the team holding the
        channel or user it names, else the organisation's first workspace."""
        teams = self._enterprises.get(enterprise_id, ("", []))[1]
        if params.get("team_id") in teams:
            return params["team_id"]
        for key in ("channel", "channel_id", "user", "user_id", "users"):
            ref = str(params.get(key) or "").split(",")[0]
            for t in teams:
                team = self._teams.get(t)
                if team and (ref in team.users or ref in team.channels):
                    return t
        return teams[0] if teams else None

    def _authenticate(self, token: str | None, params: dict | None = None) -> Team:
        with self._lock:
            info = self._tokens.get(token or "")
            if info is None:
                raise _ApiError("invalid_auth")
            if info.revoked:
                raise _ApiError("token_expired" if info.replaces is None else "token_revoked")
            if info.expires_at is not None and self.clock() >= info.expires_at:
                raise _ApiError("token_expired")
            if info.replaces is not None:
                old = self._tokens.get(info.replaces)
                if old is not None:
                    old.revoked = True
                info.replaces = None
            team_id = info.team_id
            if team_id is None:
                team_id = self._org_team(info.enterprise_id or "", params or {})
                if team_id is None:
                    raise _ApiError("team_access_not_granted")
            return self._teams[team_id]

    def handle_api(self, method: str, query: str, body: bytes, headers: Any) -> _Reply:
        """Process one Web API request; always records exactly one Call."""
        now = time.time()
        try:
            params = _parse_params(query, body, headers.get("Content-Type") or "")
        except _ApiError as exc:
            payload = {"ok": False, "error": exc.error}
            self._record(Call(method, {}, _bearer(headers, {}), now, 200, False, exc.error))
            return _json_reply(200, payload)
        token = _bearer(headers, params)
        team_id = self._team_for_token(token, params)
        fault = self._pick_fault(method, team_id)
        if fault is not None and not fault.error_after_effect:
            reply = self._fault_reply(fault)
            error = _FAULT_ERRORS.get(fault.status, "service_unavailable")
            self._record(
                Call(method, params, token, now, fault.status, False, error, False, team_id)
            )
            return reply
        payload, team_id = self._dispatch(method, params, token, headers, team_id)
        ok = bool(payload.get("ok"))
        if fault is not None:
            reply = self._fault_reply(fault)
            error = _FAULT_ERRORS.get(fault.status, "service_unavailable")
            self._record(
                Call(method, params, token, now, fault.status, False, error, ok, team_id, payload)
            )
            return reply
        error = None if ok else payload.get("error")
        self._record(Call(method, params, token, now, 200, ok, error, ok, team_id, payload))
        return _json_reply(200, payload)

    def _dispatch(
        self,
        method: str,
        params: dict[str, Any],
        token: str | None,
        headers: Any,
        team_id: str | None,
    ) -> tuple[dict[str, Any], str | None]:
        """Run a method handler; map _ApiError to Slack's ``ok: false`` body."""
        handler = _METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}, team_id
        try:
            if method in _NO_AUTH:
                result = handler(self, None, params, headers)
            else:
                team = self._authenticate(token, params)
                team_id = team.id
                with self._lock:
                    result = handler(self, team, params, headers)
        except _ApiError as exc:
            return {"ok": False, "error": exc.error}, team_id
        return {"ok": True, **result}, team_id

    def handle_upload(self, file_id: str, body: bytes, headers: Any) -> _Reply:
        """Store bytes POSTed to an upload URL (raw body or multipart with a file part)."""
        now = time.time()
        fault = self._pick_fault("upload", None)
        params = {"file_id": file_id, "size": len(body)}
        if fault is not None:
            self._record(Call("upload", params, None, now, fault.status, False, "upload_failed"))
            return self._fault_reply(fault)
        data = body
        ctype = headers.get("Content-Type") or ""
        if ctype.lower().startswith("multipart/form-data"):
            fields = _parse_multipart(body, ctype)
            parts = [v for v in fields.values() if isinstance(v, bytes)]
            data = parts[0] if parts else b""
        with self._lock:
            upload = self._files.get(file_id)
            if upload is not None:
                upload.data = data
        if upload is None:
            self._record(Call("upload", params, None, now, 404, False, "file_not_found"))
            return _Reply(404, b"file_not_found", "text/plain")
        params["size"] = len(data)
        self._record(Call("upload", params, None, now, 200, True, None, True, upload.team_id))
        return _Reply(200, f"OK - {len(data)}".encode(), "text/plain")

    def response_url_for_message(self, channel: str, ts: str, key: str = "r") -> str:
        """A response_url bound to one message, as Slack sends with a click on that message."""
        return self.response_url(bound_response_key(f"{key}-{secrets.token_hex(4)}", channel, ts))

    def handle_response_url(self, key: str, body: bytes) -> _Reply:
        """Record a POST to a response_url (JSON expected; anything is kept raw); a URL bound to
        a message applies ``replace_original`` / ``delete_original`` to it."""
        now = time.time()
        fault = self._pick_fault("response_url", None)
        decoded = _as_json_value(body) if body else None
        params = {"key": key, "body": decoded}
        if fault is not None:
            self._record(Call("response_url", params, None, now, fault.status, False, "failed"))
            return self._fault_reply(fault)
        with self._lock:
            if not self._apply_to_original(key, decoded):
                self._record(Call("response_url", params, None, now, 404, False, "expired_url"))
                return _Reply(404, b"expired_url", "text/plain")
            self._response_posts.append(ResponsePost(key, decoded, body, now))
        self._record(Call("response_url", params, None, now, 200, True, None, True))
        return _Reply(200, b"ok", "text/plain")

    def _apply_to_original(self, key: str, body: Any) -> bool:
        """Edit or delete the bound message (callers hold the lock); False if it is gone."""
        parts = key.split("~")
        if len(parts) != 3 or not isinstance(body, dict):
            return True
        target = (parts[1], parts[2])
        message = self._messages.get(target)
        if body.get("delete_original") in (True, "true"):
            return self._messages.pop(target, None) is not None
        if body.get("replace_original") not in (True, "true"):
            return True
        if message is None:
            return False
        if "text" in body:
            message.text = str(body.get("text") or "")
        if "blocks" in body:
            message.blocks = body["blocks"] if isinstance(body["blocks"], list) else None
        message.edits += 1
        return True

    # ---------------------------------------------------------------- helpers for methods

    def _next_ts(self) -> str:
        """Real-time based like Slack's, and strictly increasing (callers hold the lock)."""
        micros = max(int(time.time() * 1_000_000), self._last_ts_micros + 1)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    @staticmethod
    def _user(team: Team, user_id: Any) -> User:
        user = team.users.get(str(user_id or ""))
        if user is None:
            raise _ApiError("user_not_found")
        return user

    @staticmethod
    def _channel(team: Team, channel_id: Any) -> Channel:
        channel = team.channels.get(str(channel_id or ""))
        if channel is None:
            raise _ApiError("channel_not_found")
        return channel

    def _resolve_post_target(self, team: Team, target: Any) -> tuple[str, str | None]:
        """channel param -> (channel id, DM user or None), with Slack's errors."""
        target = str(target or "").lstrip("#")
        if not target:
            raise _ApiError("channel_not_found")
        user_id = target[1:] if target.startswith("D") else target
        if user_id in team.users:
            if user_id in team.undeliverable:
                raise _ApiError(team.undeliverable[user_id])
            return "D" + user_id, user_id
        if target[0] in "UWD":
            raise _ApiError("channel_not_found")
        channel = team.channels.get(target) or next(
            (c for c in team.channels.values() if c.name == target), None
        )
        if channel is None:
            raise _ApiError("channel_not_found")
        if not channel.bot_member:
            raise _ApiError("not_in_channel")
        return channel.id, None

    def _existing_message(self, channel: Any, ts: Any) -> Message:
        if not channel:
            raise _ApiError("channel_not_found")
        message = self._messages.get((str(channel), str(ts or "")))
        if message is None:
            if not any(key[0] == channel for key in self._messages):
                raise _ApiError("channel_not_found")
            raise _ApiError("message_not_found")
        return message

    def _store_view(self, team: Team, raw: Any, view_id: str | None = None) -> dict[str, Any]:
        view = _as_json_value(raw)
        if not isinstance(view, dict) or "type" not in view:
            raise _ApiError("invalid_arguments")
        stored = dict(view)
        stored["id"] = view_id or self._new_id("V")
        stored["team_id"] = team.id
        stored["app_id"] = self.app_id
        stored["bot_id"] = team.bot_id
        stored["hash"] = f"{int(time.time())}.{next(self._ids):08x}"
        stored.setdefault("private_metadata", "")
        stored.setdefault("callback_id", "")
        stored.setdefault("external_id", "")
        stored["state"] = {"values": {}}
        self._views[stored["id"]] = stored
        return stored

    def _file_to_api(self, upload: UploadedFile) -> dict[str, Any]:
        return {
            "id": upload.id,
            "title": upload.title or upload.filename,
            "name": upload.filename,
            "size": len(upload.data or b""),
            "channels": list(upload.channels),
            "alt_txt": upload.alt_txt,
            "user_team": upload.team_id,
        }


# --------------------------------------------------------------------------------------
# Method implementations: (fake, team, params, headers) -> result dict (without "ok")
# They run under the fake's lock (except oauth.v2.access, which takes it itself).
# --------------------------------------------------------------------------------------

Handler = Callable[[FakeSlack, Any, dict[str, Any], Any], dict[str, Any]]
_METHODS: dict[str, Handler] = {}
_NO_AUTH = {"oauth.v2.access", "api.test"}


def _method(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _METHODS[name] = fn
        return fn

    return register


@_method("api.test")
def _api_test(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    return {"args": {k: v for k, v in p.items() if k != "token"}}


@_method("apps.connections.open")
def _apps_connections_open(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict:
    if _bearer(h, p) not in fake._app_tokens or fake.socket_mode is None:
        raise _ApiError("not_allowed_token_type")
    return {"url": fake.socket_mode.url}


@_method("auth.test")
def _auth_test(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    bot = team.users.get(team.bot_user_id)
    return {
        "url": f"https://{team.name}.slack.com/",
        "team": team.name,
        "user": bot.name if bot else "medpulse",
        "team_id": team.id,
        "user_id": team.bot_user_id,
        "bot_id": team.bot_id,
        "is_enterprise_install": False,
    }


@_method("chat.postMessage")
def _chat_post(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    channel, dm_user = fake._resolve_post_target(team, p.get("channel"))
    text, blocks, attachments = p.get("text"), p.get("blocks"), p.get("attachments")
    if not text and not blocks and not attachments:
        raise _ApiError("no_text")
    message = Message(
        channel=channel,
        ts=fake._next_ts(),
        team_id=team.id,
        text=str(text or ""),
        blocks=blocks if isinstance(blocks, list) else None,
        attachments=attachments if isinstance(attachments, list) else None,
        thread_ts=p.get("thread_ts") or None,
        user=team.bot_user_id,
        dm_user=dm_user,
        metadata=p.get("metadata"),
    )
    fake._messages[(channel, message.ts)] = message
    return {"channel": channel, "ts": message.ts, "message": message.to_api()}


@_method("chat.update")
def _chat_update(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    message = fake._existing_message(p.get("channel"), p.get("ts"))
    if message.team_id != team.id:
        raise _ApiError("channel_not_found")
    if "text" in p:
        message.text = str(p.get("text") or "")
    if "blocks" in p:
        blocks = p.get("blocks")
        message.blocks = blocks if isinstance(blocks, list) else None
    if "attachments" in p:
        attachments = p.get("attachments")
        message.attachments = attachments if isinstance(attachments, list) else None
    if "metadata" in p:
        message.metadata = p.get("metadata")
    message.edits += 1
    return {
        "channel": message.channel,
        "ts": message.ts,
        "text": message.text,
        "message": message.to_api(),
    }


@_method("chat.delete")
def _chat_delete(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    """Removes the message: history no longer lists it (a bot may delete only its own)."""
    message = fake._existing_message(p.get("channel"), p.get("ts"))
    if message.team_id != team.id:
        raise _ApiError("channel_not_found")
    if message.user != team.bot_user_id:
        raise _ApiError("cant_delete_message")
    del fake._messages[(message.channel, message.ts)]
    return {"channel": message.channel, "ts": message.ts}


@_method("chat.postEphemeral")
def _chat_ephemeral(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    channel, dm_user = fake._resolve_post_target(team, p.get("channel"))
    user = fake._user(team, p.get("user")).id
    if dm_user is None and user not in team.channels[channel].members:
        raise _ApiError("user_not_in_channel")
    if not p.get("text") and not p.get("blocks") and not p.get("attachments"):
        raise _ApiError("no_text")
    ts = fake._next_ts()
    fake._ephemerals.append(
        {
            "channel": channel,
            "user": user,
            "text": p.get("text"),
            "blocks": p.get("blocks"),
            "ts": ts,
        }
    )
    return {"message_ts": ts}


@_method("chat.getPermalink")
def _chat_permalink(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    message = fake._existing_message(p.get("channel"), p.get("message_ts"))
    stamp = message.ts.replace(".", "")
    return {
        "channel": message.channel,
        "permalink": f"https://{team.name}.slack.com/archives/{message.channel}/p{stamp}",
    }


def _dm_info(team: Team, channel_id: str) -> dict[str, Any] | None:
    user_id = channel_id[1:] if channel_id.startswith("D") else None
    if user_id is None or user_id not in team.users:
        return None
    return {"id": channel_id, "is_im": True, "is_private": True, "user": user_id, "created": 0}


@_method("conversations.info")
def _conv_info(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    channel_id = str(p.get("channel") or "")
    dm = _dm_info(team, channel_id)
    if dm is not None:
        return {"channel": dm}
    channel = fake._channel(team, channel_id)
    if channel.is_private and not channel.bot_member:
        raise _ApiError("channel_not_found")
    return {"channel": channel.to_api(team.bot_user_id)}


@_method("conversations.members")
def _conv_members(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    channel_id = str(p.get("channel") or "")
    dm = _dm_info(team, channel_id)
    if dm is not None:
        members = [dm["user"], team.bot_user_id]
    else:
        channel = fake._channel(team, channel_id)
        if channel.is_private and not channel.bot_member:
            raise _ApiError("not_in_channel")
        members = channel._all_members(team.bot_user_id)
    chunk, meta = _page(members, p)
    return {"members": chunk, "response_metadata": meta}


@_method("conversations.list")
def _conv_list(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    types = {t.strip() for t in str(p.get("types") or "public_channel").split(",")}
    visible = [
        c.to_api(team.bot_user_id)
        for c in team.channels.values()
        if ("private_channel" in types and c.is_private and c.bot_member)
        or ("public_channel" in types and not c.is_private)
    ]
    chunk, meta = _page(visible, p)
    return {"channels": chunk, "response_metadata": meta}


@_method("conversations.join")
def _conv_join(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    channel = fake._channel(team, p.get("channel"))
    if channel.is_private:
        raise _ApiError("method_not_supported_for_channel_type")
    already = channel.bot_member
    channel.bot_member = True
    out: dict[str, Any] = {"channel": channel.to_api(team.bot_user_id)}
    if already:
        out["warning"] = "already_in_channel"
    return out


@_method("conversations.open")
def _conv_open(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    users = [u for u in str(p.get("users") or "").split(",") if u]
    if len(users) != 1:
        raise _ApiError("users_list_not_supplied" if not users else "not_supported")
    user = fake._user(team, users[0])
    return {"channel": {"id": "D" + user.id}}


@_method("conversations.history")
def _conv_history(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    """Newest first, like Slack; metadata is returned only with include_all_metadata."""
    channel_id = str(p.get("channel") or "")
    if _dm_info(team, channel_id) is None:
        fake._channel(team, channel_id)
    oldest = float(p.get("oldest") or 0)
    with_meta = str(p.get("include_all_metadata") or "").lower() in ("1", "true")
    found = []
    for (ch, ts), msg in fake._messages.items():
        if ch == channel_id and msg.team_id == team.id and float(ts) > oldest:
            api = msg.to_api()
            if not with_meta:
                api.pop("metadata", None)
            found.append(api)
    found.sort(key=lambda m: float(m["ts"]), reverse=True)
    limit = int(p.get("limit") or 100)
    return {"messages": found[:limit], "has_more": len(found) > limit}


@_method("users.conversations")
def _users_conversations(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    """Only the bot's DMs (types=im) are modelled: one per user it has messaged."""
    types = {t.strip() for t in str(p.get("types") or "public_channel").split(",")}
    ims = []
    if "im" in types:
        seen = {
            msg.dm_user for msg in fake._messages.values() if msg.team_id == team.id and msg.dm_user
        }
        ims = [{"id": "D" + u, "is_im": True, "user": u} for u in sorted(seen)]
    chunk, meta = _page(ims, p)
    return {"channels": chunk, "response_metadata": meta}


@_method("users.info")
def _users_info(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    return {"user": fake._user(team, p.get("user")).to_api()}


@_method("users.list")
def _users_list(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    chunk, meta = _page([u.to_api() for u in team.users.values()], p)
    return {"members": chunk, "response_metadata": meta, "cache_ts": int(time.time())}


@_method("users.lookupByEmail")
def _users_by_email(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    email = str(p.get("email") or "").lower()
    for user in team.users.values():
        if user.email and user.email.lower() == email:
            return {"user": user.to_api()}
    raise _ApiError("users_not_found")


@_method("views.open")
def _views_open(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    if not p.get("trigger_id") and not p.get("interactivity_pointer"):
        raise _ApiError("invalid_arguments")
    return {"view": fake._store_view(team, p.get("view"))}


@_method("views.push")
def _views_push(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    if not p.get("trigger_id") and not p.get("interactivity_pointer"):
        raise _ApiError("invalid_arguments")
    return {"view": fake._store_view(team, p.get("view"))}


@_method("views.update")
def _views_update(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    view_id = p.get("view_id")
    if not view_id and p.get("external_id"):
        view_id = next(
            (v["id"] for v in fake._views.values() if v.get("external_id") == p["external_id"]),
            None,
        )
    current = fake._views.get(str(view_id or ""))
    if current is None:
        raise _ApiError("not_found")
    if p.get("hash") and p["hash"] != current["hash"]:
        raise _ApiError("hash_conflict")
    return {"view": fake._store_view(team, p.get("view"), view_id=current["id"])}


@_method("views.publish")
def _views_publish(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    user = fake._user(team, p.get("user_id"))
    previous = fake._home_views.get(user.id)
    if previous and p.get("hash") and p["hash"] != previous["hash"]:
        raise _ApiError("hash_conflict")
    view = fake._store_view(team, p.get("view"), view_id=previous["id"] if previous else None)
    fake._home_views[user.id] = view
    return {"view": view}


@_method("files.getUploadURLExternal")
def _files_get_url(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    filename = p.get("filename")
    try:
        length = int(p.get("length"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise _ApiError("invalid_arguments") from exc
    if not filename or length < 0:
        raise _ApiError("invalid_arguments")
    file_id = fake._new_id("F")
    fake._files[file_id] = UploadedFile(
        file_id, team.id, str(filename), length, alt_txt=p.get("alt_txt") or None
    )
    return {"upload_url": f"{fake.base_url}/upload/{file_id}", "file_id": file_id}


@_method("files.completeUploadExternal")
def _files_complete(fake: FakeSlack, team: Team, p: dict[str, Any], h: Any) -> dict[str, Any]:
    entries = p.get("files")
    if not isinstance(entries, list) or not entries:
        raise _ApiError("invalid_arguments")
    uploads: list[tuple[UploadedFile, str | None]] = []
    for entry in entries:
        upload = fake._files.get(str(entry.get("id") if isinstance(entry, dict) else ""))
        if upload is None or upload.team_id != team.id or upload.data is None:
            raise _ApiError("file_not_found")
        uploads.append((upload, entry.get("title")))
    targets = [str(p["channel_id"])] if p.get("channel_id") else []
    targets += [c for c in str(p.get("channels") or "").split(",") if c]
    channels = [fake._resolve_post_target(team, target)[0] for target in targets]
    for upload, title in uploads:
        upload.title = title or upload.title or upload.filename
        upload.completed = True
        upload.initial_comment = p.get("initial_comment") or None
        upload.channels.extend(c for c in channels if c not in upload.channels)
    blocks = p.get("blocks") if isinstance(p.get("blocks"), list) else None
    for channel in channels:
        message = Message(
            channel=channel,
            ts=fake._next_ts(),
            team_id=team.id,
            text=str(p.get("initial_comment") or ""),
            blocks=None if p.get("initial_comment") else blocks,
            thread_ts=p.get("thread_ts") or None,
            user=team.bot_user_id,
            dm_user=channel[1:] if channel.startswith("D") else None,
            files=[u.id for u, _ in uploads],
        )
        fake._messages[(channel, message.ts)] = message
    return {"files": [fake._file_to_api(u) for u, _ in uploads]}


@_method("oauth.v2.access")
def _oauth_access(fake: FakeSlack, team: None, p: dict[str, Any], h: Any) -> dict[str, Any]:
    creds = _basic_auth(h) or (str(p.get("client_id") or ""), str(p.get("client_secret") or ""))
    if fake._client_credentials is not None:
        if creds[0] != fake._client_credentials[0]:
            raise _ApiError("invalid_client_id")
        if creds[1] != fake._client_credentials[1]:
            raise _ApiError("bad_client_secret")
    with fake._lock:
        if p.get("grant_type") == "refresh_token":
            return _oauth_refresh(fake, str(p.get("refresh_token") or ""))
        return _oauth_exchange(fake, str(p.get("code") or ""))


def _oauth_exchange(fake: FakeSlack, code: str) -> dict[str, Any]:
    grant = fake._oauth_codes.pop(code, None)
    if grant is None:
        raise _ApiError("invalid_code")
    if grant.enterprise_id:
        return _org_install(fake, grant)
    team = fake.add_team(grant.team_id, grant.token, grant.bot_user_id, name=grant.team_name)
    if grant.expires_in is not None:
        fake._tokens[grant.token].expires_at = fake.clock() + grant.expires_in
    out = _token_payload(fake, team, grant.token)
    out["authed_user"] = {"id": grant.installer_user_id}
    if grant.refresh_token:
        fake._refresh_tokens[grant.refresh_token] = (team.id, grant.token)
        out["refresh_token"] = grant.refresh_token
        out["expires_in"] = grant.expires_in if grant.expires_in is not None else 43200
    elif grant.expires_in is not None:
        out["expires_in"] = grant.expires_in
    return out


def _org_install(fake: FakeSlack, grant: _OAuthGrant) -> dict[str, Any]:
    """An organisation-wide install: one token for every workspace of the Grid org."""
    name, _teams = fake._enterprises[grant.enterprise_id]
    fake._tokens[grant.token] = _Token(team_id=None, enterprise_id=grant.enterprise_id)
    return {
        "access_token": grant.token,
        "token_type": "bot",
        "scope": DEFAULT_SCOPES,
        "bot_user_id": grant.bot_user_id,
        "app_id": fake.app_id,
        "team": None,
        "enterprise": {"id": grant.enterprise_id, "name": name},
        "is_enterprise_install": True,
        "authed_user": {"id": grant.installer_user_id},
    }


def _oauth_refresh(fake: FakeSlack, refresh_token: str) -> dict[str, Any]:
    """Rotate: new access + refresh token; the old refresh token dies now, the old
    access token dies as soon as the new one is first used."""
    found = fake._refresh_tokens.pop(refresh_token, None)
    if found is None:
        raise _ApiError("invalid_refresh_token")
    team_id, old_access = found
    n = next(fake._ids)
    new_access = f"xoxe.xoxb-{team_id}-{n}"
    new_refresh = f"xoxe-1-{team_id}-{n}"
    expires_in = 43200
    fake._tokens[new_access] = _Token(
        team_id, expires_at=fake.clock() + expires_in, replaces=old_access
    )
    fake._refresh_tokens[new_refresh] = (team_id, new_access)
    out = _token_payload(fake, fake._teams[team_id], new_access)
    out.update(refresh_token=new_refresh, expires_in=expires_in)
    return out


def _token_payload(fake: FakeSlack, team: Team, token: str) -> dict[str, Any]:
    return {
        "access_token": token,
        "token_type": "bot",
        "scope": DEFAULT_SCOPES,
        "bot_user_id": team.bot_user_id,
        "app_id": fake.app_id,
        "team": {"id": team.id, "name": team.name},
        "enterprise": None,
        "is_enterprise_install": False,
    }


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------


class _BadRequest(Exception):
    pass


class _Handler(FakeHandler):
    """Routes ``/api/<method>``, ``/upload/<file_id>`` and ``/response/<key>``."""

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError as exc:
            raise _BadRequest("bad Content-Length") from exc
        if length < 0 or length > MAX_BODY_BYTES:
            raise _BadRequest("bad Content-Length")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(line, 16)
            except ValueError as exc:
                raise _BadRequest("bad chunk") from exc
            if size == 0:
                self.rfile.readline(1024)
                return bytes(out)
            if len(out) + size > MAX_BODY_BYTES:
                raise _BadRequest("too large")
            out += self.rfile.read(size)
            self.rfile.readline(1024)

    def handle_request(self) -> None:
        fake = self.server.fake
        try:
            body = self._read_body()
            reply = self._route(fake, body)
        except _BadRequest as exc:
            self.close_connection = True
            reply = _json_reply(400, {"ok": False, "error": "invalid_request", "detail": str(exc)})
        except Exception:  # never let one bad request take the server down
            log.exception("fake slack: error handling %s %s", self.command, self.path)
            self.close_connection = True
            reply = _json_reply(500, {"ok": False, "error": "fake_slack_internal_error"})
        self.send_reply(reply.status, reply.body, reply.content_type, reply.headers)

    def _route(self, fake: FakeSlack, body: bytes) -> _Reply:
        url = urlsplit(self.path)
        path = url.path
        if path.startswith("/api/"):
            method = path[len("/api/") :].strip("/")
            fake._wait_before(method)
            return fake.handle_api(method, url.query, body, self.headers)
        if path.startswith("/upload/"):
            fake._wait_before("upload")
            return fake.handle_upload(path[len("/upload/") :], body, self.headers)
        if path.startswith("/response/"):
            fake._wait_before("response_url")
            return fake.handle_response_url(path[len("/response/") :], body)
        return _json_reply(404, {"ok": False, "error": "not_found"})


FakeSlack.handler = _Handler


# --------------------------------------------------------------------------------------
# Standalone use: python -m simulator.fake_slack --port 8999
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the fake until Ctrl-C, optionally with demo users and a channel."""
    parser = argparse.ArgumentParser(description="Fake Slack Web API for local tries")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--token", default="xoxb-test")
    parser.add_argument("--team-id", default="T0001")
    parser.add_argument("--users", type=int, default=10, help="demo users U0001..")
    parser.add_argument("--channel", default="C0LEADERS", help="demo channel with all users")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    fake = FakeSlack(team_id=args.team_id, bot_token=args.token, host=args.host, port=args.port)
    fake.latency = args.latency
    ids = [f"U{i:04d}" for i in range(1, args.users + 1)]
    for user_id in ids:
        fake.add_user(user_id, real_name=f"Dr {user_id}", email=f"{user_id.lower()}@example.org")
    if args.channel:
        fake.add_channel(args.channel, "leadership", ids)
    fake.start()
    print(f"fake Slack Web API at {fake.api_url} (token {args.token})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
