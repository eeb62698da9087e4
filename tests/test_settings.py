"""Settings: defaults, one readable line per malformed value, .env files, URL normalisation."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings

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
