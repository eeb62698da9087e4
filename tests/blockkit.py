"""A small validator for the Block Kit we send, against Slack's documented limits.

    problems = validate(blocks)                    # a message: at most 50 blocks
    problems = validate(blocks, surface="modal")   # modals and App Home: at most 100
    problems = validate_message(text, blocks)      # plus the top-level notification text

Returns a list of readable problems (empty when everything is within limits). Limits, from the
Block Kit reference: section text 3000 and at most 10 fields of 2000 each; header plain_text 150;
context 1-10 elements; actions 1-25 elements; block_id and action_id 255; button text 75 (plain
text) and value 2000; image needs image_url (3000) and alt_text (2000); input label 2000; a
message's top-level text is truncated beyond 40,000 characters.
"""

from __future__ import annotations

SURFACE_BLOCKS = {"message": 50, "modal": 100, "home": 100}
SECTION_TEXT, FIELD_TEXT, MAX_FIELDS = 3000, 2000, 10
HEADER_TEXT = 150
CONTEXT_ELEMENTS, ACTIONS_ELEMENTS = 10, 25
BUTTON_TEXT, BUTTON_VALUE = 75, 2000
ACTION_ID = BLOCK_ID = 255
IMAGE_URL, ALT_TEXT = 3000, 2000
MESSAGE_TEXT = 40_000


def validate(blocks: list[dict], *, surface: str = "message") -> list[str]:
    """Problems found (empty when the blocks are within limits)."""
    problems: list[str] = []
    limit = SURFACE_BLOCKS[surface]
    if len(blocks) > limit:
        problems.append(f"{len(blocks)} blocks > {limit}")
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(ids) != len(set(ids)):
        problems.append("block_id repeated")
    for i, b in enumerate(blocks):
        problems += [f"block {i} ({b.get('type')}): {p}" for p in _block(b)]
    return problems


def validate_message(text: str, blocks: list[dict]) -> list[str]:
    """A chat.postMessage: the notification text is needed with blocks (screen readers)."""
    problems = validate(blocks)
    if not text:
        problems.append("no top-level text (notifications and screen readers need it)")
    elif len(text) > MESSAGE_TEXT:
        problems.append(f"text {len(text)} > {MESSAGE_TEXT}")
    return problems


def _text_ok(obj, limit: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("mrkdwn", "plain_text"):
        return [f"bad text object {obj!r}"[:120]]
    if plain_only and obj["type"] != "plain_text":
        return ["must be plain_text"]
    text = obj.get("text", "")
    if not isinstance(text, str) or not text.strip():
        return ["empty text"]
    return [f"text {len(text)} > {limit}"] if len(text) > limit else []


def _block(b: dict) -> list[str]:
    kind = b.get("type")
    out: list[str] = []
    if len(b.get("block_id", "")) > BLOCK_ID:
        out.append("block_id too long")
    check = _CHECKS.get(kind)
    if check is None:
        return [*out, f"unknown block type {kind!r}"]
    return out + check(b)


def _header(b: dict) -> list[str]:
    return _text_ok(b.get("text"), HEADER_TEXT, plain_only=True)


def _section(b: dict) -> list[str]:
    out = []
    if "text" not in b and "fields" not in b:
        out.append("section needs text or fields")
    if "text" in b:
        out += _text_ok(b["text"], SECTION_TEXT)
    fields = b.get("fields", [])
    if len(fields) > MAX_FIELDS:
        out.append(f"{len(fields)} fields > {MAX_FIELDS}")
    for f in fields:
        out += _text_ok(f, FIELD_TEXT)
    if "accessory" in b:
        out += _element(b["accessory"])
    return out


def _context(b: dict) -> list[str]:
    els = b.get("elements", [])
    out = [] if 1 <= len(els) <= CONTEXT_ELEMENTS else [f"context has {len(els)} elements"]
    for e in els:
        out += _image_element(e) if e.get("type") == "image" else _text_ok(e, SECTION_TEXT)
    return out


def _actions(b: dict) -> list[str]:
    els = b.get("elements", [])
    out = [] if 1 <= len(els) <= ACTIONS_ELEMENTS else [f"actions has {len(els)} elements"]
    ids = [e.get("action_id") for e in els if e.get("action_id")]
    if len(ids) != len(set(ids)):
        out.append("action_id repeated in one block")
    for e in els:
        out += _element(e)
    return out


def _image(b: dict) -> list[str]:
    return _image_element(b)


def _image_element(e: dict) -> list[str]:
    out = []
    url = e.get("image_url") or (e.get("slack_file") and "slack_file")
    if not url:
        out.append("image needs image_url or slack_file")
    elif len(url) > IMAGE_URL:
        out.append("image_url too long")
    alt = e.get("alt_text", "")
    if not alt:
        out.append("image needs alt_text")
    elif len(alt) > ALT_TEXT:
        out.append("alt_text too long")
    return out


def _input(b: dict) -> list[str]:
    out = _text_ok(b.get("label"), 2000, plain_only=True)
    if "element" not in b:
        out.append("input needs an element")
    return out


def _element(e: dict) -> list[str]:
    out = []
    if len(e.get("action_id", "")) > ACTION_ID:
        out.append("action_id too long")
    if e.get("type") == "button":
        out += _text_ok(e.get("text"), BUTTON_TEXT, plain_only=True)
        if not e.get("action_id"):
            out.append("button without action_id")
        if len(e.get("value", "")) > BUTTON_VALUE:
            out.append("button value too long")
        if e.get("style") not in (None, "primary", "danger"):
            out.append(f"bad button style {e.get('style')!r}")
    return out


_CHECKS = {
    "header": _header,
    "section": _section,
    "context": _context,
    "actions": _actions,
    "divider": lambda b: [],
    "image": _image,
    "input": _input,
}


# -- finding what a test clicks or reads: by action_id and block_id, never by position ----------
#
#     find_element(msg.blocks, "comment")["value"]          # the comment button's round id
#     find_block(view["blocks"], "admin-actions")          # a block by its block_id
#     "Saved" in text_of(body["view"]["blocks"])           # what a view says, wherever it says it
#
# A layout change (a block added above, buttons reordered) must not make a test click the wrong
# button or read the wrong line; a missing or repeated id fails with the ids that are there.


def _elements(block: dict) -> list[dict]:
    """A block's interactive elements: an actions/input block's, a section's accessory."""
    out = list(block.get("elements", [])) if block.get("type") == "actions" else []
    for key in ("accessory", "element"):
        if isinstance(block.get(key), dict):
            out.append(block[key])
    return out


def find_block(blocks: list[dict], block_id: str) -> dict:
    """The one block with ``block_id``."""
    found = [b for b in blocks if b.get("block_id") == block_id]
    ids = [b.get("block_id") for b in blocks]
    assert len(found) == 1, f"{len(found)} blocks with block_id {block_id!r} among {ids}"
    return found[0]


def find_element(blocks: list[dict], action_id: str, *, block_id: str | None = None) -> dict:
    """The one interactive element with ``action_id`` (in the block ``block_id``, if given)."""
    scope = blocks if block_id is None else [find_block(blocks, block_id)]
    found = [e for b in scope for e in _elements(b) if e.get("action_id") == action_id]
    ids = [e.get("action_id") for b in scope for e in _elements(b)]
    assert len(found) == 1, f"{len(found)} elements with action_id {action_id!r} among {ids}"
    return found[0]


def nodes(tree, keep) -> list[dict]:
    """Every dict anywhere in ``tree`` (blocks, a view, a Teams card) for which ``keep`` is true,
    in document order: for finding things by what they are, never by where they sit."""
    found: list[dict] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if keep(node):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return found


def text_of(blocks: list[dict]) -> str:
    """Every text in the blocks (sections, fields, context, headers, buttons), one per line."""
    texts = nodes(
        blocks,
        lambda n: n.get("type") in ("mrkdwn", "plain_text") and isinstance(n.get("text"), str),
    )
    return "\n".join(t["text"] for t in texts)
