"""Outbound: a synchronous Bot Connector client with Teams' retry rules.

medpulse is synchronous and threaded (waitress, APScheduler, its own outbox and limiter) and
needs six REST calls, so this is a thin client over ``requests`` rather than an asyncio SDK:
a client-credentials token (scope ``https://api.botframework.com/.default``, single tenant,
cached until shortly before it expires), then create a 1:1 conversation, send, update and
delete an activity, list a team's members page by page, and read one member.

Retries: ``429``, ``412``, ``502``, ``503`` and ``504`` are retried with exponential backoff
and jitter; a ``Retry-After`` header is honoured (plus a little jitter so that many sending
threads do not return at the same instant). ``403`` with ``MessageWritesBlocked`` (or
``ConversationBlockedByUser``) means the doctor blocked the app: ``Undeliverable``, never
retried. ``413`` is ``TooBig``, never retried. A ``401`` refreshes the token once.

Duplicate DMs, and why sends are not always retried
----------------------------------------------------
Slack lets medpulse look for its own DM (a metadata tag) before sending again after a failure
whose outcome is unknown. The Bot Connector has no call to read a sent message back, and
Teams ignores a client-chosen activity ID (the service assigns IDs), so neither a read-back
nor an idempotency key can tell "it landed and the reply was lost" from "it never landed".
The design here is **send at most once; when in doubt, say so**:

* Calls that are safe to repeat are retried on every retryable status and on timeouts:
  creating a 1:1 conversation (Teams returns the same conversation for the same user),
  updating an activity (a PUT of the same card), deleting one (a 404 on a repeat is success),
  and reading members.
* A send is repeated only when Teams certainly did not act on it: ``429`` (throttled),
  ``412`` (precondition failed) and ``503`` (unavailable) are refusals made before any
  effect, and a connection that was never opened carried nothing. After ``502``, ``504``,
  another ``5xx``, a read timeout or a connection broken mid-request the message may have
  been posted: the send raises ``DeliveryUncertain`` and is **not** repeated, here or later.

The outbox (the core's; see the report to issue 15) keeps one row per doctor and round and
marks it *sending* before the call, so a process killed mid-call also ends *uncertain*, not
*pending*. An uncertain row is never sent again automatically; the round's one reminder,
which goes to everyone who has not answered, carries the pulse card itself, so a doctor whose
first DM was lost can still answer, and one whose first DM did land sees what any
non-responder sees. The price: in the rare ambiguous case a doctor may get the card twice
(pulse and reminder), never the pulse twice; and ``send_once`` reports how many were
uncertain so the benchmark can count them.

Rejected alternatives: retrying sends on ``502``/``504``/timeouts (duplicates whenever the
reply, not the request, was lost: the SDKs' behaviour, which is what Slack's read-back
avoids); a client-generated activity ID (Teams does not honour it, and a fake that did would
make the tests lie); reading chat history through Microsoft Graph (needs ``Chat.Read.All``
with admin consent, which NHSmail trusts rarely get).
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import NewConnectionError

from integrations.msteams.config import TOKEN_SCOPE, TeamsConfig

log = logging.getLogger("medpulse.msteams.connector")

RETRYABLE = frozenset({429, 412, 502, 503, 504})
REFUSALS = frozenset({429, 412, 503})  # Teams did not act: any call may be repeated
BLOCKED = frozenset({"MessageWritesBlocked", "ConversationBlockedByUser"})
DEFAULT_TIMEOUT = (3.05, 20.0)


class ConnectorError(Exception):
    """A Bot Connector call failed for good; ``status`` 0 means no HTTP reply at all."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{status} {code}: {message}".strip())
        self.status = status
        self.code = code
        self.message = message
        self.retry_after: float | None = None


class Undeliverable(ConnectorError):
    """The doctor blocked or removed the app (403 MessageWritesBlocked): never retried."""


class TooBig(ConnectorError):
    """413 MessageSizeTooBig: the message must be made smaller, not retried."""


class DeliveryUncertain(ConnectorError):
    """A send that may or may not have been posted: never to be repeated automatically."""


class GaveUp(ConnectorError):
    """Every attempt was refused (429/412/503 or no connection): certainly not posted."""


class TokenError(ConnectorError):
    """No access token: wrong app ID, password or tenant, or the token endpoint is down."""


def _now() -> float:
    return time.time()


class TokenSource:
    """Client-credentials tokens from the app's own tenant, cached until near expiry."""

    def __init__(
        self,
        app_id: str,
        password: str,
        token_url: str,
        *,
        scope: str = TOKEN_SCOPE,
        timeout: float = 10.0,
        clock: Callable[[], float] = _now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app_id, self.password, self.token_url, self.scope = app_id, password, token_url, scope
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.fetches = 0

    @classmethod
    def from_config(cls, config: TeamsConfig, **kwargs: Any) -> TokenSource:
        return cls(config.app_id, config.app_password, config.resolved_token_url, **kwargs)

    def get(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (a 401 said it no longer works) unless it was replaced already."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self.password,
            "scope": self.scope,
        }
        for attempt in range(3):
            try:
                resp = requests.post(self.token_url, data=form, timeout=self.timeout)
            except requests.RequestException as exc:
                last = TokenError(0, "unreachable", str(exc))
            else:
                if resp.status_code == 200:
                    return self._keep(resp)
                last = TokenError(resp.status_code, _oauth_error(resp), "token request refused")
                if resp.status_code not in RETRYABLE and resp.status_code < 500:
                    raise last
            self.sleep(0.5 * 2**attempt)
        raise last

    def _keep(self, resp: requests.Response) -> None:
        try:
            body = resp.json()
            token, lifetime = str(body["access_token"]), float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise TokenError(200, "malformed", "the token endpoint's reply made no sense") from None
        margin = min(300.0, lifetime / 2)
        self._token, self._expires = token, self.clock() + lifetime - margin
        self.fetches += 1


def _oauth_error(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("error") or "error")
    except ValueError:
        return "error"


@dataclass(frozen=True)
class Member:
    """A team member as the roster call returns them (identity data: never onto answers)."""

    id: str
    aad_object_id: str | None
    name: str | None
    email: str | None
    role: str | None = None  # Teams' userRole: "user", or "guest" for another organisation's
    tenant_id: str | None = None


class Outcome(enum.Enum):
    """What became of one send, for the outbox row."""

    SENT = "sent"
    UNCERTAIN = "uncertain"  # may have landed: never resend; the reminder carries the card
    UNDELIVERABLE = "undeliverable"  # blocked or uninstalled: stop trying this doctor
    NOT_SENT = "not_sent"  # certainly not posted (refused every time): safe to try later
    TOO_BIG = "too_big"  # a bug in the card, not the doctor: fix and try later


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    activity_id: str | None = None
    detail: str = ""


class BotConnector:
    """The Bot Connector calls medpulse makes, synchronous and thread-safe."""

    def __init__(
        self,
        tokens: TokenSource,
        *,
        app_id: str,
        tenant_id: str,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        before_request: Callable[[], None] | None = None,
        on_throttled: Callable[[float], None] | None = None,
    ) -> None:
        self.tokens = tokens
        self.app_id = app_id
        self.tenant_id = tenant_id
        self.timeout = timeout
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.before_request = before_request  # the core's per-tenant limiter, when it has one
        self.on_throttled = on_throttled  # ... and its feedback on a 429
        self._local = threading.local()

    # ------------------------------------------------------------ the calls

    def create_personal_conversation(self, service_url: str, user_id: str) -> str:
        """The 1:1 conversation with ``user_id`` (``29:…``); Teams returns the same one each
        time, so this is safe to repeat."""
        body = {
            "bot": {"id": f"28:{self.app_id}"},
            "members": [{"id": user_id}],
            "channelData": {"tenant": {"id": self.tenant_id}},
            "tenantId": self.tenant_id,
            "isGroup": False,
        }
        reply = self._call("POST", service_url, "v3/conversations", body, repeatable=True)
        return _id_of(reply)

    def send(self, service_url: str, conversation_id: str, activity: dict[str, Any]) -> str:
        """Post ``activity``; its new ID. Repeated only when Teams certainly did not act."""
        path = f"v3/conversations/{_seg(conversation_id)}/activities"
        return _id_of(self._call("POST", service_url, path, activity, repeatable=False))

    def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> None:
        path = f"v3/conversations/{_seg(conversation_id)}/activities/{_seg(activity_id)}"
        self._call("PUT", service_url, path, {**activity, "id": activity_id}, repeatable=True)

    def delete(self, service_url: str, conversation_id: str, activity_id: str) -> None:
        path = f"v3/conversations/{_seg(conversation_id)}/activities/{_seg(activity_id)}"
        try:
            self._call("DELETE", service_url, path, None, repeatable=True)
        except ConnectorError as exc:
            if exc.status != 404:  # already gone, perhaps by our own earlier attempt
                raise

    def members(self, service_url: str, team_id: str, page_size: int = 100) -> Iterator[Member]:
        """Every member of a team, one page (``pageSize`` up to 500) per call."""
        token: str | None = None
        while True:
            params: dict[str, Any] = {"pageSize": page_size}
            if token:
                params["continuationToken"] = token
            path = f"v3/conversations/{_seg(team_id)}/pagedmembers"
            page = self._call("GET", service_url, path, None, repeatable=True, params=params)
            for raw in page.get("members") or []:
                if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                    yield Member(raw["id"], raw.get("aadObjectId"), raw.get("name"), _email(raw))
            token = page.get("continuationToken")
            if not token:
                return

    def member(self, service_url: str, conversation_id: str, user_id: str) -> Member:
        """One member of a conversation (a team, a chat), by their ``29:`` ID: who a mention
        names, with the Entra ID object ID roles are kept by. Safe to repeat."""
        path = f"v3/conversations/{_seg(conversation_id)}/members/{_seg(user_id)}"
        raw = self._call("GET", service_url, path, None, repeatable=True)
        if not isinstance(raw.get("id"), str):
            raise ConnectorError(200, "no_id", "the Bot Connector returned no member")
        return Member(
            raw["id"],
            _opt(raw.get("aadObjectId")),
            _opt(raw.get("name")),
            _email(raw),
            _opt(raw.get("userRole")),
            _opt(raw.get("tenantId")),
        )

    def send_once(
        self, service_url: str, conversation_id: str, activity: dict[str, Any]
    ) -> SendResult:
        """``send`` with every ending named, for an outbox row (see the module docstring)."""
        try:
            return SendResult(Outcome.SENT, self.send(service_url, conversation_id, activity))
        except DeliveryUncertain as exc:
            return SendResult(Outcome.UNCERTAIN, detail=str(exc))
        except Undeliverable as exc:
            return SendResult(Outcome.UNDELIVERABLE, detail=str(exc))
        except TooBig as exc:
            return SendResult(Outcome.TOO_BIG, detail=str(exc))
        except (GaveUp, TokenError) as exc:
            return SendResult(Outcome.NOT_SENT, detail=str(exc))

    # ------------------------------------------------------------ retries

    def _call(
        self,
        method: str,
        service_url: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        repeatable: bool,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        url = service_url.rstrip("/") + "/" + path
        refreshed = False
        last: ConnectorError = GaveUp(0, "no attempt")
        wait = 0.0
        for attempt in range(self.attempts):
            if wait:
                self.sleep(wait)
            if self.before_request:
                self.before_request()
            token = self.tokens.get()
            try:
                resp = self._session().request(
                    method,
                    url,
                    json=body,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                if not (repeatable or _never_sent(exc)):
                    raise DeliveryUncertain(0, type(exc).__name__, str(exc)) from None
                last = GaveUp(0, type(exc).__name__, str(exc))
                wait = self._delay(attempt, None)
                continue
            status = resp.status_code
            if 200 <= status < 300:
                return _json(resp)
            code, message = _error(resp)
            if status == 401 and not refreshed:
                self.tokens.invalidate(token)
                refreshed, wait = True, 0.0
                last = GaveUp(401, code, "token refused after a refresh")
                continue
            _raise_final(status, code, message, repeatable)
            last = GaveUp(status, code, message)
            last.retry_after = _retry_after(resp)
            if status == 429 and self.on_throttled:
                self.on_throttled(last.retry_after or 1.0)
            wait = self._delay(attempt, last.retry_after)
        raise last

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with equal jitter; at least ``Retry-After`` when given."""
        if retry_after is not None:
            return min(self.max_delay, retry_after) + self.rng.uniform(0, self.base_delay)
        cap = min(self.max_delay, self.base_delay * 2**attempt)
        return cap / 2 + self.rng.uniform(0, cap / 2)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session


def _raise_final(status: int, code: str, message: str, repeatable: bool) -> None:
    """Raise unless ``status`` may be retried for this kind of call."""
    if status == 403 and code in BLOCKED:
        raise Undeliverable(status, code, message)
    if status == 413:
        raise TooBig(status, code, message)
    if status in REFUSALS or (repeatable and status in RETRYABLE):
        return
    if status >= 500 and not repeatable:
        raise DeliveryUncertain(status, code, message)
    raise ConnectorError(status, code, message)


def _error(resp: requests.Response) -> tuple[str, str]:
    """Teams' error code (a ``subCode`` such as MessageWritesBlocked wins) and message."""
    try:
        body = resp.json()
    except ValueError:
        return resp.reason or "error", ""
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    sub = err.get("subCode") or (body.get("subCode") if isinstance(body, dict) else None)
    code = sub if isinstance(sub, str) and sub else err.get("code")
    return str(code or resp.reason or "error"), str(err.get("message") or "")


def _retry_after(resp: requests.Response) -> float | None:
    raw = resp.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached Teams (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def _json(resp: requests.Response) -> dict[str, Any]:
    if not resp.content:
        return {}
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _id_of(reply: dict[str, Any]) -> str:
    value = reply.get("id")
    if not isinstance(value, str) or not value:
        raise ConnectorError(200, "no_id", "the Bot Connector returned no id")
    return value


def _email(raw: dict[str, Any]) -> str | None:
    value = raw.get("email") or raw.get("userPrincipalName")
    return value if isinstance(value, str) else None


def _opt(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _seg(value: str) -> str:
    """One path segment: Teams IDs hold ':', '@' and ';'."""
    return quote(value, safe="")
