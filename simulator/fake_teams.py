"""A fake Microsoft Teams Bot Connector served over real HTTP on 127.0.0.1.

It plays both sides that a Teams bot meets, so tests drive real HTTP and real JWTs:

* **Microsoft, towards the bot**: OpenID metadata and a JWKS (an RSA key with ``kid`` and
  ``endorsements: ["msteams"]``, a second key endorsed only for ``webchat``), and helpers that
  build activities (messages, ``adaptiveCard/action`` invokes, installs, uninstalls, roster
  changes) and post them, correctly signed or forged in a chosen way, to a bot's
  ``/api/messages``.
* **The Bot Connector, for the bot**: the client-credentials token endpoint, and
  ``{serviceUrl}v3/conversations`` (create a 1:1), ``…/activities`` (send), ``…/activities/{id}``
  (update, delete), ``…/pagedmembers`` and ``…/members/{id}`` (one member, by ``29:`` ID or
  Entra ID object ID); every call is recorded in ``calls``.

Fault injection: ``latency`` (all calls) and ``op_latency``; ``fail_next(op, status)`` for
429 (with ``Retry-After``), 412, 502, 503, 504, 500, before the effect or, with
``after_effect=True``, after it (the message is stored and only the reply is lost, which is
what makes a resend a duplicate), or a random fraction of calls with ``error_rate``; ``stall_next(op, seconds)`` applies the effect and answers
late (a client timeout); ``block(user)`` gives ``403`` with ``MessageWritesBlocked``; a message
over 100 KB (images aside) gets ``413 MessageSizeTooBig``; ``rate_limit(per_second)`` throttles
the tenant with 429s.

Ops, as named in ``calls`` and fault methods: ``token``, ``create_conversation``, ``send``,
``update``, ``delete``, ``members``, ``member``, plus ``openid`` and ``keys``.

Like ``simulator/fake_slack.py`` it ships in the simulator so that a Teams demo can use it too; it
imports PyJWT and ``cryptography`` (product dependencies) and the standard library. Its server,
latency, holds and fault queues are ``simulator/local_http.py``'s, shared with the fake Slack.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import math
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from simulator.local_http import FakeHandler, Faults, LocalHttpFake, TokenBucket

log = logging.getLogger(__name__)

ISSUER = "https://api.botframework.com"
MAX_MESSAGE_BYTES = 100 * 1024
MAX_IMAGE_BYTES = 1024 * 1024
_DATA_URI = re.compile(r'"data:image/[a-z.+-]+;base64,[A-Za-z0-9+/=]*"')
_FAULT_CODES = {
    412: "PreconditionFailed",
    429: "Throttled",
    500: "ServiceError",
    502: "ServiceError",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


# --------------------------------------------------------------------------------------
# What tests look at
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request to the fake: ``effect`` says whether state changed (even when a fault hid
    the success from the client)."""

    op: str
    method: str
    path: str
    status: int
    effect: bool
    body: Any
    time: float


@dataclass
class TeamsUser:
    id: str
    aad_object_id: str
    name: str
    email: str
    guest: bool = False  # from another organisation, invited into a team (Teams' userRole)

    def to_api(self, tenant_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "email": self.email,
            "userPrincipalName": self.email,
            "tenantId": tenant_id,
            "userRole": "guest" if self.guest else "user",
        }

    def account(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id}


@dataclass
class FakeTeam:
    id: str
    name: str
    members: list[str]
    installed: bool = False


@dataclass
class SentActivity:
    """The latest state of an activity the bot posted (updates edit it in place)."""

    id: str
    conversation_id: str
    payload: dict[str, Any]
    edits: int = 0
    deleted: bool = False


@dataclass
class Conversation:
    id: str
    kind: str  # "personal" or "channel"
    user_id: str | None = None
    team_id: str | None = None
    activities: dict[str, SentActivity] = field(default_factory=dict)


@dataclass
class _Fault:
    status: int
    retry_after: int
    after_effect: bool
    stall: float = 0.0


@dataclass
class _Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    effect: bool = False
    stall: float = 0.0  # answer only after this many seconds (recorded first)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(private: rsa.RSAPrivateKey, kid: str, endorsements: list[str]) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return {**public, "kid": kid, "use": "sig", "endorsements": endorsements}


# --------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------


class FakeTeams(LocalHttpFake):
    """A fake Teams tenant, Microsoft's login and the Bot Connector, on one local server.

    Thread-safe: state sits behind one lock; latency, holds and stalls wait outside it. The
    server, start/stop, latency and holds are simulator.local_http's, shared with the fake Slack.
    """

    name = "fake teams"

    def __init__(
        self,
        *,
        app_id: str = "8c1f6c6e-0000-4000-8000-00000000a11d",
        app_password: str = "fake-teams-password",
        tenant_id: str = "2f0c5a3e-0000-4000-8000-0000000000e1",
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime: int = 3599,
    ) -> None:
        self.app_id = app_id
        self.app_password = app_password
        self.tenant_id = tenant_id
        self._init_server(host, port)
        self.token_lifetime = token_lifetime
        self.op_latency: dict[str, float] = {}
        self._lock = threading.RLock()
        self.calls: list[Call] = []
        self.users: dict[str, TeamsUser] = {}
        self.teams: dict[str, FakeTeam] = {}
        self.conversations: dict[str, Conversation] = {}
        self._personal_installs: set[str] = set()
        self._blocked: set[str] = set()
        self._access_tokens: dict[str, float] = {}  # token -> expiry (time.time)
        self._faults: Faults[_Fault] = Faults()
        self._bucket: TokenBucket | None = None
        self._ids = itertools.count(1)
        self._activity_ids = itertools.count(1_700_000_000_001)
        self.kid = "fake-key-1"
        self._keys: dict[str, tuple[rsa.RSAPrivateKey, list[str]]] = {
            self.kid: (_new_key(), ["msteams", "skype"]),
            "fake-webchat-key": (_new_key(), ["webchat"]),
        }
        self._forged = _new_key()  # never published

    # ------------------------------------------------------------ lifecycle and URLs

    def __enter__(self) -> FakeTeams:
        return self.start()

    @property
    def openid_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    @property
    def token_url(self) -> str:
        """With ``{tenant}`` left in, as ``TEAMS_TOKEN_URL`` takes it."""
        return f"{self.base_url}/{{tenant}}/oauth2/v2.0/token"

    @property
    def service_url(self) -> str:
        return f"{self.base_url}/teams/"

    def env(self) -> dict[str, str]:
        """The ``TEAMS_*`` settings that point a bot at this fake."""
        return {
            "TEAMS_APP_ID": self.app_id,
            "TEAMS_APP_PASSWORD": self.app_password,
            "TEAMS_TENANT_ID": self.tenant_id,
            "TEAMS_OPENID_URL": self.openid_url,
            "TEAMS_TOKEN_URL": self.token_url,
        }

    # ------------------------------------------------------------ directory

    def add_user(self, name: str | None = None, guest: bool = False) -> TeamsUser:
        with self._lock:
            n = next(self._ids)
            user = TeamsUser(
                id=f"29:1fake{n:06d}{secrets.token_hex(8)}",
                aad_object_id=str(uuid.uuid4()),
                name=name or f"Dr Fake {n}",
                email=f"doctor{n}@nhs.example",
                guest=guest,
            )
            self.users[user.id] = user
            return user

    def add_team(self, name: str, members: list[TeamsUser], installed: bool = False) -> FakeTeam:
        with self._lock:
            team = FakeTeam(
                id=f"19:{secrets.token_hex(16)}@thread.tacv2",
                name=name,
                members=[m.id for m in members],
                installed=installed,
            )
            self.teams[team.id] = team
            return team

    def install(self, team: FakeTeam) -> None:
        with self._lock:
            team.installed = True

    def install_personal(self, user: TeamsUser) -> None:
        with self._lock:
            self._personal_installs.add(user.id)

    def block(self, user: TeamsUser) -> None:
        """The doctor blocked the app: sends to their 1:1 get 403 MessageWritesBlocked."""
        with self._lock:
            self._blocked.add(user.id)

    # ------------------------------------------------------------ faults

    def fail_next(
        self,
        op: str,
        status: int = 503,
        count: int = 1,
        retry_after: int = 1,
        *,
        after_effect=False,
    ) -> None:
        """Fail the next ``count`` calls to ``op`` ("*" = any) with ``status``."""
        with self._lock:
            self._faults.fail_next(
                op, _Fault(status, max(0, int(retry_after)), after_effect), count
            )

    def error_rate(
        self, op: str, status: int, rate: float, *, seed: int = 0, after_effect: bool = False
    ) -> None:
        """Fail a random fraction of calls to ``op`` ("*" = any); rate 0 removes. Reproducible
        for a seed and a call order."""
        with self._lock:
            self._faults.error_rate(op, rate, _Fault(status, 1, after_effect), seed)

    def stall_next(self, op: str, seconds: float, count: int = 1) -> None:
        """Apply the next ``count`` calls' effect, then answer only after ``seconds``."""
        with self._lock:
            self._faults.fail_next(op, _Fault(200, 0, True, stall=seconds), count)

    def rate_limit(self, per_second: float | None, burst: float | None = None) -> None:
        """A tenant-wide token bucket over the connector calls; None removes it."""
        with self._lock:
            self._bucket = (
                None if per_second is None else TokenBucket(per_second, burst or per_second)
            )

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (401)."""
        with self._lock:
            self._access_tokens.clear()

    def rotate_key(self) -> str:
        """Publish a new Teams signing key and retire the old one; returns the new kid."""
        with self._lock:
            old = self.kid
            self.kid = f"fake-key-{secrets.token_hex(4)}"
            self._keys[self.kid] = (_new_key(), ["msteams", "skype"])
            del self._keys[old]
            return self.kid

    # ------------------------------------------------------------ what was sent

    def ops(self, op: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.op == op]

    def personal_conversation(self, user: TeamsUser) -> Conversation | None:
        with self._lock:
            return next(
                (c for c in self.conversations.values() if c.user_id == user.id),
                None,
            )

    def messages_to(self, user: TeamsUser) -> list[SentActivity]:
        """Activities (not deleted) in the user's 1:1 with the bot, oldest first."""
        conv = self.personal_conversation(user)
        if conv is None:
            return []
        with self._lock:
            return [a for a in conv.activities.values() if not a.deleted]

    def channel_messages(self, team: FakeTeam) -> list[SentActivity]:
        with self._lock:
            conv = self.conversations.get(team.id)
            return [] if conv is None else [a for a in conv.activities.values() if not a.deleted]

    # ------------------------------------------------------------ tokens towards the bot

    def token(
        self,
        *,
        aud: str | None = None,
        iss: str = ISSUER,
        serviceurl: str | None = None,
        expires_in: int = 3600,
        not_before: int = -60,
        key: str = "teams",
        kid: str | None = None,
        alg: str = "RS256",
        drop: tuple[str, ...] = (),
        now: float | None = None,
    ) -> str:
        """A Bot Framework JWT as Teams sends it, or a chosen forgery.

        ``key``: ``"teams"`` (the published key endorsed for msteams), ``"webchat"`` (published,
        endorsed only for webchat), ``"forged"`` (never published; its kid claims to be the
        Teams key unless ``kid`` says otherwise). ``drop`` removes claims.
        """
        now = time.time() if now is None else now
        claims: dict[str, Any] = {
            "iss": iss,
            "aud": self.app_id if aud is None else aud,
            "serviceurl": self.service_url if serviceurl is None else serviceurl,
            "nbf": int(now + not_before),
            "exp": int(now + expires_in),
            "iat": int(now + not_before),
        }
        for name in drop:
            claims.pop(name, None)
        with self._lock:
            if key == "teams":
                private, key_id = self._keys[self.kid][0], self.kid
            elif key == "webchat":
                private, key_id = self._keys["fake-webchat-key"][0], "fake-webchat-key"
            elif key == "forged":
                private, key_id = self._forged, self.kid
            else:
                raise ValueError(f"unknown key {key!r}")
        headers = {"kid": kid or key_id}
        if alg == "HS256":  # the classic confusion attack: the public key as an HMAC secret
            return jwt.encode(claims, b"not-the-key-" * 3, algorithm="HS256", headers=headers)
        return jwt.encode(claims, private, algorithm=alg, headers=headers)

    # ------------------------------------------------------------ activities towards the bot

    def _base_activity(self, kind: str, conversation: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": kind,
            "id": f"f:{next(self._ids)}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "recipient": {"id": f"28:{self.app_id}", "name": "medpulse"},
            "conversation": {"tenantId": self.tenant_id, **conversation},
            "channelData": {"tenant": {"id": self.tenant_id}},
        }

    def _personal(self, user: TeamsUser) -> dict[str, Any]:
        """The user's 1:1 with the bot: someone who writes to the bot has one (Teams makes it
        when they open the chat), so it exists from their first activity on."""
        conv = self.personal_conversation(user)
        if conv is None:
            with self._lock:
                conv = Conversation(id=f"a:1{secrets.token_hex(16)}", kind="personal")
                conv.user_id = user.id
                self.conversations[conv.id] = conv
        return {"id": conv.id, "conversationType": "personal"}

    def message(
        self,
        user: TeamsUser,
        text: str,
        team: FakeTeam | None = None,
        mentions: tuple[TeamsUser, ...] = (),
    ) -> dict:
        """A message in the user's 1:1, or (``team``) a channel message @mentioning the bot.
        ``mentions``: people @mentioned in ``text`` as ``<at>Name</at>``, each with the
        ``mention`` entity Teams adds (``mentioned`` holds their ``29:`` ID and name only)."""
        entities: list[dict[str, Any]] = []
        if team is None:
            act = self._base_activity("message", self._personal(user))
        else:
            text = f"<at>medpulse</at> {text}"
            act = self._base_activity(
                "message", {"id": team.id, "conversationType": "channel", "isGroup": True}
            )
            self._in_team(act, team)
            entities.append(
                {"type": "mention", "text": "<at>medpulse</at>", "mentioned": act["recipient"]}
            )
        for person in mentions:
            entities.append(
                {
                    "type": "mention",
                    "text": f"<at>{person.name}</at>",
                    "mentioned": {"id": person.id, "name": person.name},
                }
            )
        if entities:
            act["entities"] = entities
        act.update({"from": user.account(), "text": text, "textFormat": "plain"})
        return act

    @staticmethod
    def _in_team(act: dict[str, Any], team: FakeTeam) -> None:
        act["channelData"]["team"] = {"id": team.id, "name": team.name}

    def task_fetch(
        self, user: TeamsUser, data: dict[str, Any] | Any, team: FakeTeam | None = None
    ) -> dict:
        """A click on a card's ``Action.Submit`` whose data asks for a dialog (``task/fetch``)."""
        return self._task("task/fetch", user, data, team)

    def task_submit(
        self, user: TeamsUser, data: dict[str, Any] | Any, team: FakeTeam | None = None
    ) -> dict:
        """A dialog's form sent (``task/submit``): ``data`` is the inputs merged with the
        submit button's data, as Teams sends them (every value a string)."""
        return self._task("task/submit", user, data, team)

    def _task(self, name: str, user: TeamsUser, data: Any, team: FakeTeam | None) -> dict:
        if team is None:
            act = self._base_activity("invoke", self._personal(user))
        else:
            act = self._base_activity(
                "invoke", {"id": team.id, "conversationType": "channel", "isGroup": True}
            )
            self._in_team(act, team)
        act.update(
            {
                "from": user.account(),
                "name": name,
                "value": {"data": data, "context": {"theme": "default"}},
            }
        )
        return act

    def card_action(
        self, user: TeamsUser, verb: str, data: dict[str, Any], reply_to: str | None = None
    ) -> dict:
        """A tap on an ``Action.Execute`` (inputs, such as a comment, already merged in data)."""
        act = self._base_activity("invoke", self._personal(user))
        act.update(
            {
                "from": user.account(),
                "name": "adaptiveCard/action",
                "value": {
                    "action": {"type": "Action.Execute", "verb": verb, "data": data},
                    "trigger": "manual",
                },
            }
        )
        if reply_to:
            act["replyToId"] = reply_to
        return act

    def _team_update(self, team: FakeTeam, by: TeamsUser | None) -> dict:
        act = self._base_activity(
            "conversationUpdate", {"id": team.id, "conversationType": "channel", "isGroup": True}
        )
        act["channelData"]["team"] = {"id": team.id, "name": team.name}
        if by is not None:
            act["from"] = by.account()
        return act

    def installed_activity(self, team: FakeTeam, by: TeamsUser | None = None) -> dict:
        """The bot added to a team (Teams' conversationUpdate with the bot in membersAdded)."""
        act = self._team_update(team, by)
        act["membersAdded"] = [{"id": act["recipient"]["id"]}]
        act["channelData"]["eventType"] = "teamMemberAdded"
        return act

    def uninstalled_activity(self, team: FakeTeam, by: TeamsUser | None = None) -> dict:
        act = self._team_update(team, by)
        act["membersRemoved"] = [{"id": act["recipient"]["id"]}]
        act["channelData"]["eventType"] = "teamMemberRemoved"
        return act

    def members_added_activity(self, team: FakeTeam, users: list[TeamsUser]) -> dict:
        act = self._team_update(team, None)
        act["membersAdded"] = [u.account() for u in users]
        act["channelData"]["eventType"] = "teamMemberAdded"
        return act

    def post(
        self,
        url: str,
        activity: dict[str, Any] | bytes,
        *,
        authorization: str | None = None,
        timeout: float = 30,
        **token_args: Any,
    ) -> requests.Response:
        """POST an activity to a bot as Teams does. The token comes from ``token(**token_args)``
        unless ``authorization`` gives the whole header ("" sends none)."""
        if authorization is None:
            activity_url = activity.get("serviceUrl") if isinstance(activity, dict) else None
            token_args.setdefault("serviceurl", activity_url or self.service_url)
            authorization = f"Bearer {self.token(**token_args)}"
        # One request per connection, as Teams' own senders are not ours to pool: the bot's
        # server closes each after answering.
        headers = {"Content-Type": "application/json", "Connection": "close"}
        if authorization:
            headers["Authorization"] = authorization
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        return requests.post(url, data=body, headers=headers, timeout=timeout)

    # ------------------------------------------------------------ request handling

    def _record(self, op: str, method: str, path: str, reply: _Reply, effect: bool, body: Any):
        with self._lock:
            self.calls.append(Call(op, method, path, reply.status, effect, body, time.time()))

    def _take_fault(self, op: str) -> _Fault | None:
        with self._lock:
            return self._faults.next_queued(op) or self._faults.next_random(op)

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Reply:
        url = urlsplit(raw_path)
        op, args = _route(method, url.path, self.tenant_id)
        if op is None:
            return _Reply(404, _error("NotFound", f"no route {method} {url.path}"))
        self._delay(op, self.op_latency.get(op, self.latency))
        if op in ("openid", "keys"):
            reply = self._openid() if op == "openid" else self._jwks()
            self._record(op, method, url.path, reply, False, None)
            return reply
        if op == "token":
            reply = self._token(body)
            self._record(op, method, url.path, reply, reply.status == 200, None)
            return reply
        return self._connector(op, method, url, args, headers, body)

    def _connector(self, op, method, url, args, headers, body) -> _Reply:
        parsed = _json(body)
        auth = (headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        with self._lock:
            valid = self._access_tokens.get(auth, 0) > time.time()
            wait = self._bucket.take() if (valid and self._bucket) else 0.0
        if not valid:
            reply = _Reply(401, _error("Unauthorized", "missing or expired token"))
        elif wait > 0:
            reply = _Reply(
                429, _error("Throttled", "slow down"), {"Retry-After": str(math.ceil(wait))}
            )
        else:
            reply = self._faulted(op, lambda: self._apply(op, args, url.query, parsed, body))
        self._record(op, method, url.path, reply, reply.effect, parsed)
        if reply.stall > 0:
            time.sleep(reply.stall)
        return reply

    def _faulted(self, op: str, apply) -> _Reply:
        fault = self._take_fault(op)
        if fault is not None and not fault.after_effect:
            return _fault_reply(fault)
        reply = apply()
        reply.effect = 200 <= reply.status < 300 and op not in ("members", "member")
        if fault is not None and not 200 <= reply.status < 300:
            # "After the effect" means a reply lost after Teams acted; a call Teams refused
            # (a blocked user's 403) had no effect to lose, so the fault waits for the next.
            with self._lock:
                self._faults.put_back(op, fault)
            return reply
        if fault is None:
            return reply
        if fault.stall:
            reply.stall = fault.stall
            return reply
        failed = _fault_reply(fault)
        failed.effect = reply.effect
        return failed

    def _apply(self, op, args, query, parsed, body) -> _Reply:
        with self._lock:
            if op == "create_conversation":
                return self._create_conversation(parsed)
            if op == "members":
                return self._members(args[0], query)
            if op == "member":
                return self._member(args[0], args[1])
            conv = self.conversations.get(args[0])
            if conv is None:
                conv = self._channel_conversation(args[0])
            if conv is None:
                return _Reply(404, _error("ConversationNotFound", "no such conversation"))
            if op == "send":
                return self._send(conv, parsed, body)
            activity = conv.activities.get(args[1])
            if activity is None or activity.deleted:
                return _Reply(404, _error("ActivityNotFoundInConversation", "no such activity"))
            if op == "update":
                too_big = _size_error(body)
                if too_big:
                    return too_big
                activity.payload = parsed if isinstance(parsed, dict) else {}
                activity.edits += 1
                return _Reply(200, {"id": activity.id})
            activity.deleted = True
            return _Reply(200, {})

    def _create_conversation(self, parsed: Any) -> _Reply:
        members = parsed.get("members") if isinstance(parsed, dict) else None
        if not isinstance(members, list) or len(members) != 1 or not isinstance(members[0], dict):
            return _Reply(400, _error("BadArgument", "one member expected"))
        user_id = members[0].get("id")
        tenant = ((parsed.get("channelData") or {}).get("tenant") or {}).get("id")
        if user_id not in self.users:
            return _Reply(404, _error("NotFound", "no such user"))
        if tenant != self.tenant_id:
            return _Reply(400, _error("BadArgument", "tenant id missing or wrong"))
        reachable = user_id in self._personal_installs or any(
            t.installed and user_id in t.members for t in self.teams.values()
        )
        if not reachable:
            return _Reply(403, _error("BotNotInConversationRoster", "app not installed for user"))
        existing = next((c for c in self.conversations.values() if c.user_id == user_id), None)
        if existing is None:
            existing = Conversation(id=f"a:1{secrets.token_hex(16)}", kind="personal")
            existing.user_id = user_id
            self.conversations[existing.id] = existing
        return _Reply(201, {"id": existing.id})

    def _channel_conversation(self, conv_id: str) -> Conversation | None:
        team = self.teams.get(conv_id)
        if team is None or not team.installed:
            return None
        conv = Conversation(id=conv_id, kind="channel", team_id=team.id)
        self.conversations[conv_id] = conv
        return conv

    def _send(self, conv: Conversation, parsed: Any, body: bytes) -> _Reply:
        if conv.user_id in self._blocked:
            return _Reply(
                403,
                {
                    "error": {
                        "code": "Forbidden",
                        "subCode": "MessageWritesBlocked",
                        "message": "The user has blocked the bot.",
                    }
                },
            )
        too_big = _size_error(body)
        if too_big:
            return too_big
        if not isinstance(parsed, dict) or parsed.get("type") != "message":
            return _Reply(400, _error("BadArgument", "an activity of type message is expected"))
        activity = SentActivity(str(next(self._activity_ids)), conv.id, parsed)
        conv.activities[activity.id] = activity
        return _Reply(201, {"id": activity.id})

    def _members(self, team_id: str, query: str) -> _Reply:
        team = self.teams.get(team_id)
        if team is None or not team.installed:
            return _Reply(403, _error("BotNotInConversationRoster", "app not in this team"))
        params = parse_qs(query)
        try:
            size = max(1, min(500, int(params.get("pageSize", ["100"])[0])))
            start = int(params.get("continuationToken", ["0"])[0] or 0)
        except ValueError:
            return _Reply(400, _error("BadArgument", "bad paging"))
        ids = team.members[start : start + size]
        page: dict[str, Any] = {"members": [self.users[i].to_api(self.tenant_id) for i in ids]}
        if start + size < len(team.members):
            page["continuationToken"] = str(start + size)
        return _Reply(200, page)

    def _member(self, conv_id: str, user_id: str) -> _Reply:
        """One member of a team (or of a 1:1), by ``29:`` ID or Entra ID object ID."""
        team = self.teams.get(conv_id)
        conv = self.conversations.get(conv_id)
        if team is not None and team.installed:
            ids = team.members
        elif conv is not None and conv.user_id:
            ids = [conv.user_id]
        else:
            return _Reply(403, _error("BotNotInConversationRoster", "app not in this conversation"))
        for uid in ids:
            person = self.users[uid]
            if user_id in (person.id, person.aad_object_id):
                return _Reply(200, person.to_api(self.tenant_id))
        return _Reply(404, _error("MemberNotFoundInConversation", "no such member"))

    def _token(self, body: bytes) -> _Reply:
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        fault = self._take_fault("token")
        if fault is not None:
            return _fault_reply(fault)
        if form.get("grant_type") != "client_credentials":
            return _Reply(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (self.app_id, self.app_password):
            return _Reply(401, {"error": "invalid_client"})
        if form.get("scope") != "https://api.botframework.com/.default":
            return _Reply(400, {"error": "invalid_scope"})
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._access_tokens[token] = time.time() + self.token_lifetime
        return _Reply(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "ext_expires_in": self.token_lifetime,
                "access_token": token,
            },
        )

    def _openid(self) -> _Reply:
        return _Reply(
            200,
            {
                "issuer": ISSUER,
                "authorization_endpoint": f"{self.base_url}/v1/.well-known/authorize",
                "jwks_uri": f"{self.base_url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            },
        )

    def _jwks(self) -> _Reply:
        with self._lock:
            keys = [_jwk(priv, kid, list(ends)) for kid, (priv, ends) in self._keys.items()]
        return _Reply(200, {"keys": keys})


# --------------------------------------------------------------------------------------
# Helpers and HTTP plumbing
# --------------------------------------------------------------------------------------


def card_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every action of a card, as a client shows them: its action bar and its body's rows."""
    rows = [a for b in card.get("body", []) if b.get("type") == "ActionSet" for a in b["actions"]]
    return [*card.get("actions", []), *rows]


def answer_buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    """A pulse card's answer taps, in the order the card shows them."""
    return [a for a in card_actions(card) if a.get("verb") == "answer"]


def _route(method: str, path: str, tenant: str) -> tuple[str | None, tuple[str, ...]]:
    parts = [unquote(p) for p in path.strip("/").split("/")]
    if method == "GET" and parts == ["v1", ".well-known", "openidconfiguration"]:
        return "openid", ()
    if method == "GET" and parts == ["v1", ".well-known", "keys"]:
        return "keys", ()
    if method == "POST" and parts == [tenant, "oauth2", "v2.0", "token"]:
        return "token", ()
    if parts[:3] != ["teams", "v3", "conversations"]:
        return None, ()
    rest = parts[3:]
    if method == "POST" and not rest:
        return "create_conversation", ()
    if method == "POST" and len(rest) == 2 and rest[1] == "activities":
        return "send", (rest[0],)
    if method == "GET" and len(rest) == 2 and rest[1] == "pagedmembers":
        return "members", (rest[0],)
    if method == "GET" and len(rest) == 3 and rest[1] == "members":
        return "member", (rest[0], rest[2])
    if len(rest) == 3 and rest[1] == "activities":
        if method == "PUT":
            return "update", (rest[0], rest[2])
        if method == "DELETE":
            return "delete", (rest[0], rest[2])
    return None, ()


def _size_error(body: bytes) -> _Reply | None:
    """413 MessageSizeTooBig: over 100 KB besides inline images, or an image over 1 MB."""
    text = body.decode("utf-8", "replace")
    images = _DATA_URI.findall(text)
    if any(len(base64.b64decode(i.split(",", 1)[1].strip('"'))) > MAX_IMAGE_BYTES for i in images):
        return _Reply(413, _error("MessageSizeTooBig", "an image is over 1 MB"))
    if len(body) - sum(len(i) for i in images) > MAX_MESSAGE_BYTES:
        return _Reply(413, _error("MessageSizeTooBig", "Message size too large."))
    return None


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _fault_reply(fault: _Fault) -> _Reply:
    headers = {"Retry-After": str(fault.retry_after)} if fault.status == 429 else {}
    code = _FAULT_CODES.get(fault.status, "ServiceError")
    return _Reply(fault.status, _error(code, f"injected {fault.status}"), headers)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


class _Handler(FakeHandler):
    def handle_request(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            reply = self.server.fake.handle(self.command, self.path, self.headers, body)
        except Exception:  # one bad request must not take the fake down
            log.exception("fake teams: error on %s %s", self.command, self.path)
            self.close_connection = True
            reply = _Reply(500, _error("FakeInternalError", "the fake failed"))
        data = json.dumps(reply.body).encode()
        self.send_reply(reply.status, data, "application/json; charset=utf-8", reply.headers)


FakeTeams.handler = _Handler
