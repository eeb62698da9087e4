"""``/api/messages``: a plain WSGI app the core can mount beside ``/slack/events``.

Order of work for each request, so that nothing unverified reaches the callback and nothing an
attacker sends can cause a 500:

1. POST only (405); a body no larger than ``max_body`` (413) with a sane length (400);
2. the bearer token's signature and claims (401), before the body is even parsed;
3. the body is a JSON object (400);
4. the token vouches for this activity: endorsed for ``msteams`` and minted for its
   ``serviceUrl`` (403);
5. the activity parses into an event (400 if a kind we handle is malformed; 200 and nothing
   else for kinds we ignore);
6. the callback runs. Its reply to a card tap is the invoke response: a short text Teams shows
   and does not keep (``TextReply``, what a pulse tap gets) or a card that replaces the tapped
   one (``CardReply``, for cards that hold nothing personal). Its reply to ``task/fetch`` and
   ``task/submit`` is a ``DialogReply``: Teams' task body, a dialog to show (``continue``) or
   one line (``message``). Other activities get an empty 200 (replies go out through the Bot
   Connector).

A failure inside the callback is ours, not the caller's: a card tap gets an invoke response
with Teams' error type (the doctor sees "something went wrong" and can tap again), a dialog
gets a ``message`` saying so (nothing was saved: a form's submit saves in one transaction);
any other activity gets 503 so that Teams retries it later. A key source that cannot be reached is also
503, and a bug in our own parsing is logged and answered 400. None is a 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from integrations.msteams import events
from integrations.msteams.auth import AuthError, KeySet, KeysUnavailable, TokenVerifier
from integrations.msteams.config import TeamsConfig

log = logging.getLogger("medpulse.msteams.web")

MAX_BODY = 1_000_000
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
MESSAGE_TYPE = "application/vnd.microsoft.activity.message"
ERROR_TYPE = "application/vnd.microsoft.error"


@dataclass(frozen=True)
class CardReply:
    """Replace the tapped card with ``card`` (an Adaptive Card dict)."""

    card: dict[str, Any]


@dataclass(frozen=True)
class TextReply:
    """Answer a tap with a short text toast instead of a new card."""

    text: str


@dataclass(frozen=True)
class DialogReply:
    """Answer ``task/fetch`` or ``task/submit``: ``task`` is Teams' ``{"type": "continue",
    "value": TaskInfo}`` or ``{"type": "message", "value": text}``."""

    task: dict[str, Any]


Reply = CardReply | TextReply | DialogReply | None
Handler = Callable[[events.Event], Reply]
DIALOG_FAILED = "medpulse could not do that; nothing was saved. Please try again."


def dialog_response(reply: Reply) -> dict[str, Any]:
    """The body Teams expects back from a ``task/fetch`` or ``task/submit`` invoke."""
    if isinstance(reply, DialogReply):
        return {"task": reply.task}
    return {"task": {"type": "message", "value": "Done."}}


def invoke_response(reply: Reply) -> dict[str, Any]:
    """The body Teams expects back from an ``adaptiveCard/action`` invoke."""
    if isinstance(reply, CardReply):
        return {"statusCode": 200, "type": CARD_TYPE, "value": reply.card}
    text = reply.text if isinstance(reply, TextReply) else "Done."
    return {"statusCode": 200, "type": MESSAGE_TYPE, "value": text}


def _error_response(message: str) -> dict[str, Any]:
    return {
        "statusCode": 500,
        "type": ERROR_TYPE,
        "value": {"code": "InternalError", "message": message},
    }


class TeamsEndpoint:
    """WSGI app: verify, parse, call ``handler``, reply (see the module docstring)."""

    def __init__(self, verifier: TokenVerifier, handler: Handler, max_body: int = MAX_BODY):
        self.verifier = verifier
        self.handler = handler
        self.max_body = max_body

    @classmethod
    def from_config(cls, config: TeamsConfig, handler: Handler) -> TeamsEndpoint:
        """What the core mounts at ``/api/messages`` (``Router.mount``) once it serves Teams."""
        return cls(TokenVerifier(config.app_id, KeySet(config.openid_url)), handler)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            status, body = self._respond(environ)
        except Exception:  # a parsing bug of ours: logged, and still no 500 for the caller
            log.exception("msteams: could not handle a request")
            status, body = 400, {"error": "could not read the activity"}
        return _reply(start_response, status, body)

    def _respond(self, environ: dict) -> tuple[int, Any]:
        if environ.get("REQUEST_METHOD") != "POST":
            return 405, {"error": "POST only"}
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return 400, {"error": "bad content-length"}
        if length < 0:
            return 400, {"error": "bad content-length"}
        if length > self.max_body:
            return 413, {"error": "too large"}
        try:
            token = self.verifier.verify_token(environ.get("HTTP_AUTHORIZATION"))
        except AuthError as exc:
            log.warning("msteams: refused a request: %s", exc.reason)
            return exc.status, {"error": "unauthorized"}
        except KeysUnavailable as exc:
            log.error("msteams: cannot check tokens, signing keys unavailable: %s", exc)
            return 503, {"error": "signing keys unavailable"}
        activity = _json_object(environ["wsgi.input"].read(length) if length else b"")
        if activity is None:
            return 400, {"error": "malformed body"}
        try:
            self.verifier.check_activity(token, activity)
        except AuthError as exc:
            log.warning("msteams: refused an activity: %s", exc.reason)
            return exc.status, {"error": "forbidden"}
        try:
            event = events.parse(activity)
        except events.MalformedActivity as exc:
            return 400, {"error": f"malformed activity: {exc}"}
        if event is None:
            return 200, {}
        return self._dispatch(event)

    def _dispatch(self, event: events.Event) -> tuple[int, Any]:
        is_tap = isinstance(event, events.CardAction)
        is_dialog = isinstance(event, events.DialogFetch | events.DialogSubmit)
        try:
            reply = self.handler(event)
        except Exception:
            log.exception("msteams: the handler failed on a %s", type(event).__name__)
            if is_tap:
                return 200, _error_response("medpulse could not record that; please try again.")
            if is_dialog:
                return 200, dialog_response(
                    DialogReply({"type": "message", "value": DIALOG_FAILED})
                )
            return 503, {"error": "try again later"}
        if is_dialog:
            return 200, dialog_response(reply)
        return (200, invoke_response(reply)) if is_tap else (200, {})


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    503: "Service Unavailable",
}


def _reply(start_response: Callable, status: int, body: Any) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))],
    )
    return [data]
