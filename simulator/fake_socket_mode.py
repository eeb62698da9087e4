"""Socket Mode for the fake Slack: the WebSocket end of ``apps.connections.open``, for tests.

Slack's Socket Mode: the app calls ``apps.connections.open`` with its app-level token, opens the
WebSocket URL it gets back, receives ``hello``, then envelopes (``envelope_id``, ``type``,
``payload``, ``accepts_response_payload``), and acks each by sending back its ``envelope_id``
(with a ``payload`` where the ack carries a response, as a slash command's does). This serves
that on 127.0.0.1 over plain ``ws://`` (slack_sdk's own client connects without TLS to a port
other than 443 for testing) and lets a test push envelopes and read the acks.

Needs the ``websockets`` package (a test dependency), imported only when Socket Mode is used.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any


class FakeSocketMode:
    def __init__(self, app_id: str = "A0001") -> None:
        self.app_id = app_id
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._connections: list[Any] = []
        self._acks: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self.url = ""

    def start(self) -> FakeSocketMode:
        from websockets.sync.server import serve

        self._server = serve(self._serve_one, "127.0.0.1", 0)
        port = self._server.socket.getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/link/?ticket={uuid.uuid4().hex}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _serve_one(self, ws) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "connection_info": {"app_id": self.app_id},
            "debug_info": {"host": "fake-slack", "approximate_connection_time": 18060},
        }
        ws.send(json.dumps(hello))
        with self._cond:
            self._connections.append(ws)
            self._cond.notify_all()
        try:
            for message in ws:
                try:
                    data = json.loads(message)
                except ValueError:
                    continue
                if isinstance(data, dict) and data.get("envelope_id"):
                    with self._cond:
                        self._acks[data["envelope_id"]] = data
                        self._cond.notify_all()
        except Exception:  # the client went away; nothing to clean up but the list
            pass
        finally:
            with self._cond:
                self._connections.remove(ws)
                self._cond.notify_all()

    @property
    def connections(self) -> int:
        with self._cond:
            return len(self._connections)

    def wait_connected(self, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._connections, timeout)

    def send(
        self, kind: str, payload: dict[str, Any], accepts_response_payload: bool = True
    ) -> str:
        """Push one envelope to the connected app; returns its ``envelope_id``."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        with self._cond:
            if not self._connections:
                raise RuntimeError("no Socket Mode connection")
            ws = self._connections[-1]
        ws.send(json.dumps(envelope))
        return envelope_id

    def ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any] | None:
        """The app's ack of an envelope (None if none came within ``timeout``)."""
        with self._cond:
            self._cond.wait_for(lambda: envelope_id in self._acks, timeout)
            return self._acks.get(envelope_id)
