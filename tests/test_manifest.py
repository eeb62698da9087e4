"""The Slack app manifest: the features the code relies on, and a scope for every API call."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from integrations.slack.gateway import BOT_SCOPES

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = yaml.safe_load((ROOT / "slack-app-manifest.yml").read_text())

# Web API method -> the bot scope it needs (none: no scope needed).
SCOPE_FOR = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_delete": "chat:write",
    "chat_postEphemeral": "chat:write",
    "conversations_members": "channels:read",
    "conversations_info": "channels:read",
    "conversations_list": "channels:read",
    "conversations_history": "im:history",
    "users_conversations": "im:read",
    "users_info": "users:read",
    "users_list": "users:read",
    "users_lookupByEmail": "users:read.email",
    "files_upload_v2": "files:write",
    "views_open": None,
    "views_publish": None,
    "views_update": None,
    "views_push": None,
    "auth_test": None,
    "oauth_v2_access": None,
}


def _called_methods() -> set[str]:
    names = set()
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "integrations" / "slack").rglob("*.py")]:
        text = path.read_text()
        names |= set(re.findall(r'_call\(\s*"(\w+)"', text))
        names |= set(re.findall(r"client\.(\w+)\(", text))
    return {n for n in names if "_" in n and n[0].islower()}


def test_pulse_command_escapes_mentions():
    (cmd,) = MANIFEST["features"]["slash_commands"]
    assert cmd["command"] == "/pulse" and cmd["should_escape"] is True
    assert cmd["url"].endswith("/slack/events")


def test_interactivity_home_and_events():
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    home = MANIFEST["features"]["app_home"]
    assert (
        home["home_tab_enabled"]
        and home["messages_tab_enabled"]
        and not home["messages_tab_read_only_enabled"]
    )
    assert "app_home_opened" in MANIFEST["settings"]["event_subscriptions"]["bot_events"]


def test_every_called_method_has_its_scope_and_no_scope_is_spare():
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    called = _called_methods()
    unknown = called - set(SCOPE_FOR)
    assert not unknown, f"add these methods to SCOPE_FOR: {unknown}"
    needed = {SCOPE_FOR[m] for m in called if SCOPE_FOR[m]} | {"commands", "groups:read"}
    assert needed <= scopes
    assert scopes == set(BOT_SCOPES)  # the OAuth install asks for exactly the manifest's scopes
    assert scopes <= needed, f"scopes nothing uses: {scopes - needed}"


def test_every_url_points_at_a_path_the_web_process_serves():
    source = (ROOT / "server" / "runtime.py").read_text()
    mounted = set(re.findall(r'router\.mount\("([^"]+)"', source))
    settings = MANIFEST["settings"]
    urls = [
        MANIFEST["features"]["slash_commands"][0]["url"],
        settings["interactivity"]["request_url"],
        settings["event_subscriptions"]["request_url"],
        *MANIFEST["oauth_config"]["redirect_urls"],
    ]
    for url in urls:
        assert url.startswith("https://YOUR-HOST/"), url
        assert "/" + url.split("/", 3)[3] in mounted, url
    assert MANIFEST["features"]["bot_user"]["display_name"] == "medpulse"
