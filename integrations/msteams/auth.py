"""Inbound authentication: is this request really from Teams, for this bot, about this activity?

The Bot Connector signs every request it posts to ``/api/messages`` with a JWT in
``Authorization: Bearer``. The checks, in the order made (Microsoft's "Authentication with the
Bot Connector API", connector-to-bot):

1. the header is ``Bearer <JWT>``; the JWT is RS256 (no ``none``, no HMAC with a public key);
2. its ``kid`` names a key in the JWKS found through the OpenID metadata's ``jwks_uri``;
3. the signature verifies; ``iss`` is ``https://api.botframework.com``; ``aud`` is our app ID;
   ``exp``/``nbf`` hold with five minutes' clock skew;
4. the signing key is endorsed for the activity's ``channelId``, and that channel is ``msteams``;
5. the token's ``serviceurl`` claim equals the activity's ``serviceUrl`` (so a token minted for
   one service URL cannot make us send replies, and a bearer token, elsewhere).

Steps 1-3 fail with 401 (we cannot tell who is calling); 4-5 with 403 (an authentic token that
does not authorise this activity). A key source that cannot be reached is ``KeysUnavailable``
(the endpoint answers 503 so Teams retries), never a 500.

Keys are cached (Microsoft's SDKs keep them for days; here 24 hours) and fetched again when a
token names a ``kid`` we have not seen, which is how a key rotation shows itself. A forged
``kid`` must not turn into a flood of fetches, so an unknown ``kid`` refreshes at most once a
minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests

from integrations.msteams.config import CHANNEL, ISSUER

log = logging.getLogger("medpulse.msteams.auth")

CLOCK_SKEW = 300
KEYS_TTL = 24 * 3600
MIN_REFRESH = 60.0
ALGORITHMS = ("RS256",)

JsonFetcher = Callable[[str], Any]


class AuthError(Exception):
    """A request refused: ``status`` is 401 or 403, ``reason`` a short word for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class KeysUnavailable(Exception):
    """The OpenID metadata or the JWKS could not be fetched or made no sense."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: Any
    endorsements: frozenset[str]


@dataclass(frozen=True)
class VerifiedToken:
    """A token whose signature and claims held; ``check_activity`` binds it to one activity."""

    claims: dict[str, Any]
    endorsements: frozenset[str]


def fetch_json(url: str, timeout: float = 10.0) -> Any:
    """GET a JSON document; any failure is ``KeysUnavailable``."""
    try:
        resp = requests.get(url, timeout=timeout)
        resp.raise_for_status()
        return resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise KeysUnavailable(f"{url}: {exc}") from exc


class KeySet:
    """The Bot Framework's signing keys, from OpenID metadata -> ``jwks_uri`` -> JWKS."""

    def __init__(
        self,
        openid_url: str,
        *,
        fetch: JsonFetcher = fetch_json,
        ttl: float = KEYS_TTL,
        min_refresh: float = MIN_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.openid_url = openid_url
        self.fetch = fetch
        self.ttl = ttl
        self.min_refresh = min_refresh
        self.clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0  # how many times the JWKS was fetched (tests and logs)

    def get(self, kid: str) -> SigningKey | None:
        """The key named ``kid``, fetching when the cache is stale or the kid is new."""
        with self._lock:
            now = self.clock()
            stale = self._fetched_at is None or now - self._fetched_at > self.ttl
            recent = self._fetched_at is not None and now - self._fetched_at < self.min_refresh
            if stale or (kid not in self._keys and not recent):
                self._refresh_or_keep(now)
            return self._keys.get(kid)

    def _refresh_or_keep(self, now: float) -> None:
        """Refresh; if the key server is down but keys are cached, keep serving with them and
        try again after ``min_refresh`` (an outage at Microsoft must not stop the bot)."""
        try:
            self._refresh(now)
        except KeysUnavailable:
            if not self._keys:
                raise
            log.warning("msteams: key refresh failed; keeping the %d cached keys", len(self._keys))
            self._fetched_at = now - self.ttl + self.min_refresh

    def _refresh(self, now: float) -> None:
        meta = self.fetch(self.openid_url)
        jwks_uri = meta.get("jwks_uri") if isinstance(meta, dict) else None
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise KeysUnavailable(f"{self.openid_url}: no jwks_uri in the OpenID metadata")
        document = self.fetch(jwks_uri)
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise KeysUnavailable(f"{jwks_uri}: no keys")
        self._keys = dict(_parse_keys(entries))
        self._fetched_at = now
        self.fetches += 1
        log.info("msteams: loaded %d signing keys from %s", len(self._keys), jwks_uri)


def _parse_keys(entries: list[Any]):
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not entry.get("kid"):
            continue
        try:
            key = jwt.PyJWK(entry, algorithm="RS256").key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            log.warning("msteams: skipping an unreadable key %r", entry.get("kid"))
            continue
        endorsements = entry.get("endorsements") or []
        if not isinstance(endorsements, list):
            endorsements = []
        yield entry["kid"], SigningKey(entry["kid"], key, frozenset(map(str, endorsements)))


class TokenVerifier:
    """Checks 1-5 above for one app ID."""

    def __init__(
        self,
        app_id: str,
        keys: KeySet,
        *,
        issuer: str = ISSUER,
        channel: str = CHANNEL,
        skew: int = CLOCK_SKEW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self.keys = keys
        self.issuer = issuer
        self.channel = channel
        self.skew = skew
        self.clock = clock

    def verify_token(self, authorization: str | None) -> VerifiedToken:
        """Checks 1-3 (they need only the header). Raises AuthError(401) or KeysUnavailable."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(401, "no bearer token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError(401, "malformed token") from None
        if header.get("alg") not in ALGORITHMS:
            raise AuthError(401, "wrong algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError(401, "no key id")
        signing = self.keys.get(kid)
        if signing is None:
            raise AuthError(401, "unknown key")
        claims = self._decode(token, signing)
        return VerifiedToken(claims=claims, endorsements=signing.endorsements)

    def _decode(self, token: str, signing: SigningKey) -> dict[str, Any]:
        # PyJWT would check exp/nbf/iat against the wall clock with no leeway for nbf/iat; the
        # times are checked below instead, on the injected clock, with the same skew both ways.
        try:
            claims = jwt.decode(
                token,
                signing.key,
                algorithms=list(ALGORITHMS),
                audience=self.app_id,
                issuer=self.issuer,
                options={
                    "require": ["exp", "iss", "aud"],
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidAudienceError:
            raise AuthError(401, "wrong audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError(401, "wrong issuer") from None
        except jwt.InvalidSignatureError:
            raise AuthError(401, "bad signature") from None
        except jwt.PyJWTError as exc:
            raise AuthError(401, f"invalid token ({type(exc).__name__})") from None
        now = self.clock()
        if not isinstance(claims.get("exp"), int | float) or now > claims["exp"] + self.skew:
            raise AuthError(401, "expired")
        nbf = claims.get("nbf")
        if nbf is not None and (not isinstance(nbf, int | float) or now + self.skew < nbf):
            raise AuthError(401, "not yet valid")
        return claims

    def check_activity(self, token: VerifiedToken, activity: Mapping[str, Any]) -> None:
        """Checks 4-5: the token vouches for this activity. Raises AuthError(403)."""
        channel = activity.get("channelId")
        if channel != self.channel:
            raise AuthError(403, "not a Teams activity")
        if channel not in token.endorsements:
            raise AuthError(403, "key not endorsed for the channel")
        claimed = token.claims.get("serviceurl")
        actual = activity.get("serviceUrl")
        if not isinstance(claimed, str) or not isinstance(actual, str):
            raise AuthError(403, "no service URL")
        if claimed.rstrip("/") != actual.rstrip("/"):
            raise AuthError(403, "service URL does not match the token")
