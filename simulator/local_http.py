"""What the fake Slack and the fake Teams share: a real HTTP server on 127.0.0.1 and the faults.

Both fakes are real servers so that tests drive the real client libraries over real HTTP. The
parts that do not depend on the platform live here once:

* ``LocalHttpFake``: serve a handler on a threaded HTTP server (port 0 lets the OS pick) in a
  daemon thread, ``start``/``stop``/``with``, ``base_url``; per-operation ``latency`` and
  ``hold(op)``, which keeps an operation's requests waiting until the test releases them, so a
  test controls when a slow call answers instead of sleeping and hoping the machine is quick.
* ``FakeHandler``: keep-alive HTTP/1.1 without Nagle's delay, an idle timeout, quiet logs, and
  one way to write a reply that survives a client hanging up.
* ``Faults``: queued faults (``fail_next``) and seeded random ones (``error_rate``) by
  operation name, ``"*"`` meaning any; ``TokenBucket``, the throttle both fakes' 429s come from.

Standard library only: the demo runs the fakes too.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

F = TypeVar("F")
HOLD_GUARD = 60.0  # seconds a held request waits at most if a test never releases it


class TokenBucket:
    """Classic token bucket: ``per_second`` refill, ``burst`` capacity."""

    def __init__(
        self, per_second: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_second, self.capacity, self.tokens = per_second, burst, burst
        self._clock = clock
        self.stamp = clock()

    def take(self) -> float:
        """Take one token; return 0 if allowed, else seconds until one is available."""
        now = self._clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


class Faults(Generic[F]):
    """Injected faults by operation name (``"*"`` = any). Not locked: the fake's lock guards it."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[F]] = {}
        self._random: dict[str, tuple[float, F, random.Random]] = {}

    def fail_next(self, op: str, fault: F, count: int = 1) -> None:
        self._queued.setdefault(op, deque()).extend([fault] * count)

    def error_rate(self, op: str, rate: float, fault: F, seed: int | None = None) -> None:
        """Fail a random fraction of ``op``'s calls, reproducibly for a seed and a call order;
        rate 0 removes the rule."""
        if rate <= 0:
            self._random.pop(op, None)
        else:
            self._random[op] = (rate, fault, random.Random(seed))

    def put_back(self, op: str, fault: F) -> None:
        """A taken fault that found nothing to break goes first in line again."""
        self._queued.setdefault(op, deque()).appendleft(fault)

    def next_queued(self, op: str) -> F | None:
        for name in (op, "*"):
            queue = self._queued.get(name)
            if queue:
                return queue.popleft()
        return None

    def next_random(self, op: str) -> F | None:
        for name in (op, "*"):
            rule = self._random.get(name)
            if rule and rule[2].random() < rule[0]:
                return rule[1]
        return None

    def clear(self) -> None:
        self._queued.clear()
        self._random.clear()


class Hold:
    """Requests wait here until ``release()``; ``wait_until_waiting`` lets the test see them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._open = False
        self.waiting = 0

    def enter(self) -> None:
        with self._cond:
            self.waiting += 1
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._open, timeout=HOLD_GUARD)
            self.waiting -= 1

    def release(self) -> None:
        with self._cond:
            self._open = True
            self._cond.notify_all()

    def wait_until_waiting(self, count: int, timeout: float = 30.0) -> bool:
        """True once ``count`` requests wait here together (False: they never did)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.waiting >= count, timeout=timeout)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # benchmarks open many connections at once
    fake: Any

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("%s: connection error from %s", self.fake.name, client_address, exc_info=True)


class FakeHandler(BaseHTTPRequestHandler):
    """Subclasses implement ``handle_request`` and answer with ``send_reply``."""

    protocol_version = "HTTP/1.1"  # keep-alive for clients that want it
    # Headers and body go out in separate writes; with Nagle on, a kept-alive client would wait
    # for its delayed ACK (~40 ms) between them, which the real services do not make anyone do.
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections must not pin threads forever
    server: FakeServer

    def handle_request(self) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.handle_request()

    do_POST = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(self.server.fake.name + ": " + format, *args)

    def send_reply(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str]
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class LocalHttpFake:
    """A fake service on a local threaded HTTP server. Subclasses set ``name`` and ``handler``
    and call ``_init_server`` from ``__init__``."""

    name = "fake"
    handler: type[FakeHandler]

    def _init_server(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.latency = 0.0
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None
        self._holds: dict[str, Hold] = {}

    def start(self):
        """Bind (port 0 lets the OS pick) and serve in a daemon thread."""
        if self._server is None:
            server = FakeServer((self.host, self.port), self.handler)
            server.fake = self
            self.port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; held requests are let go."""
        for hold in list(self._holds.values()):
            hold.release()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"{self.name} is not started")
        return f"http://{self.host}:{self.port}"

    def hold(self, op: str) -> Hold:
        """From now on ``op``'s requests wait (before any effect) until the Hold is released."""
        hold = self._holds[op] = Hold()
        return hold

    def _delay(self, op: str, seconds: float) -> None:
        """Outside any lock: wait at ``op``'s hold if there is one, then sleep ``seconds``."""
        hold = self._holds.get(op)
        if hold is not None:
            hold.enter()
        if seconds > 0:
            time.sleep(seconds)
