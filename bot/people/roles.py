"""Granting and removing the admin and leader roles (audited: admin identities are not anonymous).

Who may *use* a role is decided in ``bot.people.authz``; this module only changes who holds one. The
one rule here is that the workspace must never be left without an admin, since only an admin
can name another: the last admin cannot remove themselves (nor be removed).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.admin import audit
from bot.admin.operations import AdminError, workspace
from bot.core import Core
from bot.people.authz import ADMIN, LEADER
from storage.models import Role

ROLES = (ADMIN, LEADER)
LABELS = {ADMIN: "admin", LEADER: "leader"}


def _check(role: str) -> None:
    if role not in ROLES:  # pragma: no cover - callers pass constants
        raise ValueError(f"unknown role {role!r}")


def grant(core: Core, team_id: str, actor: str, user_id: str, role: str) -> bool:
    """Give ``user_id`` the role; False when they already had it (nothing is written)."""
    _check(role)
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws = workspace(s, team_id)
        if _holds(s, ws.id, user_id, role):
            return False
        s.add(
            Role(
                workspace_id=ws.id,
                user_id=user_id,
                role=role,
                granted_by=actor,
                created_at=now,
            )
        )
        audit.record(s, ws.id, actor, f"{role} added", None, user_id, now)
        return True


def revoke(core: Core, team_id: str, actor: str, user_id: str, role: str) -> bool:
    """Take the role away; False when they did not hold it. Refuses to remove the last admin."""
    _check(role)
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws = workspace(s, team_id)
        row = _holds(s, ws.id, user_id, role)
        if row is None:
            return False
        if role == ADMIN and _count(s, ws.id, ADMIN) <= 1:
            who = "yourself" if user_id == actor else "them"
            raise AdminError(
                f"you can't remove {who}: that would leave medpulse with no admin. "
                "Add another admin first with `/pulse admins add @someone`."
            )
        s.delete(row)
        audit.record(s, ws.id, actor, f"{role} removed", user_id, None, now)
        return True


def holders(core: Core, team_id: str, role: str) -> list[str]:
    """Slack user ids holding ``role``, oldest grant first."""
    _check(role)
    with core.db.Session() as s:
        ws = workspace(s, team_id)
        return list(
            s.scalars(
                select(Role.user_id)
                .where(Role.workspace_id == ws.id, Role.role == role)
                .order_by(Role.created_at, Role.id)
            )
        )


@dataclass(frozen=True)
class Person:
    """A resolved person for a role change (the bot must not make a bot an admin)."""

    user_id: str
    is_bot: bool
    deleted: bool
    team_id: str | None = None  # their home workspace, as Slack reports it
    teams: tuple[str, ...] = ()  # Enterprise Grid: the org's workspaces they belong to


def eligible(person: Person, trust_team: str | None = None) -> None:
    """Only real, active people of this trust can hold a role: a Slack Connect guest from
    another organisation, or a Grid colleague of another trust, reads nothing of this one."""
    if person.is_bot:
        raise AdminError("that is a bot, not a person; roles are for people")
    if person.deleted:
        raise AdminError("that account is deactivated")
    if trust_team and not belongs(person, trust_team):
        raise AdminError(
            "that person is not a member of this workspace (they are from another "
            "organisation or trust); roles are only for the trust's own people"
        )


def belongs(person: Person, trust_team: str) -> bool:
    """A member of the trust's own workspace (their home team, or one of their Grid teams)."""
    return person.team_id == trust_team or trust_team in person.teams


def _holds(s, workspace_id: int, user_id: str, role: str) -> Role | None:
    return s.scalar(
        select(Role).where(
            Role.workspace_id == workspace_id, Role.user_id == user_id, Role.role == role
        )
    )


def _count(s, workspace_id: int, role: str) -> int:
    """Rows are locked (PostgreSQL) so two admins removing each other cannot both succeed."""
    ids = s.scalars(
        select(Role.id)
        .where(Role.workspace_id == workspace_id, Role.role == role)
        .with_for_update()
    ).all()
    return len(ids)
