"""/pulse checklist, /pulse gap and /pulse action: leadership's own view and "you said, we did",
with the checklist and action forms and what their submissions may store."""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.admin import you_said_we_did as actions_log
from bot.admin.command_table import Ctx, UsageError, command
from bot.admin.forms import Outcome, refused
from bot.chat.forms import Form, Input
from bot.core import Core
from bot.insights import alt_text, checklist, gap
from bot.insights import checklist_chart as checklist_export
from bot.people import authz
from bot.people.home import GRADE_LABELS
from questions.themes import LABELS as THEME_LABELS
from storage.models import Department, Workspace

log = logging.getLogger("medpulse.leadership")

CHECKLIST_FORM = "leadership_checklist"
ACTION_FORM = "leadership_action"
NO_FORM = "I can't open the form from here"


def checklist_form() -> Form:
    """The 14 questions, each a 1-5 rating and optional evidence."""
    fields: list[Input] = []
    scale = tuple((str(v), f"{v} · {label}") for v, label in checklist.SCALE)
    for i, (ref, question) in enumerate(checklist.QUESTIONS.items(), start=1):
        fields.append(
            Input(
                f"rate|{ref}",
                f"{i}. {question}"[:2000],
                kind="choice",
                options=scale,
                placeholder="Choose 1–5",
            )
        )
        fields.append(Input(f"note|{ref}", "Evidence (optional)", optional=True, max_length=1000))
    return Form(
        form_id=CHECKLIST_FORM,
        title="Leadership checklist",
        fields=tuple(fields),
        submit="Save",
        intro="Rate how far each is true here today, from *1 not in place* to "
        "*5 embedded*. Leaders see the team's average beside doctors' pulse scores; "
        "admins can see who took part.",
    )


def action_form(departments: list[str]) -> Form:
    """What was done, optionally for one theme, department or grade."""
    fields = [
        Input(
            "text",
            "What was done, in response to what doctors said?",
            kind="multiline",
            max_length=actions_log.MAX_TEXT,
            placeholder="Rota gaps raised by doctors in Emergency Medicine: two locum posts funded.",
        ),
        Input("theme", "Theme", kind="choice", options=tuple(THEME_LABELS.items()), optional=True),
        Input(
            "grade",
            "Only for this grade",
            kind="choice",
            options=tuple(GRADE_LABELS.items()),
            optional=True,
        ),
    ]
    if departments:
        fields.insert(
            2,
            Input(
                "department",
                "Only for this department",
                kind="choice",
                options=tuple((d, d) for d in departments[:100]),
                optional=True,
            ),
        )
    return Form(
        form_id=ACTION_FORM, title="You said, we did", fields=tuple(fields), submit="Record"
    )


def _text(values: dict, name: str) -> str | None:
    value = values.get(name)
    return value if isinstance(value, str) and value else None


def submit_checklist(core: Core, team: str, workspace_id: int, user: str, values: dict) -> Outcome:
    """Store one leader's ratings; every question needs one (a form is only what the client
    sent: the role is checked again here)."""
    if not authz.permits(core, team, user, "checklist"):
        return refused("checklist")
    ratings, notes = {}, {}
    for name, value in values.items():
        kind, _, ref = name.partition("|")
        if kind == "rate" and isinstance(value, str) and value.isdigit():
            ratings[ref] = int(value)
        elif kind == "note":
            notes[ref] = value if isinstance(value, str) else ""
    missing = [f"rate|{ref}" for ref in checklist.QUESTIONS if ref not in ratings]
    if missing:
        return Outcome(errors={m: "Choose a rating from 1 to 5." for m in missing[:10]})
    try:
        checklist.record(core, workspace_id, user, ratings, notes)
    except ValueError:
        return Outcome(
            errors={
                f"rate|{ref}": "Choose a rating from 1 to 5."
                for ref in ratings
                if ratings[ref] not in range(1, 6)
            }
        )
    return Outcome()


def submit_action(core: Core, team: str, workspace_id: int, user: str, values: dict) -> Outcome:
    if not authz.permits(core, team, user, "action"):
        return refused("action")
    try:
        actions_log.record(
            core,
            workspace_id,
            user,
            _text(values, "text") or "",
            _text(values, "theme"),
            _text(values, "department"),
            _text(values, "grade"),
        )
    except ValueError as exc:
        return Outcome(errors={"text": str(exc)})
    return Outcome()


def trust_name(ctx: Ctx) -> str:
    """The workspace's name for the page's heading: stored, else asked of the platform once and
    kept; the id only if the platform cannot say."""
    with ctx.core.db.Session() as s:
        name = s.get(Workspace, ctx.workspace_id).name
    if name:
        return name
    try:
        name = ctx.chat.workspace_name()
    except Exception:  # a heading is not worth failing the export for
        log.warning("could not read the workspace name", exc_info=True)
        name = ""
    if not name:
        return f"Workspace {ctx.team}"
    with ctx.core.db.Session() as s, s.begin():
        s.get(Workspace, ctx.workspace_id).name = name[:200]
    return name


@command(
    "checklist",
    "/pulse checklist [export]",
    "Rate the 14 checklist questions as a leader, or `export` the one-page view.",
)
def _checklist(ctx: Ctx) -> None:
    args = [a.lower() for a in ctx.args]
    if args == ["export"]:
        ctx.say("⏳ Drawing the checklist page; it will arrive in a DM from medpulse.")
        png = checklist_export.page_png(ctx.core, ctx.workspace_id, trust_name(ctx))
        ctx.chat.send_file(
            "The medpulse checklist page: leaders' ratings beside doctors' scores.",
            png,
            "medpulse-checklist.png",
            "Medical engagement checklist",
            alt_text.checklist_page(gap.rows(ctx.core, ctx.workspace_id), ctx.core.k),
        )
        ctx.say("✅ The checklist page is in your DMs with medpulse.")
        return
    if args:
        raise UsageError("`checklist` takes nothing, or the word `export`")
    ctx.open_form(checklist_form(), NO_FORM)


@command(
    "gap",
    "/pulse gap",
    "Leaders' checklist ratings beside doctors' pulse scores, for all 14 questions.",
)
def _gap(ctx: Ctx) -> None:
    if ctx.args:
        raise UsageError("`gap` takes no arguments")
    rows = gap.rows(ctx.core, ctx.workspace_id)
    view = checklist.leadership_view(ctx.core, ctx.workspace_id)
    head = (
        f"*Perception gap* · leaders' view {view.cycle or '(no checklist yet: `/pulse checklist`)'} "
        f"from {view.leaders} leader(s); doctors over the last {gap.WINDOW} pulses; 0–100. "
        "A gap is flagged only where the leaders' figure is outside the doctors' 95% interval. "
        "`/pulse checklist export` draws it as a one-page chart."
    )
    ctx.say_long([head, *(gap.gap_line(r, ctx.core.k) for r in rows)])


def department_names(core: Core, workspace_id: int) -> list[str]:
    with core.db.Session() as s:
        return list(
            s.scalars(
                select(Department.name)
                .where(Department.workspace_id == workspace_id)
                .order_by(Department.name)
            )
        )


@command(
    "action", "/pulse action", "Record what was done in response to doctors (“you said, we did”)."
)
def _action(ctx: Ctx) -> None:
    if ctx.args:
        raise UsageError("`action` takes no arguments: it opens a form")
    ctx.open_form(action_form(department_names(ctx.core, ctx.workspace_id)), NO_FORM)
