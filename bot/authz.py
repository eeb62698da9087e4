"""Authorisation, decided here and nowhere else.

Three roles: admin (configure everything), leader (read summaries, comments, exports), and
everyone else (answer, opt out). Every ``/pulse`` subcommand and admin button names what it needs
in ``REQUIRED``; listeners ask ``allowed`` and never test roles themselves.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Role

EVERYONE, LEADER, ADMIN = "everyone", "leader", "admin"

REQUIRED: dict[str, str] = {
    "help": EVERYONE,
    "optout": EVERYONE,
    "optin": EVERYONE,
    "privacy": EVERYONE,
    "status": LEADER,
    "summary": LEADER,
    "comments": LEADER,
    "export": LEADER,
    "gap": LEADER,
    "checklist": LEADER,
    "action": LEADER,
    "share": LEADER,
    "schedule": ADMIN,
    "pause": ADMIN,
    "resume": ADMIN,
    "send": ADMIN,
    "audience": ADMIN,
    "leaders": ADMIN,
    "questions": ADMIN,
    "audit": ADMIN,
    "admins": ADMIN,
    "leaders-role": ADMIN,
    # Not slash commands: the admin section of the App Home (its buttons reuse the entries above).
    "admin-home": ADMIN,
    # Every "you said, we did" action in the App Home, not only those for one's own group.
    "home-all-actions": LEADER,
}

_RANK = {EVERYONE: 0, LEADER: 1, ADMIN: 2}


def roles_of(s: Session, workspace_id: int, user_id: str) -> set[str]:
    return set(
        s.scalars(
            select(Role.role).where(
                Role.workspace_id == workspace_id, Role.slack_user_id == user_id
            )
        )
    )


def level(roles: set[str]) -> str:
    if ADMIN in roles:
        return ADMIN
    if LEADER in roles:
        return LEADER
    return EVERYONE


def allowed(s: Session, workspace_id: int, user_id: str, action: str) -> bool:
    """Unknown actions need admin: failing closed is the safe default."""
    need = REQUIRED.get(action, ADMIN)
    return _RANK[level(roles_of(s, workspace_id, user_id))] >= _RANK[need]


def refusal(action: str) -> str:
    need = REQUIRED.get(action, ADMIN)
    who = "medpulse admins" if need == ADMIN else "medpulse admins and leaders"
    return (
        f"Sorry, `/pulse {action}` is for {who}. Nothing was changed. "
        "An admin can give you access with `/pulse admins add @you` "
        "or `/pulse leaders-role add @you`."
    )
