"""Which channels may receive a trust's data: only the trust's own.

A leaders' or department channel shared outside the trust (Slack Connect with another
organisation, or with other workspaces of an Enterprise Grid organisation, i.e. other trusts)
would put one trust's summaries in front of another's people. Such a channel is refused when
an admin names it, and checked again before every post: a channel that has become shared since
receives nothing, and the trust's admins are told (by DM, and in the audit log). Whether a
channel is shared, and how, is the platform's to say (``ChatGateway.channel_info``).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from bot.admin import audit
from bot.admin.operations import AdminError
from bot.chat.errors import ChatError
from bot.chat.views import TextView
from bot.core import Core
from storage.models import Role, Workspace

log = logging.getLogger("medpulse.channels")


class SharedChannel(AdminError):
    """A channel that reaches beyond the trust; the message is for the admin."""


def refusal(name: str, why: str) -> str:
    return (
        f"#{name} can't receive medpulse summaries: {why}, so people outside this trust would "
        "read them. Choose a channel only your trust's people are in."
    )


def refused_post(channel_id: str) -> str:
    return (
        f"nothing was posted to <#{channel_id}>: it is shared outside this trust now (or the "
        "platform could not say). The medpulse admins have been told by DM."
    )


def check(core: Core, team_id: str, channel_id: str) -> None:
    """Raise ``SharedChannel`` if the channel is shared outside the trust (when it is set)."""
    info = core.gateway(team_id).channel_info(channel_id)
    if info.shared_outside:
        raise SharedChannel(refusal(info.name, _why(info)))


def postable(core: Core, team_id: str, channel_id: str) -> bool:
    """Checked before every post to a channel: False (and the admins told) if it is shared now.

    A direct conversation is always the trust's own (the adapter says so without asking). A
    channel the platform cannot describe is not posted to either: a summary that might go to
    the wrong people waits.
    """
    try:
        info = core.gateway(team_id).channel_info(channel_id)
    except ChatError as exc:
        log.warning("could not check channel %s before posting: %s", channel_id, exc.error)
        text = (
            f"I could not check <#{channel_id}> before posting a summary (the platform said "
            f"{exc.error}), so nothing was posted there. Invite me back or choose another channel."
        )
        tell_admins(core, team_id, channel_id, text)
        return False
    if not info.shared_outside:
        return True
    tell_admins(core, team_id, channel_id, refusal(info.name, _why(info)))
    return False


def _why(info) -> str:
    return info.why_shared or "it is shared outside this trust"


def tell_admins(core: Core, team_id: str, channel_id: str, text: str) -> None:
    """Record the refusal in the audit log and DM every admin of the trust."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws_id = s.scalar(select(Workspace.id).where(Workspace.team_id == team_id))
        if ws_id is None:
            return
        audit.record(s, ws_id, "medpulse", "post refused (shared channel)", None, channel_id, now)
        admins = list(
            s.scalars(select(Role.user_id).where(Role.workspace_id == ws_id, Role.role == "admin"))
        )
    gw = core.gateway(team_id)
    for admin in admins:
        try:
            gw.send_dm(admin, TextView("⚠️ Nothing was posted. " + text))
        except ChatError as exc:
            log.warning(
                "could not tell admin %s about channel %s: %s", admin, channel_id, exc.error
            )
