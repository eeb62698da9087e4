"""The "Show intervals" button of a posted summary: the summary again, with its intervals, only
for the leader who pressed it. The /pulse summary, comments and export subcommands are the
core's (``bot.insights.report_commands``)."""

from __future__ import annotations

from slack_bolt import App

from bot.core import Core
from bot.insights.comment_listing import comment_lines
from bot.insights.posting import render
from bot.people import authz
from integrations.slack.summary_blocks import SHOW_INTERVALS, summary_blocks

__all__ = ["comment_lines", "register", "show_intervals"]


def show_intervals(ack, body, respond, core: Core, team: str, workspace_id: int) -> None:
    ack()
    user = body["user"]["id"]
    if not authz.permits(core, team, user, "summary"):  # a button outlives its reader's role
        respond(text=authz.refusal("summary"), response_type="ephemeral", replace_original=False)
        return
    value = (body.get("actions") or [{}])[0].get("value", "")
    department = value.split(":", 1)[1] or None if value.startswith("dept:") else None
    _, view = render(core, workspace_id, department, detail=True)
    respond(
        text=view.fallback,
        blocks=summary_blocks(view),
        response_type="ephemeral",
        replace_original=False,
    )


def register(app: App, core: Core) -> None:
    app.action(SHOW_INTERVALS)(show_intervals)
