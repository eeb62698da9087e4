"""The HTTP front door: health checks, a guard in front of Bolt, and a production server.

Bolt parses a request body before it checks the signature, and its adapters answer 500 when
parsing fails. Slack retries on 5xx and an attacker can make noise with them, so the guard below
checks size, signature and shape first and answers 4xx itself; Bolt only sees well-formed,
correctly signed requests.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk.signature import Clock, SignatureVerifier

log = logging.getLogger("medpulse.web")

MAX_BODY = 1_000_000

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


def _reply(start_response: Callable, status: str, body: Any) -> list[bytes]:
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    ctype = "application/json" if not isinstance(body, bytes) else "text/plain; charset=utf-8"
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data)))])
    return [data]


class _Clock(Clock):
    """slack_sdk's clock, reading ours (tests drive a fake one)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def signature_ok(secret: str, timestamp: str, body: bytes, signature: str, now: float) -> bool:
    """Slack's v0 scheme, checked by slack_sdk's ``SignatureVerifier`` (HMAC-SHA256 over
    ``v0:{timestamp}:{body}``, fresh within five minutes).

    What the verifier would raise on (no secret, a timestamp that is not a number, a signature
    that is not ASCII) is a bad request, not a crash: False, so the guard answers 401.
    """
    if not secret.strip() or not timestamp.isdigit():
        return False
    try:
        verifier = SignatureVerifier(secret, clock=_Clock(lambda: now))
        return verifier.is_valid(body=body, timestamp=timestamp, signature=signature or "")
    except (TypeError, ValueError):
        return False


PARSED_BODY = "medpulse.slack_body"  # environ key: the body as parsed by the guard, for Bolt


def parse_slack_body(content_type: str, body: bytes) -> dict | None:
    """The body as Bolt reads it (a JSON object, a form's JSON ``payload``, or the form), or
    None where Bolt would fail to parse it or Slack would never send it.

    Parsed once here and handed to Bolt (integrations.slack.listeners.app), which would otherwise parse it again: a
    tap's body carries the whole message, and decoding it was a tenth of the tap's CPU. Unlike
    Bolt's own parser, a form is read as a payload only when it has a ``payload`` field, not
    whenever the text "payload" appears somewhere in it (a slash command's text, say).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return None
    if content_type.startswith("application/json"):
        return _json_object(text)
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    try:
        form = dict(parse_qsl(text, strict_parsing=True, keep_blank_values=True))
    except ValueError:
        return None
    if "payload" in form:
        return _json_object(form["payload"])
    if "command" in form or "ssl_check" in form or "type" in form:
        return form
    return None


def _team_of(body: dict) -> object:
    """The workspace a request is for, wherever its kind of body carries it."""
    team = body.get("team")
    user = body.get("user")
    auths = body.get("authorizations")
    candidates = (
        body.get("team_id"),
        team.get("id") if isinstance(team, dict) else None,
        user.get("team_id") if isinstance(user, dict) else None,
        auths[0].get("team_id")
        if isinstance(auths, list) and auths and isinstance(auths[0], dict)
        else None,
    )
    return next((c for c in candidates if c), None)


def missing_fields(body: dict) -> str | None:
    """What a signed body lacks that every listener relies on (a workspace, a user, a command),
    or None. Slack always sends these; a body without them is answered 400 here rather than
    crashing a listener with a KeyError and a 500."""
    kind = body.get("type")
    if kind in ("url_verification", "ssl_check") or "ssl_check" in body:
        return None
    if not isinstance(_team_of(body), str):
        return "team_id"
    if "command" in body:
        return next((f for f in ("user_id", "command") if not body.get(f)), None)
    if kind == "event_callback":
        event = body.get("event")
        return None if isinstance(event, dict) and event.get("type") else "event"
    user = body.get("user")
    if kind in INTERACTIVE and not (isinstance(user, dict) and isinstance(user.get("id"), str)):
        return "user"
    return None


INTERACTIVE = {
    "block_actions",
    "block_suggestion",
    "view_submission",
    "view_closed",
    "shortcut",
    "message_action",
    "interactive_message",
    "dialog_submission",
}


def _json_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class SlackGuard:
    """WSGI middleware that lets only signed, well-formed requests reach Bolt."""

    def __init__(self, inner: WSGIApp, signing_secret: str, clock: Callable[[], float] = time.time):
        self.inner = inner
        self.secret = signing_secret
        self.clock = clock

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _reply(start_response, "405 Method Not Allowed", {"error": "POST only"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _reply(start_response, "400 Bad Request", {"error": "bad content-length"})
        if length > MAX_BODY:
            return _reply(start_response, "413 Payload Too Large", {"error": "too large"})
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        ts = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        sig = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not signature_ok(self.secret, ts, body, sig, self.clock()):
            return _reply(start_response, "401 Unauthorized", {"error": "invalid signature"})
        parsed = parse_slack_body(environ.get("CONTENT_TYPE", ""), body)
        if parsed is None:
            return _reply(start_response, "400 Bad Request", {"error": "malformed body"})
        missing = missing_fields(parsed)
        if missing:
            return _reply(start_response, "400 Bad Request", {"error": f"no {missing}"})
        environ[PARSED_BODY] = parsed
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        try:
            return self.inner(environ, start_response)
        except Exception:  # never let a listener bug become a dropped connection
            log.exception("unhandled error behind the guard")
            return _reply(start_response, "500 Internal Server Error", {"error": "internal"})


class Router:
    """A tiny path router: /healthz, /readyz, Slack events, and optional OAuth routes."""

    def __init__(self, ready: Callable[[], str | None]) -> None:
        self.ready = ready  # None when ready, else what is wrong (database, schema)
        self.routes: dict[str, WSGIApp] = {}

    def mount(self, path: str, app: WSGIApp) -> None:
        self.routes[path] = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _reply(start_response, "200 OK", {"ok": True})
        if path == "/readyz":
            problem = self.ready()
            if problem is None:
                body = {"ok": True, "database": "reachable", "schema": "latest"}
                return _reply(start_response, "200 OK", body)
            return _reply(start_response, "503 Service Unavailable", {"ok": False, "why": problem})
        app = self.routes.get(path)
        if app is None:
            return _reply(start_response, "404 Not Found", {"error": "not found"})
        return app(environ, start_response)


class HttpServer:
    """Waitress, multi-threaded, in a background thread so one process can also run the worker."""

    def __init__(self, app: WSGIApp, host: str = "0.0.0.0", port: int = 3000, threads: int = 8):
        from waitress.server import create_server

        self.server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="medpulse",
            clear_untrusted_proxy_headers=True,
            # Waitress stops accepting at 100 open connections and drops idle ones after 120 s:
            # a platform's senders that keep connections alive (or leave them open) would hold
            # the door shut for two minutes at a time. More room, and idle ones go sooner.
            connection_limit=1000,
            channel_timeout=30,
        )
        self.thread: threading.Thread | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        return self.server.effective_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpServer:
        self.thread = threading.Thread(target=self.server.run, name="http", daemon=True)
        self.thread.start()
        return self

    def serve_forever(self) -> None:
        self.server.run()

    def stop(self) -> None:
        """Close from inside waitress's own loop thread (closing a socket under a running
        select() from another thread is a race), then let in-flight requests finish."""

        def close_all() -> None:
            for channel in list(self.server._map.values()):
                channel.close()

        if self._stopped:
            return
        self._stopped = True
        try:
            if not (self.thread and self.thread.is_alive()):
                raise OSError("server loop not running")
            self.server.trigger.pull_trigger(close_all)
            self.thread.join(timeout=5)
        except OSError:
            close_all()
        self.server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
