"""The Teams settings as the adapter uses them (``TEAMS_*`` in ``bot.settings``, validated there;
``from_env`` reads the same variables for the tools that run without the core's settings)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

OPENID_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
TOKEN_SCOPE = "https://api.botframework.com/.default"
ISSUER = "https://api.botframework.com"
CHANNEL = "msteams"


class TeamsConfigError(ValueError):
    """A missing or malformed Teams setting, named in one line."""


@dataclass(frozen=True)
class TeamsConfig:
    """The app's identity and the two URLs tests and sovereign clouds replace.

    ``token_url`` may contain ``{tenant}``; single-tenant is the default because new
    multi-tenant bot registrations are no longer possible.
    """

    app_id: str
    app_password: str
    tenant_id: str
    openid_url: str = OPENID_URL
    token_url: str = TOKEN_URL

    @property
    def resolved_token_url(self) -> str:
        return self.token_url.replace("{tenant}", self.tenant_id)

    @classmethod
    def from_settings(cls, settings) -> TeamsConfig | None:
        """None unless all three of app ID, password and tenant are set."""
        if not settings.has_teams:
            return None
        return cls(
            app_id=settings.teams_app_id,
            app_password=settings.teams_app_password,
            tenant_id=settings.teams_tenant_id,
            openid_url=settings.teams_openid_url,
            token_url=settings.teams_token_url,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TeamsConfig | None:
        """None when Teams is not configured at all; an error naming the variable when it is
        half configured."""
        env = os.environ if env is None else env
        names = ("TEAMS_APP_ID", "TEAMS_APP_PASSWORD", "TEAMS_TENANT_ID")
        values = {name: (env.get(name) or "").strip() for name in names}
        if not any(values.values()):
            return None
        for name, value in values.items():
            if not value:
                raise TeamsConfigError(f"{name} is required when any TEAMS_ setting is set")
        openid = (env.get("TEAMS_OPENID_URL") or OPENID_URL).strip()
        token = (env.get("TEAMS_TOKEN_URL") or TOKEN_URL).strip()
        for name, url in (("TEAMS_OPENID_URL", openid), ("TEAMS_TOKEN_URL", token)):
            if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
                raise TeamsConfigError(f"{name} must be an https:// URL (got {url!r})")
        return cls(
            app_id=values["TEAMS_APP_ID"],
            app_password=values["TEAMS_APP_PASSWORD"],
            tenant_id=values["TEAMS_TENANT_ID"],
            openid_url=openid,
            token_url=token,
        )
