"""A trust uninstalls medpulse (``app_uninstalled``) or revokes its bot token (``tokens_revoked``).

At once: its tokens are deleted, its open rounds are brought to a close (the ordinary close
path then erases their answer links and freezes participation as counts), nothing waiting to be
sent goes out, and no new round is created while it stays uninstalled. After the grace period
(``MEDPULSE_UNINSTALL_GRACE_DAYS``, default 30) without a reinstall, the rows that name people are
deleted: participants, deliveries, roles, the audit log, leaders' checklist ratings, the
author of each "you said, we did" action, and the routes and send ledger a platform keeps
(Teams' ``chat_routes`` and ``sent_messages``). Anonymous answers, comments and frozen counts stay
and follow the retention setting like every trust's. Reinstalling within the grace period
picks up where the trust left off (``bot.people.workspaces.installed``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, select, update

from bot.core import Core
from storage.models import (
    Assessment,
    AssessmentRating,
    AuditEntry,
    ChatRoute,
    Delivery,
    LeaderAction,
    Participant,
    Role,
    Round,
    SentMessage,
    Workspace,
)

log = logging.getLogger("medpulse.uninstall")

REMOVED = "removed"  # what stands in for a leader's ID on an action once identities are purged


def uninstalled(
    core: Core, team_id: str | None, enterprise_id: str | None = None, org_wide: bool = False
) -> list[str]:
    """Handle an uninstall or bot-token revocation; returns the workspaces it stopped.

    An organisation-wide (Enterprise Grid) install covers every workspace of the organisation.
    """
    if core.installations is not None:
        core.installations.forget(enterprise_id, None if org_wide else team_id)
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        where = (
            Workspace.enterprise_id == enterprise_id if org_wide else Workspace.team_id == team_id
        )
        rows = s.execute(select(Workspace.id, Workspace.team_id).where(where)).all()
        ids = [r[0] for r in rows]
        if not ids:
            return []
        s.execute(
            update(Workspace)
            .where(Workspace.id.in_(ids), Workspace.uninstalled_at.is_(None))
            .values(uninstalled_at=now)
        )
        s.execute(
            update(Delivery)
            .where(Delivery.workspace_id.in_(ids), Delivery.status == "pending")
            .values(status="skipped", error="uninstalled")
        )
        s.execute(
            update(Delivery)
            .where(Delivery.workspace_id.in_(ids), Delivery.reminder == "pending")
            .values(reminder="skipped")
        )
        s.execute(
            update(Round)
            .where(Round.workspace_id.in_(ids), Round.status == "open", Round.closes_at > now)
            .values(closes_at=now)
        )
    teams = [r[1] for r in rows]
    for team in teams:
        core.known_teams.pop(team, None)
    log.info("medpulse was uninstalled from %s: tokens deleted, rounds stopped", ", ".join(teams))
    return teams


def purge_expired(core: Core) -> list[str]:
    """Delete the identity rows of trusts uninstalled longer ago than the grace period."""
    before = core.clock.now() - timedelta(days=core.settings.uninstall_grace_days)
    with core.db.Session() as s, s.begin():
        rows = s.execute(
            select(Workspace.id, Workspace.team_id).where(
                Workspace.uninstalled_at.is_not(None), Workspace.uninstalled_at <= before
            )
        ).all()
        ids = [r[0] for r in rows]
        if not ids:
            return []
        s.execute(delete(Delivery).where(Delivery.workspace_id.in_(ids)))
        s.execute(delete(Participant).where(Participant.workspace_id.in_(ids)))
        s.execute(delete(Role).where(Role.workspace_id.in_(ids)))
        s.execute(delete(ChatRoute).where(ChatRoute.workspace_id.in_(ids)))
        s.execute(delete(SentMessage).where(SentMessage.workspace_id.in_(ids)))
        s.execute(delete(AuditEntry).where(AuditEntry.workspace_id.in_(ids)))
        taken = select(Assessment.id).where(Assessment.workspace_id.in_(ids))
        s.execute(delete(AssessmentRating).where(AssessmentRating.assessment_id.in_(taken)))
        s.execute(delete(Assessment).where(Assessment.workspace_id.in_(ids)))
        s.execute(
            update(LeaderAction)
            .where(LeaderAction.workspace_id.in_(ids))
            .values(created_by=REMOVED)
        )
    teams = [r[1] for r in rows]
    log.info("identity rows deleted for uninstalled workspace(s) %s", ", ".join(teams))
    return teams
