"""The App Home: privacy notice, the doctor's status and choices; admins see more."""

from __future__ import annotations

from slack_bolt import App

from bot.core import Core
from bot.insights import results_home
from bot.people import authz
from bot.people import preferences as people
from bot.people.workspaces import ensure_team
from bot.rounds import membership
from bot.rounds.doctor import privacy_notice
from questions.grades import ONE as GRADE_LABELS

WINDOW_LABELS = {
    "": "Any time in working hours (08:00–21:00, weekdays)",
    "morning": "Morning (08:00–10:00)",
    "lunchtime": "Lunchtime (12:00–14:00)",
    "evening": "Evening (18:00–21:00)",
}


def _opt(text: str, value: str) -> dict:
    return {"text": {"type": "plain_text", "text": text[:75]}, "value": value}


def _select(action_id: str, options: list[dict], current: str | None, placeholder: str) -> dict:
    el = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": {"type": "plain_text", "text": placeholder},
        "options": options,
    }
    chosen = [o for o in options if o["value"] == (current or "")]
    if chosen:
        el["initial_option"] = chosen[0]
    return el


def home_view(core: Core, me: people.Me, group: str | None = None) -> dict:
    status = (
        "❌ Opted out: you won't get pulses."
        if me.opted_out
        else "✅ You're in: pulses come by DM."
    )
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": "medpulse"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "A few quick, anonymous questions every week or two, so leaders can see "
                "how engaged doctors feel and act on it.",
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Your status:* {status}"}},
        *([{"type": "context", "elements": [{"type": "mrkdwn", "text": group}]}] if group else []),
        {
            "type": "actions",
            "block_id": "home-opt",
            "elements": [
                {
                    "type": "button",
                    "action_id": "home_optin" if me.opted_out else "home_optout",
                    "text": {
                        "type": "plain_text",
                        "text": "Opt back in" if me.opted_out else "Opt out",
                    },
                    **({"style": "primary"} if me.opted_out else {}),
                }
            ],
        },
        {"type": "divider"},
        {
            "type": "section",
            "block_id": "home-window",
            "text": {"type": "mrkdwn", "text": "*When should pulses reach you?*"},
            "accessory": _select(
                "home_window",
                [_opt(v, k) for k, v in WINDOW_LABELS.items()],
                me.window,
                "Choose a time",
            ),
        },
    ]
    if me.departments:
        blocks.append(
            {
                "type": "section",
                "block_id": "home-dept",
                "text": {"type": "mrkdwn", "text": "*Your department*"},
                "accessory": _select(
                    "home_department",
                    [_opt(d, d) for d in me.departments[:100]],
                    me.department,
                    "Choose your department",
                ),
            }
        )
    blocks.append(
        {
            "type": "section",
            "block_id": "home-grade",
            "text": {"type": "mrkdwn", "text": "*Your grade*"},
            "accessory": _select(
                "home_grade",
                [_opt(v, k) for k, v in GRADE_LABELS.items()],
                me.grade,
                "Choose your grade",
            ),
        }
    )
    blocks += [
        {"type": "divider"},
        {"type": "section", "text": {"type": "mrkdwn", "text": privacy_notice(core.k)}},
    ]
    return {"type": "home", "blocks": blocks}


def actions_blocks(core: Core, team: str, me: people.Me, sees_all: bool) -> list[dict]:
    """ "You said, we did": what leaders did in response to doctors, newest first.

    A doctor sees the actions that concern them (the same scope that opens their pulse);
    admins and leaders see every action, with whom it was for.
    """
    from bot.admin import you_said_we_did as actions_log
    from bot.people.workspaces import ensure_team

    scope = None if sees_all else (me.department, me.grade)
    recent = actions_log.recent(core, ensure_team(core, team), 5, scope)
    if not recent:
        return []
    lines = [f"• {a.created_at:%-d %b}: {a.text}{_for_whom(a) if sees_all else ''}" for a in recent]
    return [
        {"type": "divider"},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*You said, we did*\n" + "\n".join(lines)},
        },
    ]


def _sees_all_actions(core: Core, team: str, user: str) -> bool:
    with core.db.Session() as s:
        return authz.allowed(s, ensure_team(core, team), user, "home-all-actions")


def _for_whom(action) -> str:
    parts = [p for p in (action.department, GRADE_LABELS.get(action.grade)) if p]
    return f" _({', '.join(parts)})_" if parts else ""


def publish(core: Core, client, team: str, user: str, notice: str | None = None) -> None:
    """Render and publish one person's Home: the doctor part (their choices, what the answers
    add up to, "you said, we did"), plus the admin part for admins."""
    from integrations.slack.listeners import admin_home

    me = people.me(core, team, user)
    view = home_view(core, me, membership.group_line(membership.group_note(core, team, user)))
    # What the answers add up to comes right after the doctor's status, before their choices.
    at = next(i for i, b in enumerate(view["blocks"]) if b.get("block_id") == "home-opt") + 1
    results = results_home.blocks(core, ensure_team(core, team), me.department)
    view["blocks"][at:at] = results
    view["blocks"] += actions_blocks(core, team, me, _sees_all_actions(core, team, user))
    view["blocks"] += admin_home.blocks(core, team, user, notice)
    client.views_publish(user_id=user, view=view)


def register(app: App, core: Core) -> None:
    def _publish(client, team: str, user: str) -> None:
        publish(core, client, team, user)

    @app.event("app_home_opened")
    def on_home(event, client, context):
        if event.get("tab", "home") != "home":
            return
        team = context.team_id
        ensure_team(core, team)
        _publish(client, team, event["user"])

    @app.action("home_optout")
    def on_optout(ack, body, client):
        ack()
        team, user = body["team"]["id"], body["user"]["id"]
        ensure_team(core, team)
        people.update_me(core, team, user, opted_out=True)
        _publish(client, team, user)

    @app.action("home_optin")
    def on_optin(ack, body, client):
        ack()
        team, user = body["team"]["id"], body["user"]["id"]
        ensure_team(core, team)
        people.update_me(core, team, user, opted_out=False)
        _publish(client, team, user)

    @app.action("home_window")
    def on_window(ack, body, action, client):
        ack()
        team, user = body["team"]["id"], body["user"]["id"]
        ensure_team(core, team)
        people.update_me(core, team, user, window=action["selected_option"]["value"] or None)
        _publish(client, team, user)

    @app.action("home_department")
    def on_department(ack, body, action, client):
        ack()
        team, user = body["team"]["id"], body["user"]["id"]
        ensure_team(core, team)
        people.update_me(core, team, user, department=action["selected_option"]["value"])
        _publish(client, team, user)

    @app.action("home_grade")
    def on_grade(ack, body, action, client):
        ack()
        team, user = body["team"]["id"], body["user"]["id"]
        ensure_team(core, team)
        people.update_me(core, team, user, grade=action["selected_option"]["value"])
        _publish(client, team, user)
