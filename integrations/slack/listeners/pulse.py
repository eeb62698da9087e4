"""Listeners for the pulse DM: answer taps, the comment modal, "not now" and "why me".

A tap's answer is stored, then acked (both in the request's own thread, see ``answer_taps``);
then a note only the doctor sees confirms it (integrations.slack.redraws runs it off the ack path). The DM
itself is never redrawn with the answer: Slack keeps messages (and, where a workspace keeps
edit history, their earlier versions) under the doctor's name, while an ephemeral note is not
kept at all. When the round closes, bot.rounds.closing redraws every DM to the same closed message.
"""

from __future__ import annotations

import logging
import re

from slack_bolt import App, BoltRequest, BoltResponse

from bot.core import Core
from bot.people.workspaces import ensure_team
from bot.rounds import answers
from bot.rounds import doctor as pulses
from bot.rounds.pulse_view import parse_answer_value
from integrations.slack import responder
from integrations.slack.redraws import Redraws
from integrations.slack.responder import ResponseUrlPoster

log = logging.getLogger("medpulse.pulse")

ANSWER = re.compile(r"^answer-(-?\d+)$")
COMMENT_VIEW = "pulse_comment"
NOT_STORED = (
    "This comment was not stored: the pulse it belongs to is not one sent to you. "
    "Use Add a comment on your own pulse."
)
CLOSED_NOTE = "Thanks for tapping, but this pulse has closed. Your next one will come soon."


def _respond(poster: ResponseUrlPoster | None, body: dict, respond, **payload) -> bool:
    """POST to the click's response URL (pooled connections, or Bolt's ``respond`` behind a
    proxy); False when it did not land, so the caller can fall back to the Web API."""
    try:
        if poster is None:
            status = respond(**payload).status_code
        else:
            status = poster.post(body["response_url"], payload)
    except Exception:
        log.warning("response URL could not be reached", exc_info=True)
        return False
    if status >= 300:
        log.warning("response URL answered %s", status)
        return False
    return True


def _tell(body: dict, client, respond, poster, text: str) -> None:
    """A note only the tapping doctor sees, beside the message (never kept in history).

    Through the click's ``response_url`` where there is one: those are not under the Web API's
    rate tiers, so a few hundred doctors answering in the same minute are all confirmed;
    ``chat.postEphemeral`` is the fallback when it fails.
    """
    if body.get("response_url") and _respond(
        poster, body, respond, text=text, response_type="ephemeral", replace_original=False
    ):
        return
    user = body["user"]["id"]
    channel = (body.get("container") or {}).get("channel_id") or user
    client.chat_postEphemeral(channel=channel, user=user, text=text)


def _answer_action(body: dict) -> dict | None:
    """The action of a one-button answer tap (``answer-N``), or None for anything else."""
    if body.get("type") != "block_actions":
        return None
    actions = body.get("actions") or []
    if len(actions) != 1 or not isinstance(actions[0], dict):
        return None
    if not ANSWER.match(str(actions[0].get("action_id", ""))):
        return None
    if not isinstance(body.get("team"), dict) or not isinstance(body.get("user"), dict):
        return None
    return actions[0]


def _message_key(body: dict) -> tuple[str, str]:
    container = body.get("container") or {}
    return (
        body["team"]["id"],
        container.get("message_ts") or body.get("response_url") or body["trigger_id"],
    )


def register(app: App, core: Core) -> None:
    poster = None if responder.proxied() else ResponseUrlPoster()
    redraws = Redraws(workers=core.settings.web_threads)
    core.on_stop.append(redraws.close)

    @app.middleware
    def answer_taps(req: BoltRequest, next) -> BoltResponse | None:
        """Answer taps, handled in the request's own thread.

        A tap is the most frequent request by far and the one a doctor waits on. Bolt runs a
        listener in its pool while the request thread checks for the ack every 10 ms, which
        rounded every tap up to 10 ms or more and tied up a server thread meanwhile. Here the
        answer is stored and the 200 returned straight after; the redraw is queued.
        """
        action = _answer_action(req.body)
        if action is None:
            return next()
        on_answer(req.body, action, req.context.client, req.context.respond)
        return BoltResponse(status=200, body="")

    def on_answer(body: dict, action: dict, client, respond) -> None:
        # Stored before the 200: once Slack has it, the answer is durable.
        team, user = body["team"]["id"], body["user"]["id"]
        ensure_team(core, team)
        parsed = parse_answer_value(action.get("value", ""))
        if parsed is None:
            return
        round_id, version_id, value = parsed
        outcome = answers.record_answer(core, team, user, round_id, version_id, value)
        if outcome.status == "closed":

            def show_closed() -> (
                None
            ):  # the DM itself is redrawn by bot.rounds.closing, for everyone
                _tell(body, client, respond, poster, CLOSED_NOTE)

            redraws.submit(_message_key(body), show_closed)
        elif outcome.status == "recorded":

            def confirm() -> None:
                note = pulses.tap_note(
                    core, team, user, outcome.delivery, outcome.round, version_id
                )
                _tell(body, client, respond, poster, note)

            redraws.submit((*_message_key(body), version_id), confirm)

    @app.action("comment")
    def on_comment(ack, body, action, client):
        ack()
        team, user = body["team"]["id"], body["user"]["id"]
        ensure_team(core, team)
        round_id = int(action.get("value") or 0)
        view = pulses.comment_modal(core, team, user, round_id)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(COMMENT_VIEW)
    def on_comment_submit(ack, body, view):
        team, user = body["team"]["id"], body["user"]["id"]
        values = view["state"]["values"]
        raw = (values.get("comment", {}).get("text", {}) or {}).get("value") or ""
        theme_opt = (values.get("theme", {}).get("theme", {}) or {}).get("selected_option")
        text = answers.clean_comment(raw)
        if not text:
            ack(
                response_action="errors",
                errors={"comment": "Write something, or close this window."},
            )
            return
        if len(text) > answers.MAX_COMMENT:
            ack(
                response_action="errors",
                errors={
                    "comment": f"That is {len(text):,} characters; the limit is "
                    f"{answers.MAX_COMMENT:,}. Please shorten it (your text is still here)."
                },
            )
            return
        theme = theme_opt["value"] if theme_opt and theme_opt["value"] != "other" else None
        outcome = answers.record_comment(
            core, team, user, int(view["private_metadata"]), text, theme
        )
        if outcome.status == "closed":
            ack(response_action="errors", errors={"comment": "Sorry, this pulse has closed."})
            return
        if outcome.status != "recorded":  # not this person's round: nothing was stored
            ack(response_action="errors", errors={"comment": NOT_STORED})
            return
        ack(response_action="update", view=pulses.thanks_modal())

    @app.action("not_now")
    def on_not_now(ack, body, action, client):
        ack()
        team, user = body["team"]["id"], body["user"]["id"]
        ensure_team(core, team)
        when = pulses.snooze(core, team, user, int(action.get("value") or 0))
        note = (
            f"No problem. I'll remind you {when}."
            if when
            else "This pulse closes before tomorrow, so there's no reminder. No worries."
        )
        channel = (body.get("container") or {}).get("channel_id") or user
        client.chat_postEphemeral(channel=channel, user=user, text=note)

    @app.action("why")
    def on_why(ack, body, client):
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=pulses.why_modal(core))
