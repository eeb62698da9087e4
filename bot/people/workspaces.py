"""Workspace bootstrap: the row every table hangs off, bootstrap admins, the question bank.

Admins are per trust. ``MEDPULSE_ADMINS`` seeds a workspace only with the IDs named for it
(``TEAM:USER``; plain IDs only in single-workspace mode, see ``Settings.admin_ids_for``), and an
OAuth install makes the installer an admin only of a workspace that has no admin yet: a
re-install, by anyone allowed to install apps, grants nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.admin import audit
from storage.models import (
    AuditEntry,
    QuestionItem,
    QuestionSet,
    QuestionVersion,
    Role,
    Workspace,
)


def ensure_team(core, team_id: str) -> int:
    """The workspace id for a team, creating and bootstrapping it once per process."""
    known = core.known_teams.get(team_id)
    if known is not None:
        return known
    with core.db.Session() as s, s.begin():
        ws = ensure_workspace(
            s,
            team_id,
            core.clock.now(),
            core.settings.timezone,
            core.settings.admin_ids_for(team_id),
        )
        if ws.uninstalled_at is not None and not core.settings.multi_workspace:
            # One workspace, token from the environment: a signed request from it again means
            # the app was reinstalled (with OAuth, ``installed`` says so instead).
            ws.uninstalled_at = None
        core.known_teams[team_id] = ws.id
        return ws.id


def installed(
    core,
    team_id: str,
    installer: str | None,
    enterprise_id: str | None = None,
    platform: str = "slack",
) -> bool:
    """After an install: the workspace exists, marked with the platform that serves it
    (``Core.gateway`` asks the row), is no longer marked uninstalled, and its installer is an
    admin on the first install (or when the trust has no admin left, its identities purged
    after an uninstall), never on a re-install. True when that made one."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        first = s.scalar(select(Workspace.id).where(Workspace.team_id == team_id)) is None
        ws = ensure_workspace(
            s, team_id, now, core.settings.timezone, core.settings.admin_ids_for(team_id)
        )
        ws.uninstalled_at, ws.platform = None, platform
        if enterprise_id:
            ws.enterprise_id = enterprise_id
        has_admin = s.scalar(
            select(Role.id).where(Role.workspace_id == ws.id, Role.role == "admin").limit(1)
        )
        granted = (first or has_admin is None) and bool(installer)
        if granted and not _holds_admin(s, ws.id, installer):
            s.add(
                Role(
                    workspace_id=ws.id,
                    user_id=installer,
                    role="admin",
                    granted_by="installer",
                    created_at=now,
                )
            )
            audit.record(s, ws.id, installer, "admin added (installer)", None, installer, now)
        core.known_teams[team_id] = ws.id
    return granted


def note_enterprise(core, team_id: str, enterprise_id: str) -> None:
    """Remember a workspace's Enterprise Grid organisation (from a request Slack signed), so
    the worker can find an org-wide install's token for it; the workspace is still its own
    island: every row hangs off its own workspace id."""
    ensure_team(core, team_id)
    with core.db.Session() as s, s.begin():
        ws = s.scalar(select(Workspace).where(Workspace.team_id == team_id))
        if ws.enterprise_id != enterprise_id:
            ws.enterprise_id = enterprise_id


def audience_list(audience) -> list[str]:
    """Items say ``all`` or a list of grades; store one shape."""
    if audience in (None, "all") or audience == ["all"]:
        return ["all"]
    return sorted(audience)


def ensure_workspace(
    s: Session,
    team_id: str,
    now: datetime,
    timezone: str,
    admins: Iterable[str] = (),
    granted_by: str = "MEDPULSE_ADMINS",
) -> Workspace:
    """Create the workspace on first sight; idempotent, safe under concurrent first requests."""
    ws = s.scalar(select(Workspace).where(Workspace.team_id == team_id))
    if ws is None:
        ws = Workspace(team_id=team_id, name="", timezone=timezone, created_at=now)
        s.add(ws)
        s.flush()
    for admin in admins:
        exists = s.scalar(
            select(Role.id).where(
                Role.workspace_id == ws.id, Role.user_id == admin, Role.role == "admin"
            )
        )
        if exists is None and not _admin_removed(s, ws.id, admin):
            s.add(
                Role(
                    workspace_id=ws.id,
                    user_id=admin,
                    role="admin",
                    granted_by=granted_by,
                    created_at=now,
                )
            )
    sync_items(s, ws.id, "bank", "bank", _bank_items(), now)
    return ws


def _holds_admin(s: Session, workspace_id: int, user_id: str) -> bool:
    return (
        s.scalar(
            select(Role.id).where(
                Role.workspace_id == workspace_id,
                Role.user_id == user_id,
                Role.role == "admin",
            )
        )
        is not None
    )


def _admin_removed(s: Session, workspace_id: int, user_id: str) -> bool:
    """MEDPULSE_ADMINS only seeds admins: one an admin has removed in Slack stays removed (the
    audit log remembers), rather than coming back at the next restart."""
    return (
        s.scalar(
            select(AuditEntry.id)
            .where(
                AuditEntry.workspace_id == workspace_id,
                AuditEntry.action == "admin removed",
                AuditEntry.old == user_id,
            )
            .limit(1)
        )
        is not None
    )


def _bank_items():
    from questions.loader import load_bank

    return load_bank().items


def sync_items(
    s: Session, workspace_id: int, set_name: str, kind: str, items, now: datetime
) -> int:
    """Make the workspace's copy of a question set match ``items``.

    New items are added; an item whose wording changed gets a new version (answers to different
    wordings are never mixed in trends); items are never deleted, so past answers stay readable.
    Returns how many items or versions were added.
    """
    qset = s.scalar(
        select(QuestionSet).where(
            QuestionSet.workspace_id == workspace_id, QuestionSet.name == set_name
        )
    )
    if qset is None:
        qset = QuestionSet(workspace_id=workspace_id, name=set_name, kind=kind, enabled=True)
        s.add(qset)
        s.flush()
    existing = {
        it.key: it
        for it in s.scalars(select(QuestionItem).where(QuestionItem.workspace_id == workspace_id))
    }
    texts = dict(
        s.execute(
            select(QuestionVersion.item_id, QuestionVersion.text)
            .join(QuestionItem, QuestionItem.id == QuestionVersion.item_id)
            .where(
                QuestionItem.workspace_id == workspace_id,
                QuestionVersion.version == QuestionItem.current_version,
            )
        ).all()
    )
    added = 0
    for item in items:
        row = existing.get(item.id)
        if row is None:
            row = QuestionItem(
                workspace_id=workspace_id,
                set_id=qset.id,
                key=item.id,
                scale=item.scale,
                theme=item.theme,
                source=item.source,
                audience=audience_list(item.audience),
                reverse=item.reverse,
                headline=getattr(item, "headline", False),
                enabled=True,
                current_version=1,
            )
            s.add(row)
            s.flush()
            s.add(
                QuestionVersion(
                    item_id=row.id, version=1, text=item.text, help=item.help, created_at=now
                )
            )
            added += 1
        elif row.set_id == qset.id and texts.get(row.id) != item.text:
            new_version(s, row, item.text, item.help, now)
            added += 1
    return added


def new_version(
    s: Session, item: QuestionItem, text: str, help_text: str | None, now: datetime
) -> QuestionVersion:
    """Reword an item: a new version, so trends never join two wordings."""
    item.current_version += 1
    v = QuestionVersion(
        item_id=item.id, version=item.current_version, text=text, help=help_text, created_at=now
    )
    s.add(v)
    s.flush()
    return v
