"""A small validator for the Block Kit we send, against Slack's documented limits."""

from __future__ import annotations

TEXT_LIMITS = {"section": 3000, "header": 150, "context": 3000}
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTION_ID = 255
BLOCK_ID = 255


def validate(blocks: list[dict], *, surface: str = "message") -> list[str]:
    """Problems found (empty when the blocks are within limits)."""
    problems: list[str] = []
    limit = 50 if surface == "message" else 100
    if len(blocks) > limit:
        problems.append(f"{len(blocks)} blocks > {limit}")
    for i, b in enumerate(blocks):
        problems += [f"block {i}: {p}" for p in _block(b)]
    return problems


def _text_ok(obj, limit: int) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("mrkdwn", "plain_text"):
        return [f"bad text object {obj!r}"[:120]]
    text = obj.get("text", "")
    if not text:
        return ["empty text"]
    return [f"text {len(text)} > {limit}"] if len(text) > limit else []


def _block(b: dict) -> list[str]:
    kind = b.get("type")
    out: list[str] = []
    if len(b.get("block_id", "")) > BLOCK_ID:
        out.append("block_id too long")
    if kind == "header":
        out += _text_ok(b.get("text"), 150)
        if b.get("text", {}).get("type") != "plain_text":
            out.append("header text must be plain_text")
    elif kind == "section":
        if "text" not in b and "fields" not in b:
            out.append("section needs text or fields")
        if "text" in b:
            out += _text_ok(b["text"], 3000)
        fields = b.get("fields", [])
        if len(fields) > 10:
            out.append("more than 10 fields")
        for f in fields:
            out += _text_ok(f, 2000)
    elif kind == "context":
        els = b.get("elements", [])
        if not 1 <= len(els) <= 10:
            out.append(f"context has {len(els)} elements")
        for e in els:
            if e.get("type") != "image":
                out += _text_ok(e, 3000)
    elif kind == "actions":
        els = b.get("elements", [])
        if not 1 <= len(els) <= 25:
            out.append(f"actions has {len(els)} elements")
        for e in els:
            out += _element(e)
    elif kind in ("divider",):
        pass
    elif kind == "image":
        if not b.get("alt_text"):
            out.append("image needs alt_text")
    elif kind == "input":
        out += _text_ok(b.get("label"), 2000)
    else:
        out.append(f"unknown block type {kind!r}")
    return out


def _element(e: dict) -> list[str]:
    out = []
    if len(e.get("action_id", "")) > ACTION_ID:
        out.append("action_id too long")
    if e.get("type") == "button":
        out += _text_ok(e.get("text"), BUTTON_TEXT)
        if len(e.get("value", "")) > BUTTON_VALUE:
            out.append("button value too long")
    return out
