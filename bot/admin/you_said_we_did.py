""" "You said, we did": actions leaders record, shown once to the doctors they concern.

An action may be scoped to a department and/or a grade. The next pulse a doctor in scope receives
opens with the newest action they have not yet been shown; which action a person last saw is kept
on the participant row (identity side), never beside an answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select, update

from bot.admin import audit
from bot.core import Core
from questions.grades import GRADES
from storage.models import Department, LeaderAction, Participant, Round, Workspace

MAX_TEXT = 300


@dataclass(frozen=True)
class Action:
    id: int
    text: str
    theme: str | None
    department: str | None
    grade: str | None
    created_at: object


def record(
    core: Core,
    workspace_id: int,
    actor: str,
    text: str,
    theme: str | None,
    department: str | None,
    grade: str | None,
) -> int:
    text = " ".join((text or "").split())
    if not text:
        raise ValueError("Describe what was done.")
    if len(text) > MAX_TEXT:
        raise ValueError(f"Keep it under {MAX_TEXT} characters (it opens doctors' next pulse).")
    if grade is not None and grade not in GRADES:
        raise ValueError("Unknown grade.")
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        dept_id = None
        if department:
            dept_id = s.scalar(
                select(Department.id).where(
                    Department.workspace_id == workspace_id, Department.name == department
                )
            )
            if dept_id is None:
                raise ValueError(f"There is no department called {department!r}.")
        row = LeaderAction(
            workspace_id=workspace_id,
            created_by=actor,
            created_at=now,
            theme=theme,
            department_id=dept_id,
            grade=grade,
            text=text,
        )
        s.add(row)
        s.flush()
        audit.record(s, workspace_id, actor, "you said, we did", None, text, now)
        return row.id


def recent(
    core: Core,
    workspace_id: int,
    limit: int = 5,
    scope: tuple[str | None, str | None] | None = None,
) -> list[Action]:
    """Newest first. With ``scope`` (a doctor's department and grade) only the actions that
    concern them: workspace-wide ones and those for their department and/or grade."""
    with core.db.Session() as s:
        q = (
            select(LeaderAction, Department.name)
            .outerjoin(Department, Department.id == LeaderAction.department_id)
            .where(LeaderAction.workspace_id == workspace_id)
        )
        if scope is not None:
            department, grade = scope
            q = q.where(
                or_(LeaderAction.department_id.is_(None), Department.name == department),
                or_(LeaderAction.grade.is_(None), LeaderAction.grade == grade),
            )
        rows = s.execute(
            q.order_by(LeaderAction.created_at.desc(), LeaderAction.id.desc()).limit(limit)
        ).all()
    return [Action(a.id, a.text, a.theme, d, a.grade, a.created_at) for a, d in rows]


def themes_with_actions(core: Core, workspace_id: int) -> set[str]:
    with core.db.Session() as s:
        return set(
            s.scalars(
                select(LeaderAction.theme).where(
                    LeaderAction.workspace_id == workspace_id, LeaderAction.theme.is_not(None)
                )
            )
        )


def note_for(
    core: Core, team_id: str, user_id: str, round_id: int | None = None
) -> tuple[int, str] | None:
    """The newest action in this doctor's scope not yet shown to them: (id, text).

    Only actions recorded since the audience's previous pulse (the round before ``round_id``)
    count, so a newcomer is not greeted with old news; ``last_action_id`` on the participant
    (identity side, never beside an answer) keeps each action to one showing per person. The
    delivery worker marks it shown (``mark_shown``) only once the DM carrying it is sent.
    """
    with core.db.Session() as s:
        p = s.execute(
            select(Participant)
            .join(Workspace, Workspace.id == Participant.workspace_id)
            .where(Workspace.team_id == team_id, Participant.user_id == user_id)
        ).scalar()
        if p is None:
            return None
        q = (
            select(LeaderAction)
            .where(
                LeaderAction.workspace_id == p.workspace_id,
                LeaderAction.id > (p.last_action_id or 0),
                or_(
                    LeaderAction.department_id.is_(None),
                    LeaderAction.department_id == p.department_id,
                ),
                or_(LeaderAction.grade.is_(None), LeaderAction.grade == p.grade),
            )
            .order_by(LeaderAction.created_at.desc(), LeaderAction.id.desc())
            .limit(1)
        )
        since = _previous_pulse(s, round_id) if round_id is not None else None
        if since is not None:
            q = q.where(LeaderAction.created_at >= since)
        action = s.scalar(q)
        return (action.id, action.text) if action else None


def _previous_pulse(s, round_id: int):
    """When the audience's pulse before this one began; None for an audience's first pulse."""
    current = s.get(Round, round_id)
    if current is None:
        return None
    return s.scalar(
        select(func.max(Round.created_at)).where(
            Round.audience_id == current.audience_id,
            Round.id != current.id,
            Round.created_at <= current.created_at,
        )
    )


def mark_shown(s, participant_id: int, action_id: int) -> None:
    s.execute(
        update(Participant).where(Participant.id == participant_id).values(last_action_id=action_id)
    )
