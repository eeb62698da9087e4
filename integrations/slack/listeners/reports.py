"""/pulse summary, /pulse comments and /pulse export: what leaders read, on demand.

The three subcommands join the /pulse table (integrations.slack.listeners.commands) when this module is imported;
``register`` adds the "Show intervals" button of the posted summary. Authorisation is bot.people.authz's
(summary, comments and export need a leader; admins pass too), checked again on the button.
"""

from __future__ import annotations

import logging
import random

from slack_bolt import App

from bot.core import Core
from bot.insights import export, summary
from bot.insights.posting import leader_channels, post_summary, render
from bot.people import authz
from bot.people.workspaces import ensure_team
from integrations.slack.listeners.commands import Ctx, UsageError, command
from integrations.slack.listeners.parsing import keyword
from integrations.slack.summary_blocks import SHOW_INTERVALS
from questions.themes import LABELS as THEME_LABELS
from storage import anonymity, published, queries

log = logging.getLogger("medpulse.reports")

OTHER_THEMES = summary.OTHER_THEMES


def register(app: App, core: Core) -> None:
    """Listeners of this module; the subcommands themselves register on import."""

    @app.action(SHOW_INTERVALS)
    def show_intervals(ack, body, respond):
        ack()
        team = body.get("team", {}).get("id") or body["user"].get("team_id")
        user = body["user"]["id"]
        ws_id = ensure_team(core, team)
        with core.db.Session() as s:
            ok = authz.allowed(s, ws_id, user, "summary")
        if not ok:
            respond(
                text=authz.refusal("summary"), response_type="ephemeral", replace_original=False
            )
            return
        value = (body.get("actions") or [{}])[0].get("value", "")
        department = value.split(":", 1)[1] or None if value.startswith("dept:") else None
        _, title, text, blocks = render(core, ws_id, department, detail=True)
        respond(
            text=text,
            blocks=blocks,
            response_type="ephemeral",
            replace_original=False,
        )


@command(
    "summary",
    "/pulse summary [detail]",
    "Post the latest summary to the leaders channels now (`detail` adds the intervals).",
)
def _summary(ctx: Ctx) -> None:
    args = [a.lower() for a in ctx.parsed.args]
    if args not in ([], ["detail"]):
        raise UsageError("`summary` takes nothing, or the word `detail`")
    channels = leader_channels(ctx.core, ctx.workspace_id)
    ctx.say("⏳ Building the summary…")
    detail = args == ["detail"]
    if not channels:
        post_summary(ctx.core, ctx.team, ctx.user, None, detail=detail)
        ctx.say(
            "No leaders channel is set, so I sent the summary to you privately. "
            "Choose one with `/pulse leaders #channel`."
        )
        return
    for channel, department in channels:
        post_summary(ctx.core, ctx.team, channel, department, detail=detail)
    names = ", ".join(f"<#{c}>" + (f" ({d})" if d else "") for c, d in channels)
    ctx.say(f"✅ Summary posted to {names}.")


@command(
    "comments",
    "/pulse comments [theme] [department:NAME]",
    "Read the latest period's anonymous comments, in random order (never for a small group); "
    "with department:NAME, only that department's (when its own figures may be shown).",
)
def _comments(ctx: Ctx) -> None:
    dept, rest = keyword(ctx.parsed.args, "department")
    theme = _theme_arg(rest)
    k = ctx.core.k
    with ctx.core.db.Session() as s:
        periods = queries.closed_periods(s, ctx.workspace_id, 3)
        if not periods:
            ctx.say("No pulse has closed yet, so there are no comments to read.")
            return
        rid = periods[0].round_id
        dept_id = None
        if dept:
            dept, dept_id = _department_arg(s, ctx.workspace_id, dept)
            round_ids = [p.round_id for p in periods]
            rates = summary.department_rates(queries.participation(s, round_ids), round_ids, k)
            mine = summary.shown_department(rates, dept)
            if mine is None:
                ctx.say(summary.department_held_back(dept, k, rates))
                return
            respondents = mine.responded
        else:
            respondents = queries.respondents_per_round(s, [rid]).get(rid, 0)
        cells = queries.comment_cells(s, [rid])
        texts = queries.comment_texts(s, [rid], department_id=dept_id)
    if not anonymity.comments_visible(respondents, k):
        ctx.say(
            f"Comments are shown only when at least {k} people responded in the period; "
            f"the latest had {anonymity.k_label(k)}."
        )
        return
    plan = published.comment_plan(cells, k, periods[0].audience_changed)
    if dept_id is not None and dept_id not in plan.listed:
        ctx.say(
            f"{dept}'s comments are not listed on their own this period: fewer than {k} of its "
            "doctors commented, or listing them would let a smaller group's comments be picked "
            "out. They are in the trust-wide list, `/pulse comments`."
        )
        return
    lines = comment_lines(texts, plan, theme)
    if lines is None:
        name = THEME_LABELS.get(theme, theme)
        ctx.say(
            f"There were {anonymity.k_label(k)} about {name} this period, so they are not listed "
            f"under that theme on their own: they appear under “{OTHER_THEMES}” in `/pulse comments`."
        )
        return
    where = f" from {dept}" if dept else ""
    if not lines:
        about = f" about {THEME_LABELS.get(theme, theme)}" if theme else ""
        ctx.say(f"No comments{about}{where} this period.")
        return
    head = (
        f"*{len(lines)} anonymous comments{where}, period from {periods[0].start.day} "
        f"{periods[0].start:%b %Y}* (random order)"
    )
    ctx.say_long([head, *lines])


def _department_arg(s, workspace_id: int, wanted: str) -> tuple[str, int]:
    """A department named as the roster spells it, whatever the case."""
    names = queries.department_names(s, workspace_id)
    for dept_id, name in names.items():
        if name.lower() == wanted.lower():
            return name, dept_id
    known = ", ".join(sorted(names.values())) or "none yet (import a roster)"
    raise UsageError(f"there is no department called {wanted!r}. Departments: {known}")


def comment_lines(
    texts: list[tuple[int | None, str | None, str]],
    plan: published.CommentPlan,
    theme: str | None = None,
) -> list[str] | None:
    """The comments to list, shuffled, each under the one label the plan gives its (department,
    theme) cell, the same in every list (others read "Other themes"). None when the theme asked
    for has comments but labels none of them."""
    picked = [
        (plan.label(d, t), text)
        for d, t, text in texts
        if theme is None or plan.label(d, t) == theme
    ]
    if theme is not None and not picked and any(t == theme for _, t, _ in texts):
        return None
    random.SystemRandom().shuffle(picked)
    return [f"• _{_label(t)}_: {_escape(text)}" for t, text in picked]


def _label(theme: str | None) -> str:
    return THEME_LABELS.get(theme, theme) if theme else OTHER_THEMES


def _escape(text: str) -> str:
    """Slack's three control characters, so a comment cannot @-mention or link anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _theme_arg(args: list[str]) -> str | None:
    if not args:
        return None
    wanted = " ".join(args).lower()
    for key, label in THEME_LABELS.items():
        if wanted in (key, label.lower()) or key.startswith(wanted):
            return key
    names = ", ".join(f"`{k}`" for k in THEME_LABELS)
    raise UsageError(f"there is no theme called {wanted!r}. Themes: {names}")


@command(
    "export",
    "/pulse export",
    "Get a CSV of the anonymous aggregates (k-protected) by period, theme, item, department and grade.",
)
def _export(ctx: Ctx) -> None:
    if ctx.parsed.args:
        raise UsageError("`export` takes no arguments")
    if not export.has_data(ctx.core, ctx.workspace_id):
        ctx.say("No pulse has closed yet, so there is nothing to export.")
        return
    ctx.say("⏳ Preparing your export; it will arrive in a DM from medpulse.")
    data = export.to_csv(export.rows(ctx.core, ctx.workspace_id)).encode()
    gw = ctx.core.gateway(ctx.team)
    # Posting to the user ID opens the DM and tells us its channel, which the upload needs.
    note = gw.post_dm(ctx.user, "Your medpulse export (anonymous, k-protected aggregates).", [])
    gw.upload(note.channel, data, "medpulse-export.csv", "medpulse export")
    ctx.say("✅ Your export is in your DMs with medpulse.")
