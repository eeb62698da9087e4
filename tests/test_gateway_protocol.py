"""Every chat adapter implements the whole gateway protocol, with the protocol's parameters.

``ChatGateway`` is a ``typing.Protocol``: nothing checks it at run time, so a method an adapter
lacks (or names differently) would only show when the core first calls it in production.
"""

from __future__ import annotations

import inspect

import pytest

from bot.chat.gateway import Capabilities, ChatGateway
from integrations.msteams.gateway import TeamsGateway
from integrations.slack.gateway import SlackGateway
from tests.text_adapter import TextGateway

METHODS = sorted(
    name
    for name, fn in vars(ChatGateway).items()
    if inspect.isfunction(fn) and not name.startswith("_")
)


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_the_protocol_lists_what_the_core_asks():
    assert METHODS == [
        "channel_info",
        "delete",
        "find_sent",
        "members",
        "open_form",
        "post_channel",
        "post_image",
        "publish_home",
        "send_dm",
        "update",
        "user",
        "user_by_email",
    ]


@pytest.mark.parametrize("adapter", [SlackGateway, TeamsGateway, TextGateway])
def test_adapter_implements_every_method(adapter):
    assert isinstance(adapter.capabilities, Capabilities)
    assert adapter.platform in ("slack", "teams", "text")
    for name in METHODS:
        theirs = getattr(adapter, name, None)
        assert callable(theirs), f"{adapter.__name__} lacks {name}"
        wanted = _params(getattr(ChatGateway, name))
        assert _params(theirs)[: len(wanted)] == wanted, f"{adapter.__name__}.{name}"


def test_capabilities_say_what_each_platform_can_do():
    slack = SlackGateway.capabilities
    assert slack.read_back and slack.ephemeral and slack.response_url and slack.home
    assert slack.forms and slack.directory
    assert TextGateway.capabilities == Capabilities()
    assert TeamsGateway.capabilities == Capabilities()  # no read-back, home, forms, directory


def test_slack_draws_forms_and_homes_within_block_kit_limits():
    from bot.chat.views import Field, FormView, HomeView, Section
    from integrations.slack.forms import home_view
    from integrations.slack.views import modal
    from tests.blockkit import validate

    form = FormView(
        "pulse_comment",
        "Add a comment to this pulse",  # longer than Slack's 24-character modal title
        (
            Field("comment", "Your comment", kind="multiline", hint="Stored without your name."),
            Field("theme", "What is it about?", "choice", (("a", "A"), ("b", "B")), "b", True),
            Field("n", "How many", kind="number", value="3"),
        ),
        private_metadata="42",
    )
    view = modal(form)
    assert validate(view["blocks"], surface="modal") == []
    assert view["callback_id"] == "pulse_comment" and view["private_metadata"] == "42"
    assert len(view["title"]["text"]) <= 24
    by_id = {b["block_id"]: b for b in view["blocks"]}
    assert by_id["comment"]["element"]["multiline"] is True
    assert by_id["theme"]["optional"] is True
    assert by_id["theme"]["element"]["initial_option"]["value"] == "b"
    assert by_id["n"]["element"]["type"] == "number_input"
    home = home_view(HomeView("Your medpulse", (Section("Privacy", ("one", "two")),)))
    assert home["type"] == "home" and validate(home["blocks"], surface="home") == []
    assert home["blocks"][1]["text"]["text"] == "*Privacy*\none\ntwo"
