"""The core context: everything a listener or job needs, passed explicitly (no globals)."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.chat.gateway import ChatGateway
from bot.chat.ids import Platform, Tenant
from bot.clock import Clock, SystemClock
from bot.rounds.facts import Memo
from bot.settings import Settings
from storage.db import Database


def derive_link_key(secret: str | None) -> bytes:
    """The key for answer links, derived from a configured secret. It never goes in the
    database (design.md's anonymity model).

    Processes that accept answers must agree on it, so it comes from configuration:
    MEDPULSE_ANSWER_KEY, or a fallback the process chooses (``server.link_key``). With no secret
    (the local demo) it is random per process, which only means answers cannot be changed after
    a restart.
    """
    if secret:
        return hmac.new(secret.encode(), b"medpulse answer link v1", hashlib.sha256).digest()
    return os.urandom(32)


@dataclass
class Core:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    gateway_for: Callable[[str], ChatGateway] | None = None  # tenant ID -> its platform's gateway
    # tenant ID -> its platform; unset, a tenant's gateway says (asked once per tenant)
    platform_of: Callable[[str], Platform] | None = None
    link_key: bytes = b""
    known_teams: dict[str, int] = field(default_factory=dict)
    installations: object | None = None  # InstallationTokens in multi-workspace (OAuth) mode
    facts: Memo = field(default_factory=Memo)  # bot.rounds.facts: what a round fixed at creation
    on_stop: list[Callable[[], None]] = field(default_factory=list)  # run by stop(), in order
    _platforms: dict[str, Platform] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not self.link_key:
            self.link_key = derive_link_key(self.settings.answer_key)

    @property
    def k(self) -> int:
        """The minimum group size; storage.anonymity enforces it on every figure shown."""
        return self.settings.min_group

    def stop(self) -> None:
        """Let background work started by listeners (redraws) finish before the process exits."""
        for hook in self.on_stop:
            hook()

    def gateway(self, team_id: str) -> ChatGateway:
        """The chat gateway of one tenant (a Slack workspace, a Teams tenant): the only way the
        core reaches a chat platform."""
        if self.gateway_for is None:
            raise RuntimeError("no chat gateway configured")
        return self.gateway_for(team_id)

    def tenant(self, team_id: str) -> Tenant:
        """(platform, tenant ID): the key of everything per tenant, such as its rate limiter."""
        platform = self._platforms.get(team_id)
        if platform is None:
            if self.platform_of is not None:
                platform = self.platform_of(team_id)
            else:
                platform = self.gateway(team_id).platform
            self._platforms[team_id] = platform
        return Tenant(platform, team_id)
