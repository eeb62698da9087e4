"""When Slack's Web API cannot be reached: 503 and one log line, not a 500 and a traceback.

Bolt calls ``auth.test`` on the first request in single-workspace mode, and listeners call the
Web API before they ack; during a Slack outage either raises a connection error, which Bolt
would log with a long traceback and answer 500. Slack retries 5xx anyway; 503 says truthfully
that the service is briefly unavailable, and the log says so in one line.
"""

from __future__ import annotations

import logging
import socket
import urllib.error

from slack_bolt import App
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

log = logging.getLogger("medpulse.slack")

_SDK_LOGGER = "slack_sdk.web.base_client"
_SDK_NOISE = (
    "Failed to send a request to Slack API server",
    "A retry handler found",
    "Going to retry the same request",
)


def slack_unreachable(error: BaseException) -> str | None:
    """A short reason when ``error`` means Slack's API did not answer, else None."""
    from integrations.slack.gateway import RateLimited, Transient

    if isinstance(error, (Transient, RateLimited)):
        return error.error
    if isinstance(error, SlackApiError):
        status = error.response.status_code if error.response is not None else 0
        return f"HTTP {status}" if status >= 500 or status == 429 else None
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    if isinstance(error, (ConnectionError, socket.timeout, TimeoutError)):
        return type(error).__name__
    return None


def register(app: App) -> None:
    """Answer 503 for Slack outages; anything else keeps Bolt's own handling (log, 500)."""

    def on_error(error: Exception, body: dict, logger: logging.Logger):
        reason = slack_unreachable(error)
        if reason is None:
            logger.exception(f"unhandled error: {error}")
            return None
        kind = body.get("command") or body.get("type") or "request"
        log.warning("Slack API unreachable (%s) while handling %s", reason, kind)
        return BoltResponse(status=503, body="")

    app.error(on_error)
    sdk = logging.getLogger(_SDK_LOGGER)
    if not any(getattr(f, "medpulse_outage", False) for f in sdk.filters):
        quiet = _quiet_sdk_noise
        quiet.medpulse_outage = True
        sdk.addFilter(quiet)


def _quiet_sdk_noise(record: logging.LogRecord) -> bool:
    """slack_sdk logs each failed attempt itself; the line above is the one that counts."""
    return not record.getMessage().startswith(_SDK_NOISE)
