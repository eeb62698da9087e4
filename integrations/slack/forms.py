"""Forms and homes as Block Kit: Slack's drawing of ``bot.chat.views.FormView`` and ``HomeView``.

A form is a modal whose inputs are named by ``Field.name`` (block and action IDs alike), so a
submission's ``view.state.values[name][name]`` is the field's value; the core never sees Block
Kit. Slack's limits (title 24 characters, labels 2,000) are applied here, not in the core.
"""

from __future__ import annotations

from bot.chat.views import Field, FormView, HomeView, Section

TITLE_MAX = 24


def _plain(text: str, limit: int = 2000) -> dict:
    return {"type": "plain_text", "text": text[:limit]}


def _element(f: Field) -> dict:
    if f.kind == "choice":
        options = [{"text": _plain(label, 75), "value": value} for value, label in f.options]
        el: dict = {"type": "static_select", "action_id": f.name, "options": options}
        chosen = next((o for o in options if o["value"] == f.value), None)
        if chosen is not None:
            el["initial_option"] = chosen
        return el
    if f.kind == "number":
        el = {"type": "number_input", "action_id": f.name, "is_decimal_allowed": False}
    else:
        el = {"type": "plain_text_input", "action_id": f.name, "multiline": f.kind == "multiline"}
    if f.value is not None:
        el["initial_value"] = f.value
    return el


def _input(f: Field) -> dict:
    block = {
        "type": "input",
        "block_id": f.name,
        "label": _plain(f.label),
        "element": _element(f),
        "optional": f.optional,
    }
    if f.hint:
        block["hint"] = _plain(f.hint)
    return block


def _mrkdwn(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def modal(form: FormView) -> dict:
    blocks = [_mrkdwn(form.intro)] if form.intro else []
    blocks += [_input(f) for f in form.fields]
    return {
        "type": "modal",
        "callback_id": form.form_id,
        "private_metadata": form.private_metadata,
        "title": _plain(form.title, TITLE_MAX),
        "submit": _plain(form.submit, TITLE_MAX),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def _section(part: Section) -> dict:
    text = "\n".join(([f"*{part.title}*"] if part.title else []) + list(part.lines))
    if part.note:
        return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}
    return _mrkdwn(text)


def home_view(home: HomeView) -> dict:
    blocks: list[dict] = [{"type": "header", "text": _plain(home.title, 150)}]
    blocks += [_section(p) for p in home.sections]
    return {"type": "home", "blocks": blocks[:100]}
