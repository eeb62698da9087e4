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
from bot.rounds import answers
from bot.rounds import doctor as pulses
from bot.rounds.pulse_view import parse_answer_value
from integrations.slack import responder, views
from integrations.slack.redraws import Redraws
from integrations.slack.responder import ResponseUrlPoster

log = logging.getLogger("medpulse.pulse")

ANSWER = re.compile(r"^answer-(-?\d+)$")
COMMENT_VIEW = pulses.COMMENT_FORM
NOT_STORED = pulses.NOT_STORED
CLOSED_NOTE = pulses.CLOSED_NOTE


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


class Taps:
    """The answer-tap path of one app: where taps' confirmations are posted and queued."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.poster = None if responder.proxied() else ResponseUrlPoster()
        self.redraws = Redraws(workers=core.settings.web_threads)
        core.on_stop.append(self.redraws.close)

    def middleware(self, req: BoltRequest, next) -> BoltResponse | None:
        """Answer taps, handled in the request's own thread.

        A tap is the most frequent request by far and the one a doctor waits on. Bolt runs a
        listener in its pool while the request thread checks for the ack every 10 ms, which
        rounded every tap up to 10 ms or more and tied up a server thread meanwhile. Here the
        answer is stored and the 200 returned straight after; the redraw is queued.
        """
        action = _answer_action(req.body)
        if action is None:
            return next()
        self.answer(req.body, action, req.context.client, req.context.respond)
        return BoltResponse(status=200, body="")

    def answer(self, body: dict, action: dict, client, respond) -> None:
        """Store the answer (before the 200: once Slack has it, it is durable), then queue the
        note that confirms it, or says the pulse has closed."""
        core = self.core
        team, user = body["team"]["id"], body["user"]["id"]
        parsed = parse_answer_value(action.get("value", ""))
        if parsed is None:
            return
        round_id, version_id, value = parsed
        outcome = answers.record_answer(core, team, user, round_id, version_id, value)
        if outcome.status == "closed":  # the DM itself is redrawn by bot.rounds.closing

            def show_closed() -> None:
                self.tell(body, client, respond, CLOSED_NOTE)

            self.redraws.submit(_message_key(body), show_closed)
        elif outcome.status == "recorded":

            def confirm() -> None:
                note = pulses.tap_note(
                    core, team, user, outcome.delivery, outcome.round, version_id
                )
                self.tell(body, client, respond, note)

            self.redraws.submit((*_message_key(body), version_id), confirm)

    def tell(self, body: dict, client, respond, text: str) -> None:
        _tell(body, client, respond, self.poster, text)


def _round_id(raw) -> int:
    """The round a button or form names; 0 (nobody's round: nothing found, nothing stored)
    for anything that is not a number."""
    try:
        return int(raw or 0)
    except (TypeError, ValueError):
        return 0


def on_comment(ack, body, action, client, core: Core, team: str) -> None:
    """ "Add a comment": the comment form, with the themes of this person's own pulse."""
    ack()
    form = pulses.comment_form(core, team, body["user"]["id"], _round_id(action.get("value")))
    client.views_open(trigger_id=body["trigger_id"], view=views.modal(form))


def on_comment_submit(ack, body, view, core: Core, team: str) -> None:
    """Store the comment (bot.rounds.answers decides what is acceptable); problems go back
    against the field, so the doctor's text stays in the form."""
    values = views.submitted(view)
    raw, theme = values.get("comment"), values.get("theme")
    raw, theme = raw if isinstance(raw, str) else "", theme if isinstance(theme, str) else None
    round_id = _round_id(view.get("private_metadata"))
    problem = pulses.submit_comment(core, team, body["user"]["id"], round_id, raw, theme)
    if problem is not None:
        ack(response_action="errors", errors={"comment": problem})
        return
    ack(response_action="update", view=views.modal(pulses.thanks_form()))


def on_not_now(ack, body, action, client, core: Core, team: str) -> None:
    """ "Not now": tomorrow's reminder, said in a note only the doctor sees."""
    ack()
    user = body["user"]["id"]
    note = pulses.snooze_note(core, team, user, _round_id(action.get("value")))
    channel = (body.get("container") or {}).get("channel_id") or user
    client.chat_postEphemeral(channel=channel, user=user, text=note)


def on_why(ack, body, client, core: Core) -> None:
    """ "Why am I getting this?": the privacy notice."""
    ack()
    client.views_open(trigger_id=body["trigger_id"], view=views.modal(pulses.why_form(core.k)))


def register(app: App, core: Core) -> None:
    app.middleware(Taps(core).middleware)
    app.action("comment")(on_comment)
    app.view(COMMENT_VIEW)(on_comment_submit)
    app.action("not_now")(on_not_now)
    app.action("why")(on_why)
