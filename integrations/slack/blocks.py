"""Block Kit, written once: the blocks and elements every Slack view of medpulse is made of.

Built with ``slack_sdk.models.blocks`` (its classes know Block Kit's shapes) and clipped here to
Slack's limits, so a long department name or status never makes Slack refuse a whole view.
Also the one definition of what a Slack user ID looks like.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
    TimePickerElement,
)

#: A Slack user ID: U (or W, on Enterprise Grid) and upper-case letters and digits. Slack
#: documents no fixed length; real IDs run 9 to 11 characters.
_USER = r"[UW][A-Z0-9]{2,}"
USER_ID = re.compile(rf"^{_USER}$")
#: A person as Slack escapes a mention in a command's text: ``<@U123>`` or ``<@U123|name>``.
USER_MENTION = re.compile(rf"^<@({_USER})(?:\|([^>]*))?>$")
#: A person as typed at a shell (``medpulse forget``): the ID, ``@U123`` or a pasted mention.
_USER_TYPED = re.compile(rf"^<?@?({_USER})(?:\|[^>]*)?>?$")
#: A user or channel ID inside free text (an audit entry's value): the same letters, with at
#: least one digit so an upper-case word ("USE", "CANCEL") is never taken for one.
ID_IN_TEXT = re.compile(r"\b([UWCG](?=[A-Z0-9]*[0-9])[A-Z0-9]{4,})\b")

TEXT_MAX = 3000  # a section's text
OPTION_MAX = 75  # an option's label
OPTIONS_MAX = 100  # options in one select
CONTEXT_MAX = 2000


def is_user_id(text: str) -> bool:
    return bool(USER_ID.match(text))


def user_id_in(text: str) -> str | None:
    """The user ID in what was typed (``U123``, ``@U123``, ``<@U123|name>``), or None."""
    m = _USER_TYPED.match(text.strip())
    return m.group(1) if m else None


def plain(text: str) -> dict:
    return PlainTextObject(text=text).to_dict()


def section(text: str, block_id: str | None = None, accessory: dict | None = None) -> dict:
    block = SectionBlock(text=MarkdownTextObject(text=text[:TEXT_MAX]), block_id=block_id)
    out = block.to_dict()
    if accessory is not None:
        out["accessory"] = accessory
    return out


def sections(paragraphs: Iterable[str]) -> list[dict]:
    return [section(p) for p in paragraphs if p]


def context(text: str) -> dict:
    return ContextBlock(elements=[MarkdownTextObject(text=text[:CONTEXT_MAX])]).to_dict()


def header(text: str) -> dict:
    return HeaderBlock(text=text[:150]).to_dict()


def divider() -> dict:
    return DividerBlock().to_dict()


def option(label: str, value: str) -> dict:
    return Option(text=PlainTextObject(text=label[:OPTION_MAX]), value=value).to_dict()


def select(
    action_id: str,
    options: Iterable[tuple[str, str]],
    current: str | None = None,
    placeholder: str | None = None,
) -> dict:
    """A single-choice menu over (value, label) pairs, showing ``current`` when it is one."""
    opts = [
        Option(text=PlainTextObject(text=label[:OPTION_MAX]), value=value)
        for value, label in list(options)[:OPTIONS_MAX]
    ]
    chosen = next((o for o in opts if current is not None and o.value == current), None)
    return StaticSelectElement(
        action_id=action_id,
        placeholder=PlainTextObject(text=placeholder) if placeholder else None,
        options=opts,
        initial_option=chosen,
    ).to_dict()


def button(
    action_id: str,
    label: str,
    primary: bool = False,
    confirm: tuple[str, str, str, str] | None = None,
    value: str | None = None,
) -> dict:
    """A button; ``confirm`` is (title, text, yes, no) for one that asks first."""
    ask = None
    if confirm is not None:
        title, text, yes, no = confirm
        ask = ConfirmObject(title=title, text=PlainTextObject(text=text), confirm=yes, deny=no)
    return ButtonElement(
        action_id=action_id,
        text=label,
        style="primary" if primary else None,
        confirm=ask,
        value=value,
    ).to_dict()


def actions(block_id: str, elements: list[dict]) -> dict:
    return ActionsBlock(block_id=block_id, elements=elements).to_dict()


def multi_select(action_id: str, options: Iterable[tuple[str, str]], picked=()) -> dict:
    opts = [
        Option(text=PlainTextObject(text=label[:OPTION_MAX]), value=value)
        for value, label in list(options)[:OPTIONS_MAX]
    ]
    return StaticMultiSelectElement(
        action_id=action_id,
        options=opts,
        initial_options=[o for o in opts if o.value in picked] or None,
    ).to_dict()


def number(action_id: str, value: str | None, lo: int | None, hi: int | None) -> dict:
    return NumberInputElement(
        action_id=action_id,
        is_decimal_allowed=False,
        initial_value=value,
        min_value=None if lo is None else str(lo),
        max_value=None if hi is None else str(hi),
    ).to_dict()


def time_picker(action_id: str, value: str | None) -> dict:
    return TimePickerElement(action_id=action_id, initial_time=value or None).to_dict()


def text_input(
    action_id: str,
    multiline: bool = False,
    max_length: int | None = None,
    placeholder: str | None = None,
    value: str | None = None,
) -> dict:
    return PlainTextInputElement(
        action_id=action_id,
        multiline=multiline or None,
        max_length=max_length,
        placeholder=PlainTextObject(text=placeholder) if placeholder else None,
        initial_value=value or None,
    ).to_dict()


def input_block(
    block_id: str, label: str, element: dict, hint: str | None = None, optional: bool = False
) -> dict:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label[:2000]),
        element=element,
        hint=PlainTextObject(text=hint) if hint else None,
        optional=optional or None,
    ).to_dict()


def modal(
    title: str,
    blocks: list[dict],
    close: str = "Close",
    submit: str | None = None,
    callback_id: str | None = None,
    private_metadata: str | None = None,
) -> dict:
    """A modal view (title clipped to Slack's 24 characters)."""
    view: dict = {"type": "modal"}
    if callback_id:
        view["callback_id"] = callback_id
    if private_metadata:
        view["private_metadata"] = private_metadata
    view["title"] = plain(title[:24])
    if submit:
        view["submit"] = plain(submit)
    view["close"] = plain(close)
    view["blocks"] = blocks
    return view
