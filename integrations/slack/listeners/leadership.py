"""/pulse checklist, /pulse gap and /pulse action: leadership's own view and "you said, we did"."""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.admin import you_said_we_did as actions_log
from bot.core import Core
from bot.insights import alt_text, checklist, gap
from bot.insights import checklist_chart as checklist_export
from bot.people import authz
from integrations.slack.listeners.commands import Ctx, UsageError, command
from integrations.slack.listeners.home import GRADE_LABELS
from questions.themes import LABELS as THEME_LABELS

log = logging.getLogger("medpulse.leadership")

CHECKLIST_VIEW = "leadership_checklist"
ACTION_VIEW = "leadership_action"


def _option(text: str, value: str) -> dict:
    return {"text": {"type": "plain_text", "text": text[:75]}, "value": value}


def checklist_modal() -> dict:
    blocks: list[dict] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Rate how far each is true here today, from *1 not in place* to "
                "*5 embedded*. Leaders see the team's average beside doctors' pulse scores; "
                "admins can see who took part.",
            },
        }
    ]
    for i, (ref, question) in enumerate(checklist.QUESTIONS.items(), start=1):
        blocks.append(
            {
                "type": "input",
                "block_id": f"rate|{ref}",
                "label": {"type": "plain_text", "text": f"{i}. {question}"[:2000]},
                "element": {
                    "type": "static_select",
                    "action_id": "rating",
                    "placeholder": {"type": "plain_text", "text": "Choose 1–5"},
                    "options": [_option(f"{v} · {label}", str(v)) for v, label in checklist.SCALE],
                },
            }
        )
        blocks.append(
            {
                "type": "input",
                "block_id": f"note|{ref}",
                "optional": True,
                "label": {"type": "plain_text", "text": "Evidence (optional)"},
                "element": {"type": "plain_text_input", "action_id": "note", "max_length": 1000},
            }
        )
    return {
        "type": "modal",
        "callback_id": CHECKLIST_VIEW,
        "title": {"type": "plain_text", "text": "Leadership checklist"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def action_modal(departments: list[str]) -> dict:
    themes = [_option(label, key) for key, label in THEME_LABELS.items()]
    blocks = [
        {
            "type": "input",
            "block_id": "text",
            "label": {
                "type": "plain_text",
                "text": "What was done, in response to what doctors said?",
            },
            "element": {
                "type": "plain_text_input",
                "action_id": "text",
                "multiline": True,
                "max_length": actions_log.MAX_TEXT,
                "placeholder": {
                    "type": "plain_text",
                    "text": "Rota gaps raised by doctors in Emergency Medicine: two locum posts funded.",
                },
            },
        },
        {
            "type": "input",
            "block_id": "theme",
            "optional": True,
            "label": {"type": "plain_text", "text": "Theme"},
            "element": {"type": "static_select", "action_id": "theme", "options": themes},
        },
        {
            "type": "input",
            "block_id": "grade",
            "optional": True,
            "label": {"type": "plain_text", "text": "Only for this grade"},
            "element": {
                "type": "static_select",
                "action_id": "grade",
                "options": [_option(v, k) for k, v in GRADE_LABELS.items()],
            },
        },
    ]
    if departments:
        blocks.insert(
            2,
            {
                "type": "input",
                "block_id": "department",
                "optional": True,
                "label": {"type": "plain_text", "text": "Only for this department"},
                "element": {
                    "type": "static_select",
                    "action_id": "department",
                    "options": [_option(d, d) for d in departments[:100]],
                },
            },
        )
    return {
        "type": "modal",
        "callback_id": ACTION_VIEW,
        "title": {"type": "plain_text", "text": "You said, we did"},
        "submit": {"type": "plain_text", "text": "Record"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _selected(values: dict, block: str, action: str) -> str | None:
    opt = (values.get(block, {}).get(action) or {}).get("selected_option")
    return opt["value"] if opt else None


def register(app: App, core: Core) -> None:
    def refused(ack, body, action: str) -> bool:
        """A form is only what the client sent: the submitter's role is checked again here."""
        if authz.permits(core, body["team"]["id"], body["user"]["id"], action):
            return False
        from integrations.slack.listeners.modals import done_view

        ack(response_action="update", view=done_view("Not allowed", authz.refusal(action)))
        return True

    @app.view(CHECKLIST_VIEW)
    def on_checklist(ack, body, view):
        from bot.people.workspaces import ensure_team

        if refused(ack, body, "checklist"):
            return
        ws = ensure_team(core, body["team"]["id"])
        values = view["state"]["values"]
        ratings, notes = {}, {}
        for block_id, actions in values.items():
            kind, _, ref = block_id.partition("|")
            if kind == "rate":
                value = _selected(values, block_id, "rating")
                if value:
                    ratings[ref] = int(value)
            elif kind == "note":
                notes[ref] = (actions.get("note") or {}).get("value") or ""
        missing = [f"rate|{ref}" for ref in checklist.QUESTIONS if ref not in ratings]
        if missing:
            ack(
                response_action="errors",
                errors={m: "Choose a rating from 1 to 5." for m in missing[:10]},
            )
            return
        checklist.record(core, ws, body["user"]["id"], ratings, notes)
        ack()

    @app.view(ACTION_VIEW)
    def on_action(ack, body, view):
        from bot.people.workspaces import ensure_team

        if refused(ack, body, "action"):
            return
        ws = ensure_team(core, body["team"]["id"])
        values = view["state"]["values"]
        text = (values.get("text", {}).get("text") or {}).get("value") or ""
        try:
            actions_log.record(
                core,
                ws,
                body["user"]["id"],
                text,
                _selected(values, "theme", "theme"),
                _selected(values, "department", "department"),
                _selected(values, "grade", "grade"),
            )
        except ValueError as exc:
            ack(response_action="errors", errors={"text": str(exc)})
            return
        ack()


def _trust_name(ctx: Ctx) -> str:
    """The workspace's name for the page's heading: stored, else asked of Slack once (auth.test
    names the team and needs no scope) and kept; the id only if Slack cannot say."""
    from storage.models import Workspace

    with ctx.core.db.Session() as s:
        name = s.get(Workspace, ctx.workspace_id).name
    if name:
        return name
    try:
        name = str(ctx.client.auth_test().get("team") or "")
    except Exception:  # a heading is not worth failing the export for
        log.warning("could not read the workspace name from Slack", exc_info=True)
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
    args = [a.lower() for a in ctx.parsed.args]
    if args == ["export"]:
        ctx.say("⏳ Drawing the checklist page; it will arrive in a DM from medpulse.")
        png = checklist_export.page_png(ctx.core, ctx.workspace_id, _trust_name(ctx))
        ctx.core.gateway(ctx.team).dm_file(
            ctx.user,
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
    if not ctx.trigger_id:
        raise UsageError("open the form from a /pulse command in Slack")
    ctx.core.gateway(ctx.team).open_view(ctx.trigger_id, checklist_modal())


@command(
    "gap",
    "/pulse gap",
    "Leaders' checklist ratings beside doctors' pulse scores, for all 14 questions.",
)
def _gap(ctx: Ctx) -> None:
    if ctx.parsed.args:
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


@command(
    "action", "/pulse action", "Record what was done in response to doctors (“you said, we did”)."
)
def _action(ctx: Ctx) -> None:
    if ctx.parsed.args:
        raise UsageError("`action` takes no arguments: it opens a form")
    from sqlalchemy import select

    from storage.models import Department

    with ctx.core.db.Session() as s:
        depts = list(
            s.scalars(
                select(Department.name)
                .where(Department.workspace_id == ctx.workspace_id)
                .order_by(Department.name)
            )
        )
    if not ctx.trigger_id:
        raise UsageError("open the form from a /pulse command in Slack")
    ctx.core.gateway(ctx.team).open_view(ctx.trigger_id, action_modal(depts))
