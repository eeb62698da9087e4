"""A department's own conversation: its published results, with its chart, posted into its
channel by a leader for discussion.

Why it renders nothing of its own: the post is the leaders' department view (``posting.render``,
the one ``summary.build`` model), so it carries only what that view publishes; a department whose
view is held back gets no post, and the leader is told why. Replies in the channel are ordinary
messages under people's names, so the post says plainly (its preface) that they are not
anonymous.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.admin import audit
from bot.core import Core
from bot.insights.posting import chart, render
from bot.people import channels

log = logging.getLogger("medpulse.share")

NOT_ANONYMOUS = (
    "💬 Shared by <@{user}> for discussion. *Replies here are not anonymous*: "
    "everyone in this channel sees who wrote them. To say something anonymously, use "
    "*Add a comment* on your next pulse."
)


def share(
    core: Core, team: str, workspace_id: int, user: str, channel: str, department: str
) -> str | None:
    """Post the department's published results and chart; the reason instead, with nothing
    posted, when its view publishes no figure or the channel is shared outside the trust."""
    model, view = render(core, workspace_id, department)
    if model.suppressed_reason:
        return model.suppressed_reason
    if not channels.postable(core, team, channel):  # checked again just before the post
        return channels.refused_post(channel)
    view = replace(view, preface=NOT_ANONYMOUS.format(user=user))
    core.gateway(team).post_channel(channel, view, chart(model, view.title))
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
    return None
