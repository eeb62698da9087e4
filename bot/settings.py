"""Settings from the environment (and an optional .env file).

A missing or malformed value must stop start-up with one line that names the variable and what
it expects: admins configure this from a hosting dashboard and should never see a traceback.
"""

from __future__ import annotations

import base64
import binascii
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SLACK_API_DEFAULT = "https://slack.com/api/"
TEAMS_OPENID_DEFAULT = "https://login.botframework.com/v1/.well-known/openidconfiguration"
TEAMS_TOKEN_DEFAULT = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
# Teams people hold roles by their Entra ID object ID (a UUID), not by their Teams user ID
# ("29:…"), which changes per app and cannot be typed by an admin.
ENTRA_ID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
TEAM_USER = re.compile(r"^T[A-Z0-9]{2,}:[UW][A-Z0-9]{2,}$")


KEY_HINT = (
    " (make one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'; keep it outside the database)"
)


def valid_key(key: str) -> bool:
    """Whether ``key`` is a Fernet key (32 bytes, URL-safe base64): checked at start-up, so a
    bad MEDPULSE_TOKEN_KEY stops the process with one line rather than at the first token."""
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32 and len(key) == 44
    except (binascii.Error, ValueError):
        return False


class SettingsError(Exception):
    """A configuration problem, already phrased for a person."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: str | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_client_id: str | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: str | None = Field(None, alias="SLACK_CLIENT_SECRET")
    slack_api_url: str = Field(SLACK_API_DEFAULT, alias="SLACK_API_URL")
    database_url: str = Field("sqlite:///medpulse.db", alias="DATABASE_URL")
    port: int = Field(3000, alias="PORT", ge=1, le=65535)
    admins: str = Field("", alias="MEDPULSE_ADMINS")
    timezone: str = Field("Europe/London", alias="MEDPULSE_TIMEZONE")
    min_group: int = Field(5, alias="MEDPULSE_MIN_GROUP")
    answer_key: str | None = Field(None, alias="MEDPULSE_ANSWER_KEY")
    token_key: str | None = Field(None, alias="MEDPULSE_TOKEN_KEY", validate_default=True)
    web_threads: int = Field(8, alias="WEB_THREADS", ge=1, le=256)
    retention_months: int = Field(24, alias="MEDPULSE_RETENTION_MONTHS", ge=1, le=240)
    send_concurrency: int = Field(16, alias="MEDPULSE_SEND_CONCURRENCY", ge=1, le=128)
    spread_minutes: int = Field(30, alias="MEDPULSE_SPREAD_MINUTES", ge=0, le=240)
    tick_seconds: float = Field(15.0, alias="MEDPULSE_TICK_SECONDS", gt=0, le=60)
    log_format: str = Field("text", alias="LOG_FORMAT")
    trust_name: str | None = Field(None, alias="MEDPULSE_TRUST_NAME", max_length=80)
    uninstall_grace_days: int = Field(30, alias="MEDPULSE_UNINSTALL_GRACE_DAYS", ge=1, le=365)
    grade_names: str | None = Field(None, alias="MEDPULSE_GRADE_NAMES")
    # Microsoft Teams (integrations.msteams): the bot's single-tenant app registration; the two
    # URLs are Microsoft's unless a test or a sovereign cloud points them elsewhere.
    teams_app_id: str | None = Field(None, alias="TEAMS_APP_ID")
    teams_app_password: str | None = Field(None, alias="TEAMS_APP_PASSWORD")
    teams_tenant_id: str | None = Field(None, alias="TEAMS_TENANT_ID")
    teams_openid_url: str = Field(TEAMS_OPENID_DEFAULT, alias="TEAMS_OPENID_URL")
    teams_token_url: str = Field(TEAMS_TOKEN_DEFAULT, alias="TEAMS_TOKEN_URL")
    teams_rate: float = Field(25.0, alias="TEAMS_TENANT_RATE", gt=0, le=50)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, v: str | None) -> str | None:
        if v and not v.startswith("xoxb-"):
            raise ValueError("a bot token starting with xoxb-")
        return v or None

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, v: str | None) -> str | None:
        if v and not v.startswith("xapp-"):
            raise ValueError("an app-level token starting with xapp-")
        return v or None

    @field_validator("token_key")
    @classmethod
    def _token_key(cls, v: str | None, info: ValidationInfo) -> str | None:
        """Multi-workspace mode keeps Slack tokens in the database: never without this key."""
        if v and not valid_key(v):
            raise ValueError("a Fernet key: 44 characters of URL-safe base64" + KEY_HINT)
        multi = info.data.get("slack_client_id") and info.data.get("slack_client_secret")
        if multi and not v:
            raise ValueError(
                "a key to encrypt the Slack tokens that multi-workspace mode stores" + KEY_HINT
            )
        return v or None

    @field_validator("teams_openid_url", "teams_token_url")
    @classmethod
    def _teams_url(cls, v: str) -> str:
        """https, or plain http to this machine only (the tests' fake Bot Connector)."""
        if not re.match(r"^(https://[^\s/]+|http://(127\.0\.0\.1|localhost)[:/])", v):
            raise ValueError("an https:// URL (http:// only to 127.0.0.1 or localhost)")
        return v

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("an http(s) URL such as https://slack.com/api/")
        return v if v.endswith("/") else v + "/"

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, v: str) -> str:
        if not v.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError(
                "a SQLAlchemy URL: sqlite:///medpulse.db or postgresql+psycopg://user@host/db"
            )
        if v.startswith("postgres://") or v.startswith("postgresql://"):
            v = "postgresql+psycopg://" + v.split("://", 1)[1]
        return v

    @field_validator("admins")
    @classmethod
    def _admins(cls, v: str, info: ValidationInfo) -> str:
        """Plain IDs seed every workspace, so they are only accepted with one workspace; with
        many (OAuth) each admin is named with their trust, TEAM:USER (bot.people.workspaces)."""
        ids = [p.strip() for p in v.split(",") if p.strip()]
        multi = info.data.get("slack_client_id") and info.data.get("slack_client_secret")
        if multi:
            bad = [p for p in ids if not TEAM_USER.match(p)]
            if bad:
                raise ValueError(
                    "TEAM:USER pairs like T012AB:U012CD with SLACK_CLIENT_ID (many workspaces), "
                    f"so no one is an admin of every trust (not {bad[0]!r})"
                )
        bad = [p for p in ids if not (USER_ID.match(p) or TEAM_USER.match(p) or ENTRA_ID.match(p))]
        if bad:
            hint = (
                ": on Teams name the person by their Entra ID object ID, not their Teams ID"
                if bad[0].startswith("29:")
                else ""
            )
            raise ValueError(
                "comma-separated Slack user IDs like U012ABCDEF, or Entra ID object IDs "
                f"(UUIDs) for Teams (not {bad[0]!r}){hint}"
            )
        return ",".join(p.lower() if ENTRA_ID.match(p) else p for p in ids)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Europe/London") from None
        return v

    @field_validator("min_group")
    @classmethod
    def _k(cls, v: int) -> int:
        if v < 3:
            raise ValueError("a whole number of at least 3 (smaller groups could identify people)")
        return v

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, v: str) -> str:
        if v not in ("text", "json"):
            raise ValueError("text or json")
        return v

    @field_validator("grade_names")
    @classmethod
    def _grade_names(cls, v: str | None) -> str | None:
        if not v:
            return None
        from bot.people.grade_names import GradeTableError, table

        try:
            table(v)
        except GradeTableError as exc:
            raise ValueError(f"a YAML file of grade: [names] ({exc})") from None
        return v

    @property
    def admin_ids(self) -> list[str]:
        return [a for a in self.admins.split(",") if a]

    def admin_ids_for(self, team_id: str) -> list[str]:
        """The seed admins of one workspace: its TEAM:USER pairs, and plain IDs (which the
        validator only accepts in single-workspace mode)."""
        out = []
        for a in self.admin_ids:
            team, _, user = a.rpartition(":")
            if team in ("", team_id):
                out.append(user)
        return out

    @property
    def multi_workspace(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def has_slack(self) -> bool:
        return bool(self.slack_bot_token or self.slack_client_id)

    @property
    def has_teams(self) -> bool:
        """All three Teams settings (``teams_settings_problem`` names a missing one)."""
        return bool(self.teams_app_id and self.teams_app_password and self.teams_tenant_id)

    @property
    def any_slack(self) -> bool:
        """Any Slack setting at all: with none, `medpulse run` explains and runs the demo."""
        return any(
            (
                self.slack_bot_token,
                self.slack_signing_secret,
                self.slack_app_token,
                self.slack_client_id,
                self.slack_client_secret,
            )
        )


def teams_settings_problem(s: Settings) -> str | None:
    """Which Teams setting is missing when some are set (None when all or none are)."""
    names = {
        "TEAMS_APP_ID": s.teams_app_id,
        "TEAMS_APP_PASSWORD": s.teams_app_password,
        "TEAMS_TENANT_ID": s.teams_tenant_id,
    }
    have = [n for n, v in names.items() if v]
    if not have or len(have) == len(names):
        return None
    lack = next(n for n, v in names.items() if not v)
    return f"{have[0]} is set but {lack} is not: Teams needs all three (README, 'Connect Microsoft Teams')"


def slack_settings_problem(s: Settings, listener: bool = True) -> str | None:
    """What is missing when the Slack settings are only half there (None when they are whole).
    A worker (``listener`` False) only sends, so it needs no signing secret.

    Half a configuration is a mistake in `.env`, so start-up names the missing variable rather
    than falling back to the demo or failing later on the first request.
    """
    if bool(s.slack_client_id) != bool(s.slack_client_secret):
        have, lack = (
            ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
            if s.slack_client_id
            else ("SLACK_CLIENT_SECRET", "SLACK_CLIENT_ID")
        )
        return f"{have} is set but {lack} is not: multi-workspace mode needs both"
    if not (s.slack_bot_token or s.multi_workspace):
        have = "SLACK_SIGNING_SECRET" if s.slack_signing_secret else "SLACK_APP_TOKEN"
        return (
            f"{have} is set but SLACK_BOT_TOKEN is not: add the Bot User OAuth Token (xoxb-…, "
            "under OAuth & Permissions), or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for many "
            "workspaces"
        )
    if listener and not (s.slack_signing_secret or s.slack_app_token):
        have = "SLACK_BOT_TOKEN" if s.slack_bot_token else "SLACK_CLIENT_ID"
        return (
            f"{have} is set but SLACK_SIGNING_SECRET is not: add the Signing Secret (under "
            "Basic Information) for HTTP mode, or SLACK_APP_TOKEN (xapp-…) for Socket Mode"
        )
    return None


def _describe(err: dict) -> str:
    alias = err["loc"][0] if err.get("loc") else "?"
    field = Settings.model_fields.get(str(alias))  # a checked default is named by its field
    alias = field.alias if field is not None and field.alias else alias
    msg = err.get("msg", "invalid")
    msg = msg.removeprefix("Value error, ")
    if err.get("type", "").startswith(("int_", "greater", "less")):
        msg = f"expected a whole number ({msg})"
    else:
        msg = f"expected {msg}"
    got = err.get("input")
    return f"{alias}: {msg}; got {got!r}"


def load_settings(**overrides) -> Settings:
    """Read settings, turning validation errors into one readable line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        errors = exc.errors()
        raise SettingsError(_describe(errors[0])) from None
