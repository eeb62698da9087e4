"""Showing taps off the ack path: one job at a time per key, newest state last.

A tap is stored and acked in Bolt's listener threads; confirming it (a note only the doctor
sees, see integrations.slack.listeners.pulse) waits on Slack. Done in those same threads, a slow Slack held them,
and Bolt has only a few: the next taps could not be acked within Slack's 3 seconds. Done
concurrently per tap, two quick taps on one question could land out of order and leave the
older answer as the last note.

So those jobs go here. Jobs are keyed (by message and question); a job submitted while an
earlier one for the same key waits replaces it (only the newest state matters), and one key is
never run by two threads at once. A job reads the state when it runs, so whatever order the
taps committed in, the last note shows the stored answer.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Hashable

log = logging.getLogger("medpulse.redraws")

Job = Callable[[], None]


class Redraws:
    """A small pool of threads running the newest job per key, one per key at a time."""

    def __init__(self, workers: int = 8, limit: int = 10_000, name: str = "redraw") -> None:
        self.limit = limit
        self._pending: dict[Hashable, Job] = {}
        self._busy: set[Hashable] = set()
        self._ready: deque[Hashable] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self._workers, self._name = workers, name
        self._threads: list[threading.Thread] = []  # started on first use: most apps built in
        # tests, and every `medpulse worker`, never redraw anything

    def submit(self, key: Hashable, job: Job) -> bool:
        """Queue ``job`` for ``key``; False if the queue is full (the answer is stored either
        way: only the tick on screen is lost, and the next tap redraws)."""
        with self._cond:
            if self._closed:
                return False
            if key not in self._pending and len(self._pending) >= self.limit:
                self.dropped += 1
                log.warning("redraw queue full (%d); a redraw was dropped", self.limit)
                return False
            fresh = key not in self._pending and key not in self._busy
            self._pending[key] = job
            if not self._threads:
                self._start()
            if fresh:
                self._ready.append(key)
                self._cond.notify()
            return True

    def _start(self) -> None:
        for i in range(self._workers):
            t = threading.Thread(target=self._run, name=f"{self._name}-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def idle(self) -> bool:
        with self._cond:
            return not self._pending and not self._busy

    def close(self, timeout: float = 5.0) -> None:
        """Finish what is queued (up to ``timeout``), then stop the threads."""
        with self._cond:
            self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=1)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._ready or self._closed)
                if not self._ready:
                    return
                key = self._ready.popleft()
                job = self._pending.pop(key)
                self._busy.add(key)
            try:
                job()
            except Exception:
                log.exception("redraw failed")
            with self._cond:
                self._busy.discard(key)
                if key in self._pending:  # a newer tap came in while this one ran
                    self._ready.append(key)
                self._cond.notify_all()
