"""Posting to Slack response URLs over kept-alive connections.

Every answer tap is redrawn through its response URL (see integrations/slack/listeners/pulse.py for why not
``chat.update``). Bolt's ``respond`` opens a new connection per call; against Slack that is a
TLS handshake per tap, which in the busiest minute of a round costs more CPU than storing the
answer. Each web thread keeps one connection per host instead.

Where an HTTP(S) proxy is configured (common in hospital networks) this module steps aside and
the caller falls back to Bolt's ``respond``, which honours the proxy settings.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import threading
import urllib.request
from urllib.parse import urlsplit

log = logging.getLogger("medpulse.responder")

_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def proxied() -> bool:
    """True when the environment routes HTTP(S) through a proxy this module does not speak."""
    proxies = urllib.request.getproxies()
    return bool(proxies.get("https") or proxies.get("http"))


class ResponseUrlPoster:
    """POST JSON to response URLs, one kept-alive connection per (thread, host)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._local = threading.local()
        self._tls = ssl.create_default_context()

    def post(self, url: str, body: dict) -> int:
        """The HTTP status Slack answered. A connection the server closed while it sat idle is
        reopened once; replace_original is idempotent, so a resend can only redraw twice."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        conns: dict = self._local.__dict__.setdefault("conns", {})
        key = (parts.scheme, parts.hostname, parts.port)
        while True:
            conn, reused = conns.get(key), key in conns
            if conn is None:
                conn = conns[key] = self._connect(parts.scheme, parts.hostname, parts.port)
            try:
                conn.request("POST", path, body=data, headers=headers)
                resp = conn.getresponse()
                resp.read()
            except _STALE:
                self._drop(conns, key)
                if reused:
                    continue
                raise
            except BaseException:
                self._drop(conns, key)
                raise
            if resp.will_close:
                self._drop(conns, key)
            return resp.status

    def _connect(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        if scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._tls)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small JSON posts
        return conn

    @staticmethod
    def _drop(conns: dict, key) -> None:
        conn = conns.pop(key, None)
        if conn is not None:
            conn.close()
