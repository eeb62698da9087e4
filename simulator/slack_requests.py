"""Send Slack-shaped, correctly signed HTTP requests to a running app.

Why: the design tests the running app end to end, so requests must be byte-for-byte what
Slack would send -- form-encoded slash commands, ``payload=<json>`` interactions, JSON
events -- signed with ``v0=hex(HMAC-SHA256(secret, "v0:{ts}:{raw body}"))``. Stdlib only
(urllib), because ``requests`` is not a runtime dependency and the demo uses this too.

Each sender method returns a :class:`Reply`; HTTP errors (401, 404, 500...) are replies,
not exceptions, because tests assert on them. Instances are safe to share across threads.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from simulator.fake_slack import bound_response_key

STALE_SECONDS = 600  # Slack apps reject timestamps older than 5 minutes
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def compute_signature(signing_secret: str, timestamp: int | str, body: bytes | str) -> str:
    """Slack's request signature for ``body`` sent at ``timestamp``."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


@dataclass(frozen=True)
class Reply:
    """What the app answered. ``response_url``/``trigger_id`` echo what was sent, so a test
    can look up ``fake.response_posts(reply.response_key)`` or the modal it opened."""

    status: int
    headers: dict[str, str]
    body_text: str
    response_url: str | None = None
    response_key: str | None = None
    trigger_id: str | None = None
    sent_body: bytes = field(default=b"", repr=False)

    def json(self) -> Any:
        """The body as JSON; None for an empty body (a bare Bolt ack)."""
        return json.loads(self.body_text) if self.body_text.strip() else None

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _text_state(value: Any) -> Any:
    """Turn a shorthand leaf into Slack's block-state element shape.

    str -> plain_text_input, list[str] -> multi_static_select, dict -> passed through.
    """
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list | tuple):
        options = [{"value": v, "text": {"type": "plain_text", "text": v}} for v in value]
        return {"type": "multi_static_select", "selected_options": options}
    return {"type": "plain_text_input", "value": value}


def view_state(values: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Build ``view.state.values`` ({block_id: {action_id: element state}}) from shorthand."""
    return {
        block_id: {action_id: _text_state(leaf) for action_id, leaf in actions.items()}
        for block_id, actions in values.items()
    }


class SlackSender:
    """Posts signed Slack requests to ``app_url`` (the app's ``/slack/events`` URL)."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        team_id: str = "T0001",
        api_app_id: str = "A0001",
        response_url_base: str | None = None,
        *,
        team_domain: str = "medpulse-test",
        bot_user_id: str = "UBOT",
        verification_token: str = "fake-verification-token",
        timeout: float = 10.0,
        enterprise_id: str | None = None,
        org_install: bool = False,
    ) -> None:
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.response_url_base = response_url_base.rstrip("/") if response_url_base else None
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.verification_token = verification_token
        self.timeout = timeout
        # Enterprise Grid: the organisation, and whether the app is installed org-wide.
        self.enterprise_id = enterprise_id
        self.org_install = org_install
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- identifiers

    def _next(self) -> int:
        with self._lock:
            return next(self._counter)

    def new_trigger_id(self) -> str:
        """A unique trigger id in Slack's ``digits.digits.hex`` style."""
        return f"{self._next()}.{int(time.time())}.{secrets.token_hex(8)}"

    def new_response_url(
        self, kind: str = "r", message: tuple[str, str] | None = None
    ) -> tuple[str, str]:
        """(url, key): a fresh response URL under ``response_url_base``.

        ``message`` (channel, ts) binds the URL to the clicked message, as Slack's are, so the
        fake can apply ``replace_original``. Without a base the URL uses the reserved
        ``.invalid`` domain so a stray POST fails fast instead of reaching the internet.
        """
        key = f"{kind}-{self._next()}-{secrets.token_hex(4)}"
        if message is not None:
            key = bound_response_key(key, *message)
        if self.response_url_base:
            return f"{self.response_url_base}/{key}", key
        return f"https://hooks.slack.invalid/commands/{self.team_id}/{key}", key

    def _response_url(
        self, given: str | None, kind: str, message: tuple[str, str] | None = None
    ) -> tuple[str, str | None]:
        if given is not None:
            return given, given.rstrip("/").rsplit("/", 1)[-1]
        return self.new_response_url(kind, message)

    # ---------------------------------------------------------------- Slack request kinds

    def slash(
        self,
        text: str,
        user_id: str,
        command: str = "/pulse",
        channel_id: str = "C0GENERAL",
        trigger_id: str | None = None,
        response_url: str | None = None,
        *,
        channel_name: str = "general",
        user_name: str | None = None,
    ) -> Reply:
        """A slash command, form-encoded with every field Slack sends."""
        url, key = self._response_url(response_url, "slash")
        trigger = trigger_id or self.new_trigger_id()
        fields = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "true" if self.org_install else "false",
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "response_url": url,
            "trigger_id": trigger,
        }
        body = urlencode(fields).encode()
        return self._post(body, FORM, response_url=url, response_key=key, trigger_id=trigger)

    def block_action(
        self,
        user_id: str,
        action_id: str,
        value: str,
        block_id: str = "b",
        message: Mapping[str, Any] | None = None,
        channel_id: str | None = None,
        container: Mapping[str, Any] | None = None,
        view: Mapping[str, Any] | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        *,
        action_type: str = "button",
        state_values: Mapping[str, Any] | None = None,
    ) -> Reply:
        """A ``block_actions`` interaction (a button click by default).

        ``message`` is the clicked message (needs ``ts``; e.g. ``fake.message(...).to_api()``);
        ``view`` the modal/home view for clicks inside one. Select-type actions
        (``action_type`` containing "select" or "radio") carry ``selected_option``.
        """
        channel_id = channel_id or (message or {}).get("channel")
        bound = (
            (channel_id, message["ts"]) if message and channel_id and message.get("ts") else None
        )
        url, key = self._response_url(response_url, "action", bound)
        trigger = trigger_id or self.new_trigger_id()
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": dict(container)
            if container
            else self._container(message, view, channel_id),
            "trigger_id": trigger,
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": self._enterprise(),
            "is_enterprise_install": self.org_install,
            "actions": [self._action(action_id, block_id, value, action_type)],
        }
        if message is not None:
            payload["message"] = dict(message)
            payload["state"] = {"values": view_state(state_values or {})}
        if channel_id:
            name = "directmessage" if channel_id.startswith("D") else channel_id.lower()
            payload["channel"] = {"id": channel_id, "name": name}
        if view is not None:
            payload["view"] = dict(view)
        if view is None or message is not None:
            payload["response_url"] = url
        return self._payload(payload, response_url=url, response_key=key, trigger_id=trigger)

    def view_submission(
        self,
        user_id: str,
        callback_id: str,
        state_values: Mapping[str, Any],
        private_metadata: str = "",
        view_id: str = "V1",
        *,
        trigger_id: str | None = None,
        blocks: list[Any] | None = None,
        response_url: str | None = None,
    ) -> Reply:
        """A modal submit. ``state_values`` is ``{block_id: {action_id: state}}`` where a
        state is Slack's dict, or shorthand (see :func:`view_state`). With
        ``response_url`` the payload carries ``response_urls`` (a modal with a
        conversation picker)."""
        trigger = trigger_id or self.new_trigger_id()
        view = self._view(view_id, callback_id, private_metadata, blocks)
        view["state"] = {"values": view_state(state_values)}
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": trigger,
            "view": view,
            "response_urls": [{"response_url": response_url}] if response_url else [],
            "enterprise": self._enterprise(),
            "is_enterprise_install": self.org_install,
        }
        return self._payload(payload, trigger_id=trigger)

    def view_closed(
        self,
        user_id: str,
        callback_id: str,
        private_metadata: str = "",
        view_id: str = "V1",
        *,
        is_cleared: bool = False,
    ) -> Reply:
        """The user dismissed a modal opened with ``notify_on_close``."""
        view = self._view(view_id, callback_id, private_metadata, None)
        view["state"] = {"values": {}}
        payload = {
            "type": "view_closed",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._user(user_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "view": view,
            "is_cleared": is_cleared,
            "enterprise": self._enterprise(),
            "is_enterprise_install": self.org_install,
        }
        return self._payload(payload)

    def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> Reply:
        """An Events API ``event_callback``. Reuse ``event_id`` with ``retry_num`` to act
        like Slack's redelivery (``X-Slack-Retry-Num``/``-Reason`` headers)."""
        now = int(time.time())
        inner = dict(event)
        inner.setdefault("event_ts", f"{time.time():.6f}")
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": inner,
            "type": "event_callback",
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "event_id": event_id or f"Ev{self._next():08d}{secrets.token_hex(3).upper()}",
            "event_time": now,
            "authorizations": [
                {
                    "enterprise_id": self.enterprise_id,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": self.org_install,
                }
            ],
            "is_ext_shared_channel": False,
        }
        extra: dict[str, str] = {}
        if retry_num is not None:
            extra["X-Slack-Retry-Num"] = str(retry_num)
            extra["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return self._post(json.dumps(envelope).encode(), JSON, extra_headers=extra)

    def app_home_opened(self, user_id: str, *, tab: str = "home") -> Reply:
        """Shortcut for the ``app_home_opened`` event."""
        return self.event(
            {"type": "app_home_opened", "user": user_id, "channel": "D" + user_id, "tab": tab}
        )

    def url_verification(self, challenge: str) -> Reply:
        """The handshake Slack sends when the Events URL is configured."""
        body = {
            "token": self.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        return self._post(json.dumps(body).encode(), JSON)

    def raw(
        self,
        body: bytes | str,
        content_type: str = FORM,
        timestamp: int | str | None = None,
        signature: str | None = None,
        sign: bool = True,
        *,
        stale: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Anything at all, for forged/stale/malformed-request tests.

        ``sign=False`` omits both signature headers; ``signature`` overrides the computed
        one; ``stale`` dates the request 10 minutes back (validly signed).
        """
        data = body.encode() if isinstance(body, str) else body
        return self._post(
            data,
            content_type,
            timestamp=timestamp,
            signature=signature,
            sign=sign,
            stale=stale,
            extra_headers=extra_headers,
        )

    # ---------------------------------------------------------------- building blocks

    def _enterprise(self) -> dict[str, str] | None:
        return (
            {"id": self.enterprise_id, "name": self.enterprise_id.lower()}
            if self.enterprise_id
            else None
        )

    def _user(self, user_id: str) -> dict[str, str]:
        name = user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    @staticmethod
    def _action(action_id: str, block_id: str, value: str, action_type: str) -> dict[str, Any]:
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id,
            "type": action_type,
            "action_ts": f"{time.time():.6f}",
        }
        if "select" in action_type or "radio" in action_type:
            action["selected_option"] = {
                "value": value,
                "text": {"type": "plain_text", "text": value},
            }
        else:
            action["value"] = value
            action["text"] = {"type": "plain_text", "text": value}
        return action

    @staticmethod
    def _container(
        message: Mapping[str, Any] | None, view: Mapping[str, Any] | None, channel_id: str | None
    ) -> dict[str, Any]:
        if message is not None:
            return {
                "type": "message",
                "message_ts": message.get("ts"),
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
        if view is not None:
            return {"type": "view", "view_id": view.get("id")}
        return {"type": "message", "channel_id": channel_id, "is_ephemeral": False}

    def _view(
        self, view_id: str, callback_id: str, private_metadata: str, blocks: list[Any] | None
    ) -> dict[str, Any]:
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": blocks or [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": {"type": "plain_text", "text": "medpulse"},
            "clear_on_close": False,
            "notify_on_close": False,
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": "B" + self.team_id.lstrip("T"),
        }

    def _payload(self, payload: Mapping[str, Any], **reply_extra: Any) -> Reply:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self._post(body, FORM, **reply_extra)

    def signed_headers(self, body: bytes, timestamp: int | str | None = None) -> dict[str, str]:
        """The two signature headers Slack would attach to ``body``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": compute_signature(self.signing_secret, ts, body),
        }

    def _post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | str | None = None,
        signature: str | None = None,
        sign: bool = True,
        stale: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        response_url: str | None = None,
        response_key: str | None = None,
        trigger_id: str | None = None,
    ) -> Reply:
        headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
        if sign:
            if timestamp is None:
                timestamp = int(time.time()) - (STALE_SECONDS if stale else 0)
            headers.update(self.signed_headers(body, timestamp))
            if signature is not None:
                headers["X-Slack-Signature"] = signature
        headers.update(extra_headers or {})
        request = urllib.request.Request(self.app_url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                status, resp_headers, raw = resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            status, resp_headers, raw = err.code, dict(err.headers.items()), err.read()
        return Reply(
            status=status,
            headers=resp_headers,
            body_text=raw.decode("utf-8", "replace"),
            response_url=response_url,
            response_key=response_key,
            trigger_id=trigger_id,
            sent_body=body,
        )
