"""A doctor's own settings: opt out/in, preferred time window, department and grade."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.core import Core
from questions.grades import GRADES
from storage.models import Department, Participant, Workspace

WINDOWS = ("morning", "lunchtime", "evening")


@dataclass
class Me:
    opted_out: bool
    window: str | None
    department: str | None
    grade: str | None
    departments: list[str]


def _participant(s, team: str, user: str, now) -> Participant:
    ws = s.scalar(select(Workspace).where(Workspace.team_id == team))
    p = s.scalar(
        select(Participant).where(Participant.workspace_id == ws.id, Participant.user_id == user)
    )
    if p is None:
        p = Participant(workspace_id=ws.id, user_id=user, active=False, created_at=now)
        s.add(p)
        s.flush()
    return p


def me(core: Core, team: str, user: str) -> Me:
    with core.db.Session() as s, s.begin():
        p = _participant(s, team, user, core.clock.now())
        depts = list(
            s.scalars(
                select(Department.name)
                .where(Department.workspace_id == p.workspace_id)
                .order_by(Department.name)
            )
        )
        dept = s.get(Department, p.department_id).name if p.department_id else None
        return Me(p.opted_out, p.preferred_window, dept, p.grade, depts)


def update_me(core: Core, team: str, user: str, **changes) -> None:
    """Apply the doctor's own choices; unknown values are ignored rather than stored."""
    with core.db.Session() as s, s.begin():
        p = _participant(s, team, user, core.clock.now())
        if "opted_out" in changes:
            p.opted_out = bool(changes["opted_out"])
        if "window" in changes:
            w = changes["window"]
            p.preferred_window = w if w in WINDOWS else None
        if "grade" in changes and changes["grade"] in GRADES:
            p.grade = changes["grade"]
        if "department" in changes:
            dept = s.scalar(
                select(Department.id).where(
                    Department.workspace_id == p.workspace_id,
                    Department.name == changes["department"],
                )
            )
            if dept is not None:
                p.department_id = dept
