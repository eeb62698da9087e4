"""The admin part of the App Home: status at a glance and buttons for the common actions.

``integrations.slack.listeners.home`` renders the doctor's part and appends :func:`blocks` (empty for anyone who is
not an admin). Every button asks ``bot.people.authz`` again before acting: a Home view can outlive the
role of the person looking at it.
"""

from __future__ import annotations

import logging

from slack_bolt import App

from bot.admin import operations as admin
from bot.admin import schedule as schedules
from bot.admin import status
from bot.admin.operations import AdminError
from bot.core import Core
from bot.people import authz
from bot.people.workspaces import ensure_team
from integrations.slack.gateway import ChatError
from integrations.slack.listeners import modals

log = logging.getLogger("medpulse.admin_home")

HOME_ACTION = "admin-home"  # the authz entry for seeing this section
ACTIONS = {
    "admin_send_now": "send",
    "admin_pause": "pause",
    "admin_resume": "resume",
    "admin_edit_schedule": "schedule",
    "admin_add_question": "questions",
}


def _button(action_id: str, text: str, style: str | None = None, confirm: dict | None = None):
    el: dict = {"type": "button", "action_id": action_id, "text": modals._plain(text)}
    if style:
        el["style"] = style
    if confirm:
        el["confirm"] = confirm
    return el


def _send_confirm() -> dict:
    return {
        "title": modals._plain("Send a pulse now?"),
        "text": modals._plain(
            "Every doctor in the audience gets a pulse DM straight away, even outside usual hours."
        ),
        "confirm": modals._plain("Send now"),
        "deny": modals._plain("Cancel"),
    }


def _notice(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:2000]}]}


def is_admin(core: Core, team: str, user: str) -> bool:
    ws_id = ensure_team(core, team)
    with core.db.Session() as s:
        return authz.allowed(s, ws_id, user, HOME_ACTION)


def blocks(core: Core, team: str, user: str, notice: str | None = None) -> list[dict]:
    """The admin section; for anyone else only ``notice`` (e.g. a refusal), if there is one."""
    if not is_admin(core, team, user):
        return [_notice(notice)] if notice else []
    st = status.status(core, team)
    out: list[dict] = [
        {"type": "divider"},
        {"type": "header", "text": modals._plain("Admin")},
    ]
    if notice:
        out.append(_notice(notice))
    out.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(status.lines(st))[:3000]}}
    )
    if st.configured:
        toggle = (
            _button("admin_resume", "Resume", "primary")
            if st.paused
            else _button("admin_pause", "Pause")
        )
        elements = [
            _button("admin_send_now", "Send now", "primary", _send_confirm()),
            toggle,
            _button("admin_edit_schedule", "Edit schedule"),
            _button("admin_add_question", "Add a question"),
        ]
        out.append({"type": "actions", "block_id": "admin-actions", "elements": elements})
    out.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "More: `/pulse help` · `/pulse questions` · `/pulse audit`",
                }
            ],
        }
    )
    return out


def _send_now(core: Core, team: str, user: str) -> str:
    res = admin.send_now(core, team, user)
    if not res.round.created:
        return f"⚠️ No round was started: {res.round.reason}."
    return f"✅ Round started: sending to {res.round.invited} doctors now."


def _pause(core: Core, team: str, user: str, paused: bool) -> str:
    changed = schedules.set_paused(core, team, user, paused)
    if paused:
        return "⏸️ Paused: no scheduled rounds until you resume." if changed else "Already paused."
    snap = schedules.read(core, team)
    head = "▶️ Resumed." if changed else "Already running."
    return f"{head} Next round: {snap.next_round_text}."


def register(app: App, core: Core) -> None:
    from integrations.slack.listeners import home

    def guarded(action_id: str):
        """Ack at once, check the role for this button, run, then redraw the Home."""

        def decorate(fn):
            @app.action(action_id)
            def listener(ack, body, client):
                ack()
                team, user = body["team"]["id"], body["user"]["id"]
                ws_id = ensure_team(core, team)
                with core.db.Session() as s:
                    ok = authz.allowed(s, ws_id, user, ACTIONS[action_id])
                if not ok:
                    notice = authz.refusal(ACTIONS[action_id])
                else:
                    try:
                        notice = fn(team, user, body, client)
                    except AdminError as exc:
                        notice = f"⚠️ {exc}"
                    except ChatError as exc:
                        notice = f"⚠️ Slack refused that ({exc.error})."
                if notice is not None:
                    home.publish(core, client, team, user, notice=notice)

            return listener

        return decorate

    @guarded("admin_send_now")
    def on_send(team, user, body, client):
        return _send_now(core, team, user)

    @guarded("admin_pause")
    def on_pause(team, user, body, client):
        return _pause(core, team, user, True)

    @guarded("admin_resume")
    def on_resume(team, user, body, client):
        return _pause(core, team, user, False)

    @guarded("admin_edit_schedule")
    def on_edit(team, user, body, client):
        view = modals.schedule_view(schedules.read(core, team), origin="home")
        core.gateway(team).open_view(body["trigger_id"], view)
        return None

    @guarded("admin_add_question")
    def on_add(team, user, body, client):
        core.gateway(team).open_view(body["trigger_id"], modals.question_view(origin="home"))
        return None
