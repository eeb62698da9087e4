"""Logging: one line per event, JSON when LOG_FORMAT=json. Never tokens, answers or comments."""

from __future__ import annotations

import json
import logging
import re
import sys

TOKEN = re.compile(r"xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+")


class Redact(logging.Filter):
    """A last line of defence: tokens that slip into a message are masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if TOKEN.search(msg):
            record.msg, record.args = TOKEN.sub("xox?-[redacted]", msg), ()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def setup(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Redact())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "slack_bolt", "slack_sdk", "waitress", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
