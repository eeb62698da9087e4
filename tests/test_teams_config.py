"""Teams settings: absent means off, half set is one clear error, URLs default to Microsoft's."""

from __future__ import annotations

import pytest

from integrations.msteams.config import OPENID_URL, TeamsConfig, TeamsConfigError
from integrations.msteams.events import strip_mentions

FULL = {"TEAMS_APP_ID": "app", "TEAMS_APP_PASSWORD": "pw", "TEAMS_TENANT_ID": "tenant-1"}


def test_no_teams_settings_means_teams_is_off():
    assert TeamsConfig.from_env({"SLACK_BOT_TOKEN": "xoxb-1"}) is None


def test_defaults_are_microsofts_and_single_tenant():
    config = TeamsConfig.from_env(FULL)
    assert config.openid_url == OPENID_URL
    assert config.resolved_token_url == (
        "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
    )


@pytest.mark.parametrize("missing", sorted(FULL))
def test_half_configured_names_the_missing_variable(missing):
    env = {k: v for k, v in FULL.items() if k != missing}
    with pytest.raises(TeamsConfigError, match=missing):
        TeamsConfig.from_env(env)


def test_a_plain_http_key_url_is_refused_outside_this_machine():
    with pytest.raises(TeamsConfigError, match="TEAMS_OPENID_URL"):
        TeamsConfig.from_env({**FULL, "TEAMS_OPENID_URL": "http://login.example/openid"})
    local = TeamsConfig.from_env({**FULL, "TEAMS_TOKEN_URL": "http://127.0.0.1:9/{tenant}/t"})
    assert local.resolved_token_url == "http://127.0.0.1:9/tenant-1/t"


def test_mentions_are_stripped_from_channel_commands():
    assert strip_mentions("<at>medpulse</at> send now") == "send now"
    assert strip_mentions("  <AT>medpulse</AT>\n help  ") == "help"
    assert strip_mentions("status") == "status"
