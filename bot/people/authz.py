"""Authorisation, decided here and nowhere else.

Three roles: admin (configure everything), leader (read summaries, comments, exports), and
everyone else (answer, opt out). Every ``/pulse`` subcommand and admin button names what it needs
in ``REQUIRED``; listeners ask ``allowed`` (or ``permits``) and never test roles themselves.
``LISTENERS`` names, for every Bolt listener, the entry it checks or why it needs no role;
``tests/test_trust_authz.py`` enumerates the registered listeners against it and drives each
restricted one as a doctor.
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
    "region": ADMIN,
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

SLACK = "slack"  # sent by Slack itself (no person acts): signature-checked, needs no role
OWN = EVERYONE  # a person's own things (their pulse, comment, Home), scoped to them elsewhere

# Every registered listener ("kind:id") and what it checks: a REQUIRED entry, OWN or SLACK.
LISTENERS: dict[str, str] = {
    "command:/pulse": "per subcommand",  # each subcommand's REQUIRED entry, checked by bot.admin.commands.run
    "action:answer-N": OWN,  # the answer-tap middleware: the round must be the tapper's own
    "action:comment": OWN,
    "view:pulse_comment": OWN,
    "action:not_now": OWN,
    "action:why": OWN,
    "event:app_home_opened": OWN,  # the admin part is shown only to those with "admin-home"
    "action:home_optout": OWN,
    "action:home_optin": OWN,
    "action:home_window": OWN,
    "action:home_department": OWN,
    "action:home_grade": OWN,
    "action:summary_detail": "summary",
    "view:leadership_checklist": "checklist",
    "view:leadership_action": "action",
    "view:admin_schedule": "schedule",
    "view:admin_add_question": "questions",
    "action:admin_send_now": "send",
    "action:admin_pause": "pause",
    "action:admin_resume": "resume",
    "action:admin_edit_schedule": "schedule",
    "action:admin_add_question": "questions",
    "event:app_uninstalled": SLACK,
    "event:tokens_revoked": SLACK,
}


def roles_of(s: Session, workspace_id: int, user_id: str) -> set[str]:
    return set(
        s.scalars(
            select(Role.role).where(Role.workspace_id == workspace_id, Role.user_id == user_id)
        )
    )


def level(roles: set[str]) -> str:
    if ADMIN in roles:
        return ADMIN
    if LEADER in roles:
        return LEADER
    return EVERYONE


def at_least(level_: str, need: str) -> bool:
    """Whether someone at ``level_`` may do what needs ``need``."""
    return _RANK[level_] >= _RANK[need]


def allowed(s: Session, workspace_id: int, user_id: str, action: str) -> bool:
    """Unknown actions need admin: failing closed is the safe default."""
    need = REQUIRED.get(action, ADMIN)
    return _RANK[level(roles_of(s, workspace_id, user_id))] >= _RANK[need]


def permits(core, team_id: str, user_id: str, action: str) -> bool:
    """``allowed`` for a listener that has a team and a user but no session yet."""
    from bot.people.workspaces import ensure_team

    ws_id = ensure_team(core, team_id)
    with core.db.Session() as s:
        return allowed(s, ws_id, user_id, action)


def refusal(action: str) -> str:
    need = REQUIRED.get(action, ADMIN)
    who = "medpulse admins" if need == ADMIN else "medpulse admins and leaders"
    return (
        f"Sorry, `/pulse {action}` is for {who}. Nothing was changed. "
        "An admin can give you access with `/pulse admins add @you` "
        "or `/pulse leaders-role add @you`."
    )
