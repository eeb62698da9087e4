"""The core's forms as Teams dialogs: the card that opens one, the dialog itself, and what a
submitted dialog sends back, read into the values the core's submit takes.

How a dialog opens: Teams has no trigger ID a command could open a dialog with, so a command's
form is answered with a small card in the conversation (``opener_card``) whose ``Action.Submit``
carries ``{"msteams": {"type": "task/fetch"}, "form": <form ID>}``; a click sends a
``task/fetch`` invoke, answered with the dialog (``dialog``: Teams' ``continue`` task with the
form as an Adaptive Card). The form is built again at that moment for whoever clicked
(``bot.admin.form_table``): the card itself holds nothing but the form's ID and title, so it
says nothing about anyone and goes stale about nothing. The dialog's ``Action.Submit`` carries
``{"form": <form ID>}``; Teams merges the inputs into it and sends ``task/submit``.

Field kinds, as Slack's modals draw them (``integrations.slack.views``): text and multiline are
``Input.Text``; a choice is a compact ``Input.ChoiceSet``; several choices an ``isMultiSelect``
one (Teams returns the picked values joined by commas, split back here); a number is
``Input.Number`` with its range; a time ``Input.Time``. A problem the core found is shown in
red under its field, with what the person typed kept.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.chat.forms import Notice
from bot.chat.views import Field, FormView
from integrations.msteams import cards

FETCH = {"type": "task/fetch"}
LARGE_AFTER = 10  # more fields than this: the widest dialog Teams has

Values = dict[str, "str | list[str] | None"]


def opener_card(form: FormView) -> dict[str, Any]:
    """The card a command's form is answered with: what it is, and a button opening it."""
    line = cards.text_block(
        f"📝 **{cards.teams_markdown(form.title)}**: the form opens in a dialog."
    )
    button = {
        "type": "Action.Submit",
        "title": f"Open “{form.title}”",
        "data": {"msteams": dict(FETCH), "form": form.form_id},
    }
    return cards.card([line], [button])


def notice_card(notice: Notice) -> dict[str, Any]:
    """A notice (a confirmation, a refusal) as a card of its title and paragraphs."""
    body = [cards.text_block(cards.teams_markdown(notice.title), size="Large", weight="Bolder")]
    body += [cards.text_block(cards.teams_markdown(p)) for p in notice.paragraphs]
    return cards.card(body)


# ------------------------------------------------------------------ the dialog


def _input(field: Field) -> dict[str, Any]:
    """The Adaptive Card input for one field, with its label, limits and current value."""
    out: dict[str, Any] = {"id": field.name, "label": field.label}
    placeholder = getattr(field, "placeholder", None)
    if field.kind in ("choice", "choices"):
        out.update(
            type="Input.ChoiceSet",
            style="compact",
            choices=[{"title": label, "value": value} for value, label in field.options],
        )
        if field.kind == "choices":
            out["isMultiSelect"] = True
            picked = getattr(field, "values", ()) or ((field.value,) if field.value else ())
            if picked:
                out["value"] = ",".join(picked)
        elif field.value is not None:
            out["value"] = field.value
    elif field.kind == "number":
        out["type"] = "Input.Number"
        for key, attr in (("min", "lo"), ("max", "hi")):
            if getattr(field, attr, None) is not None:
                out[key] = getattr(field, attr)
        if _number(field.value) is not None:
            out["value"] = _number(field.value)
    elif field.kind == "time":
        out["type"] = "Input.Time"
        if field.value:
            out["value"] = field.value
    else:
        out["type"] = "Input.Text"
        if field.kind == "multiline":
            out["isMultiline"] = True
        if getattr(field, "max_length", None):
            out["maxLength"] = field.max_length
        if field.value is not None:
            out["value"] = field.value
    if placeholder:
        out["placeholder"] = placeholder
    if not field.optional:
        out["isRequired"] = True
        out["errorMessage"] = "Required."
    return out


def _number(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def form_card(form: FormView) -> dict[str, Any]:
    """The form as a dialog's card: the intro, each field (its hint, any error in red under
    it), and the submit button carrying the form's ID."""
    body: list[dict[str, Any]] = []
    if form.intro:
        body.append(cards.text_block(cards.teams_markdown(form.intro)))
    names = {f.name for f in form.fields}
    for key, problem in form.errors.items():  # a problem with no field of its own: on top
        if key not in names:
            body.append(cards.text_block(f"⚠️ {cards.teams_markdown(problem)}", color="attention"))
    for field in form.fields:
        body.append(_input(field))
        if field.hint:
            body.append(
                cards.text_block(cards.teams_markdown(field.hint), isSubtle=True, size="Small")
            )
        if field.name in form.errors:
            problem = cards.teams_markdown(form.errors[field.name])
            body.append(cards.text_block(f"⚠️ {problem}", color="attention", spacing="Small"))
    submit = {"type": "Action.Submit", "title": form.submit, "data": {"form": form.form_id}}
    return cards.card(body, [submit])


def dialog(form: FormView) -> dict[str, Any]:
    """Teams' ``continue`` task: the dialog's title, size and card."""
    large = len(form.fields) > LARGE_AFTER
    return {
        "type": "continue",
        "value": {
            "title": form.title,
            "width": "large" if large else "medium",
            "height": "large",
            "card": {"contentType": cards.CARD_TYPE, "content": form_card(form)},
        },
    }


def notice_dialog(notice: Notice) -> dict[str, Any]:
    """The dialog replaced by a notice (what was saved, or why not)."""
    return {
        "type": "continue",
        "value": {
            "title": notice.title,
            "width": "medium",
            "height": "small",
            "card": {"contentType": cards.CARD_TYPE, "content": notice_card(notice)},
        },
    }


def message(text: str) -> dict[str, Any]:
    """Teams' ``message`` task: the dialog closes (or never opens) with this one line."""
    return {"type": "message", "value": text}


# ------------------------------------------------------------------ reading it back


def submitted(form: FormView, data: dict[str, Any]) -> Values:
    """The form's values from a ``task/submit``'s data, by field name: only the form's own
    fields are read (the button's ``form``, and anything else sent, are not values); a
    multi-select's comma-joined string becomes a list; anything not text reads as nothing."""
    out: Values = {}
    for field in form.fields:
        raw = data.get(field.name)
        if isinstance(raw, bool):
            raw = None
        elif isinstance(raw, int | float):
            raw = str(int(raw)) if float(raw).is_integer() else str(raw)
        if field.kind == "choices":
            if isinstance(raw, str):
                out[field.name] = [v.strip() for v in raw.split(",") if v.strip()]
            elif isinstance(raw, list):
                out[field.name] = [v for v in raw if isinstance(v, str) and v]
            else:
                out[field.name] = []
        else:
            out[field.name] = raw if isinstance(raw, str) else None
    return out


def with_values(form: FormView, values: Values, problems: dict[str, str]) -> FormView:
    """The form again with what was typed kept and the problems against their fields."""
    fields = []
    for field in form.fields:
        value = values.get(field.name)
        if isinstance(value, list):
            kept = replace(field, values=tuple(value)) if hasattr(field, "values") else field
        else:
            kept = replace(field, value=value)
        fields.append(kept)
    return replace(form, fields=tuple(fields), errors=dict(problems))
