"""Settings: defaults, one readable line per malformed value, .env files, URL normalisation."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from pathlib import Path

import pytest

from bot.core import derive_link_key
from bot.settings import Settings, SettingsError, load_settings
from server.link_key import answer_link_key

README = Path(__file__).resolve().parent.parent / "README.md"

CLEAN = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_API_URL",
    "DATABASE_URL",
    "PORT",
    "MEDPULSE_ADMINS",
    "MEDPULSE_TIMEZONE",
    "MEDPULSE_MIN_GROUP",
    "MEDPULSE_ANSWER_KEY",
    "MEDPULSE_RETENTION_MONTHS",
    "MEDPULSE_TRUST_NAME",
    "MEDPULSE_SEND_CONCURRENCY",
    "MEDPULSE_SPREAD_MINUTES",
    "MEDPULSE_TICK_SECONDS",
    "WEB_THREADS",
    "LOG_FORMAT",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in CLEAN:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults():
    s = load_settings()
    assert s.database_url == "sqlite:///medpulse.db"
    assert (s.port, s.timezone, s.min_group) == (3000, "Europe/London", 5)
    assert s.slack_api_url == "https://slack.com/api/"
    assert not s.has_slack and s.admin_ids == []


@pytest.mark.parametrize(
    "name,value,expect",
    [
        ("MEDPULSE_MIN_GROUP", "2", "at least 3"),
        ("MEDPULSE_MIN_GROUP", "five", "whole number"),
        ("PORT", "abc", "whole number"),
        ("PORT", "70000", "whole number"),
        ("DATABASE_URL", "mysql://x", "SQLAlchemy URL"),
        ("MEDPULSE_TIMEZONE", "Mars/Base", "IANA time zone"),
        ("MEDPULSE_ADMINS", "U123ABC,bob", "Slack user IDs"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-wrong", "xapp-"),
        ("SLACK_API_URL", "ftp://slack", "http(s) URL"),
        ("LOG_FORMAT", "xml", "text or json"),
        ("WEB_THREADS", "0", "whole number"),
        ("MEDPULSE_SEND_CONCURRENCY", "many", "whole number"),
        ("MEDPULSE_RETENTION_MONTHS", "0", "whole number"),
    ],
)
def test_each_malformed_value_is_one_line_naming_the_variable(monkeypatch, name, value, expect):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith(name + ":") and expect in message and "\n" not in message


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("MEDPULSE_MIN_GROUP=7\nMEDPULSE_ADMINS=U01AAA, U02BBB\n")
    s = load_settings()
    assert s.min_group == 7 and s.admin_ids == ["U01AAA", "U02BBB"]


def test_postgres_urls_are_normalised_to_psycopg(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db/medpulse")
    assert load_settings().database_url == "postgresql+psycopg://u:p@db/medpulse"


def test_postgresql_urls_gain_the_psycopg_driver_and_explicit_drivers_are_kept(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db:5433/medpulse")
    assert load_settings().database_url == "postgresql+psycopg://u@db:5433/medpulse"
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db/medpulse")
    assert load_settings().database_url == "postgresql+psycopg://u@db/medpulse"


def test_environment_wins_over_dotenv(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("PORT=4000\n")
    monkeypatch.setenv("PORT", "5000")
    assert load_settings().port == 5000


def _readme_config_table() -> dict[str, str]:
    """Variable -> default cell of the README's Configuration table."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            names, default = (cell.strip() for cell in line.strip("|").split("|")[:2])
            rows |= dict.fromkeys(re.findall(r"`([A-Z_]+)`", names), default)
    return rows


def _as_shown(default: object) -> str:
    if default in (None, ""):
        return "—"
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return f"`{default}`"


def test_the_readme_configuration_table_matches_the_settings():
    table = _readme_config_table()
    fields = {f.alias: f.default for f in Settings.model_fields.values()}
    assert set(table) == set(fields)
    for name, default in fields.items():
        if name == "MEDPULSE_ANSWER_KEY":  # no fixed default: derived at start-up
            assert default is None and "platform secret" in table[name]
        else:
            assert table[name] == _as_shown(default), name


def test_env_example_names_every_setting_and_loads_once_uncommented(tmp_path):
    example = (README.parent / ".env.example").read_text()
    named = set(re.findall(r"^# ([A-Z_]+)=", example, flags=re.M))
    assert named == {f.alias for f in Settings.model_fields.values()}
    # Uncommenting any line that is not a placeholder, trailing remark and all, gives valid values.
    lines = [
        line.removeprefix("# ")
        for line in example.splitlines()
        if re.match(r"# [A-Z_]+=", line) and "=..." not in line and "-..." not in line
    ]
    assert len(lines) >= 12
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    s = load_settings()
    assert s.admin_ids == ["U012ABCDEF"] and s.database_url == "sqlite:///medpulse.db"
    assert (s.log_format, s.min_group, s.tick_seconds) == ("text", 5, 15.0)


# The key earlier releases derived from a platform secret, written out (HMAC-SHA256 of a fixed
# label under the secret) so the fallback is checked against the old rule, not against itself.
def _old_rule(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"medpulse answer link v1", hashlib.sha256).digest()


def test_the_answer_key_is_used_and_no_platform_secret_is_consulted(monkeypatch, caplog):
    monkeypatch.setenv("MEDPULSE_ANSWER_KEY", "a-long-random-answer-key")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "slack-secret")
    with caplog.at_level(logging.INFO, logger="medpulse"):
        key = answer_link_key(load_settings(), env={"TEAMS_APP_PASSWORD": "teams-password"})
    assert key == _old_rule("a-long-random-answer-key")
    assert "MEDPULSE_ANSWER_KEY" not in caplog.text


@pytest.mark.parametrize(
    "slack_env,teams_password,secret",
    [
        ({"SLACK_SIGNING_SECRET": "slack-secret"}, "teams-password", "slack-secret"),
        ({"SLACK_APP_TOKEN": "xapp-1-socket"}, None, "xapp-1-socket"),
        ({}, "teams-password", "teams-password"),
    ],
)
def test_without_the_answer_key_an_install_keeps_its_old_key_and_is_told_to_set_one(
    monkeypatch, caplog, slack_env, teams_password, secret
):
    """Open rounds' answer links keep working across the upgrade (same key as before), and the
    log line recommends MEDPULSE_ANSWER_KEY."""
    for name, value in slack_env.items():
        monkeypatch.setenv(name, value)
    env = {"TEAMS_APP_PASSWORD": teams_password} if teams_password else {}
    with caplog.at_level(logging.INFO, logger="medpulse"):
        key = answer_link_key(load_settings(), env=env)
    assert key == _old_rule(secret)
    assert "set MEDPULSE_ANSWER_KEY" in caplog.text


def test_with_no_secret_at_all_each_process_draws_its_own_key(caplog):
    with caplog.at_level(logging.INFO, logger="medpulse"):
        first = answer_link_key(load_settings(), env={})
        second = answer_link_key(load_settings(), env={})
    assert len(first) == len(second) == 32 and first != second
    assert "random key" in caplog.text and "set MEDPULSE_ANSWER_KEY" in caplog.text


def test_the_core_derives_its_key_from_the_answer_key_alone(monkeypatch):
    """bot.core knows no platform: a core built without the process layer ignores the Slack
    signing secret."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "slack-secret")
    assert derive_link_key(load_settings().answer_key) != _old_rule("slack-secret")
    monkeypatch.setenv("MEDPULSE_ANSWER_KEY", "a-long-random-answer-key")
    assert derive_link_key(load_settings().answer_key) == _old_rule("a-long-random-answer-key")


def test_admins_may_be_named_by_entra_id_object_id_for_teams(monkeypatch):
    """Teams roles are keyed by the Entra ID object ID: MEDPULSE_ADMINS takes one (lower-cased,
    as Teams sends it), and a Teams user ID ("29:…") is refused with the reason."""
    oid = "7A4661B4-F87C-4819-B9F2-14B0B3FD37DA"
    monkeypatch.setenv("MEDPULSE_ADMINS", f"U012ABCDEF,{oid}")
    assert load_settings(_env_file=None).admin_ids == ["U012ABCDEF", oid.lower()]
    monkeypatch.setenv("MEDPULSE_ADMINS", "29:1fake000022e6fdf72dcc90ca5f")
    with pytest.raises(SettingsError, match="Entra ID object ID, not their Teams ID"):
        load_settings(_env_file=None)
