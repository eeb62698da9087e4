"""A department's own conversation: its published results, with its chart, posted into its
channel by a leader for discussion.

Why it renders nothing of its own: the post is the leaders' department view (``summary_job.render``,
the one ``summary.build`` model), so it carries only what that view publishes; a department whose
view is held back gets no post, and the leader is told why. Replies in the channel are ordinary
Slack messages under people's names, so the post says plainly that they are not anonymous.
"""

from __future__ import annotations

import logging

from bot.admin import audit
from bot.core import Core
from bot.insights import charts
from bot.insights.posting import render
from bot.people import channels

log = logging.getLogger("medpulse.share")

NOT_ANONYMOUS = (
    ":speech_balloon: Shared by <@{user}> for discussion. *Replies here are not anonymous*: "
    "everyone in this channel sees who wrote them. To say something anonymously, use "
    "*Add a comment* on your next pulse."
)


def share(
    core: Core, team: str, workspace_id: int, user: str, channel: str, department: str
) -> str | None:
    """Post the department's published results and chart; the reason instead, with nothing
    posted, when its view publishes no figure or the channel is shared outside the trust."""
    model, title, text, blocks = render(core, workspace_id, department)
    if model.suppressed_reason:
        return model.suppressed_reason
    if not channels.postable(core, team, channel):  # checked again just before the post
        return channels.refused_post(channel)
    note = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": NOT_ANONYMOUS.format(user=user)}],
    }
    gw = core.gateway(team)
    posted = gw.post_channel(channel, text, [blocks[0], note, *blocks[1:]])
    with core.db.Session() as s, s.begin():
        audit.record(
            s,
            workspace_id,
            user,
            "department share",
            None,
            f"{department} → {channel}",
            core.clock.now(),
        )
    try:
        gw.upload_png(
            posted.channel, charts.summary_png(model, title), "medpulse-summary.png", title, None
        )
    except Exception:  # noqa: BLE001 - the figures are posted; a missing chart must not repost
        log.exception("department chart upload to %s failed", channel)
    return None
