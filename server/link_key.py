"""The answer-link key for this process: MEDPULSE_ANSWER_KEY, or a fallback for installs that
never set it.

Installs made before MEDPULSE_ANSWER_KEY existed derived the key from the Slack signing secret
(or, in Socket Mode, the app token); deriving it the same way keeps their open rounds' answer
links working across the upgrade. The fallback ties the key to a platform credential that is
rotated for other reasons (rotating it would make open rounds' answers unchangeable), so the
log recommends setting MEDPULSE_ANSWER_KEY (at INFO: the serving processes log it at start-up,
while operator commands, which configure no logging, keep their one-line output). The core only ever sees the key
(``bot.core.derive_link_key``), never which platform secret it came from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from bot.core import derive_link_key
from bot.settings import Settings

log = logging.getLogger("medpulse")


def _platform_secrets(settings: Settings, env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """Each platform's secret a fallback may come from, in the order earlier releases used."""
    return [
        ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
        ("SLACK_APP_TOKEN", settings.slack_app_token),
        ("TEAMS_APP_PASSWORD", (env.get("TEAMS_APP_PASSWORD") or "").strip() or None),
    ]


def answer_link_key(settings: Settings, env: Mapping[str, str] | None = None) -> bytes:
    """The key every process of this install derives alike (see the module docstring)."""
    if settings.answer_key:
        return derive_link_key(settings.answer_key)
    for name, secret in _platform_secrets(settings, os.environ if env is None else env):
        if secret:
            log.info(
                "MEDPULSE_ANSWER_KEY is not set: the answer-link key is derived from %s;"
                " set MEDPULSE_ANSWER_KEY (any long random string, the same in every process)"
                " so that rotating %s does not stop doctors changing answers in open rounds",
                name,
                name,
            )
            return derive_link_key(secret)
    log.info(
        "MEDPULSE_ANSWER_KEY is not set and no platform secret is configured: answer links use"
        " a random key for this process (answers cannot be changed after a restart);"
        " set MEDPULSE_ANSWER_KEY"
    )
    return derive_link_key(None)
