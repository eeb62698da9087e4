"""The core's forms, notices and sections drawn as Block Kit, and a submitted form read back.

The core (``bot.chat.forms``) says what a form asks and what a panel says; this module is the
only place that turns them into Slack modals. A field's name is its block ID; its action ID is
the name too, except in forms that kept their first action IDs (``KEPT_ACTION_IDS``).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.admin.home import AdminPart
from bot.chat.forms import Button, Form, Note, Notice
from bot.chat.views import Field, FormView, Section
from bot.people.home import Home
from integrations.slack import blocks as bk

ActionIds = Callable[[str], str]


def _same(name: str) -> str:
    return name


def _checklist_ids(name: str) -> str:
    kind = name.partition("|")[0]
    return {"rate": "rating", "note": "note"}.get(kind, name)


def _comment_ids(name: str) -> str:
    return "text" if name == "comment" else name


# Forms whose inputs kept their first action IDs (open forms and the simulated doctors send them).
KEPT_ACTION_IDS: dict[str, ActionIds] = {
    "leadership_checklist": _checklist_ids,
    "pulse_comment": _comment_ids,
}


def element(field: Field, action_id: str) -> dict:
    """The input element of one field."""
    placeholder = getattr(field, "placeholder", None)
    if field.kind == "choice":
        return bk.select(action_id, field.options, field.value, placeholder)
    if field.kind == "choices":
        return bk.multi_select(action_id, field.options, getattr(field, "values", ()))
    if field.kind == "number":
        return bk.number(
            action_id, field.value, getattr(field, "lo", None), getattr(field, "hi", None)
        )
    if field.kind == "time":
        return bk.time_picker(action_id, field.value)
    return bk.text_input(
        action_id,
        multiline=field.kind == "multiline",
        max_length=getattr(field, "max_length", None),
        placeholder=placeholder,
        value=field.value,
    )


def input_block(field: Field, action_id: str) -> dict:
    return bk.input_block(
        field.name, field.label, element(field, action_id), field.hint, field.optional
    )


def modal(form: FormView | Notice) -> dict:
    """A Slack modal for a form (its fields as inputs) or a notice (its paragraphs)."""
    if isinstance(form, Notice):
        return bk.modal(form.title, bk.sections(form.paragraphs), close=form.close)
    action_ids = KEPT_ACTION_IDS.get(form.form_id, _same)
    head = [bk.section(form.intro)] if form.intro else []
    return bk.modal(
        form.title,
        head + [input_block(f, action_ids(f.name)) for f in form.fields],
        close=form.close if isinstance(form, Form) else "Cancel",
        submit=form.submit,
        callback_id=form.form_id,
        private_metadata=form.private_metadata or None,
    )


def submitted(view: dict) -> dict[str, str | list[str] | None]:
    """A submitted modal's values by field name (block ID): a choice's value, several
    choices' values, a time, or the text typed (None where nothing was given)."""
    state = view.get("state") if isinstance(view, dict) else None
    values = state.get("values") if isinstance(state, dict) else None
    out: dict[str, str | list[str] | None] = {}
    for block_id, actions in (values if isinstance(values, dict) else {}).items():
        if isinstance(actions, dict) and actions:
            first = next(iter(actions.values()))
            out[block_id] = _value(first if isinstance(first, dict) else {})
    return out


def _value(state: dict) -> str | list[str] | None:
    """One input's value; anything not shaped as Slack sends it reads as nothing given."""
    if "selected_options" in state:
        picked = state.get("selected_options")
        picked = picked if isinstance(picked, list) else []
        return [
            o["value"] for o in picked if isinstance(o, dict) and isinstance(o.get("value"), str)
        ]
    if "selected_option" in state:
        opt = state.get("selected_option")
        return _str(opt.get("value")) if isinstance(opt, dict) else None
    if "selected_time" in state:
        return _str(state.get("selected_time"))
    return _str(state.get("value"))


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


def section_blocks(sec: Section, limit: int = bk.TEXT_MAX) -> list[dict]:
    """A titled section as one mrkdwn section (title in bold above its lines)."""
    text = "\n".join(([f"*{sec.title}*"] if sec.title else []) + list(sec.lines))
    return [bk.section(text[:limit])]


def button(b: Button) -> dict:
    confirm = (b.confirm.title, b.confirm.text, b.confirm.yes, b.confirm.no) if b.confirm else None
    return bk.button(b.action_id, b.label, b.primary, confirm, b.value)


def errors(problems: dict[str, str]) -> dict:
    """An ack that points each problem at its field (the typed text stays in the form)."""
    return {"response_action": "errors", "errors": problems}


# --------------------------------------------------------------------------------- the App Home

HOME_BLOCK_IDS = {
    "home_window": "home-window",
    "home_department": "home-dept",
    "home_grade": "home-grade",
}


def part_blocks(parts) -> list[dict]:
    """Sections and notes as Block Kit (a note is small print: a context block)."""
    out: list[dict] = []
    for p in parts:
        if isinstance(p, Note):
            out.append(bk.context(p.text))
        else:
            out += section_blocks(p)
    return out


def home(h: Home) -> dict:
    """A person's Home as a Slack App Home view."""
    out: list[dict] = [
        bk.header("medpulse"),
        bk.section(h.intro),
        bk.section(f"*Your status:* {h.status}"),
        *([bk.context(h.group)] if h.group else []),
        bk.actions("home-opt", [button(h.opt)]),
        bk.divider(),
        *part_blocks(h.results),
        bk.divider(),
    ]
    for c in h.choices:
        select = bk.select(c.name, c.options, c.value, getattr(c, "placeholder", None))
        out.append(bk.section(f"*{c.label}*", HOME_BLOCK_IDS.get(c.name, c.name), select))
    out += [bk.divider(), bk.section(h.privacy)]
    if h.actions is not None:
        out += [bk.divider(), *section_blocks(h.actions)]
    out += admin_blocks(h.admin, h.notice)
    return {"type": "home", "blocks": out}


def admin_blocks(part: AdminPart | None, notice: str | None) -> list[dict]:
    """The admin part; for anyone else only the notice (e.g. a refusal), if there is one."""
    if part is None:
        return [bk.context(notice)] if notice else []
    out = [bk.divider(), bk.header("Admin")]
    if notice:
        out.append(bk.context(notice))
    out.append(bk.section("\n".join(part.lines)))
    if part.buttons:
        out.append(bk.actions("admin-actions", [button(b) for b in part.buttons]))
    out.append(bk.context(part.more))
    return out
