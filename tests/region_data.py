"""Closed pulses for one trust of a multi-workspace region, written straight into the real schema
(departments, frozen participation, headline answers), with chosen open and close times."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from storage.models import (
    Audience,
    Department,
    QuestionItem,
    QuestionVersion,
    Response,
    Round,
    RoundParticipation,
    Workspace,
)


def workspace_id(core, team: str) -> int:
    with core.db.Session() as s:
        return s.scalar(select(Workspace.id).where(Workspace.team_id == team))


def _headline_version(s, ws: int) -> int:
    return s.scalar(
        select(QuestionVersion.id)
        .join(QuestionItem)
        .where(QuestionItem.workspace_id == ws, QuestionItem.key == "headline-engagement")
        .order_by(QuestionVersion.version.desc())
    )


def _department(s, ws: int, name: str) -> int:
    d = s.scalar(select(Department).where(Department.workspace_id == ws, Department.name == name))
    if d is None:
        d = Department(workspace_id=ws, name=name)
        s.add(d)
        s.flush()
    return d.id


def closed_pulse(
    core,
    ws: int,
    rows: list[tuple[str | None, int, int]],
    opened: datetime,
    headline: list[int] | None = None,
    days: int = 5,
) -> int:
    """One closed pulse: ``rows`` (department, invited, responded); headline answers 0-10."""
    with core.db.Session() as s, s.begin():
        aud = s.scalar(select(Audience).where(Audience.workspace_id == ws))
        if aud is None:
            aud = Audience(workspace_id=ws, channel_id=f"CDOC{ws}", name="d", created_at=opened)
            s.add(aud)
            s.flush()
        rnd = Round(
            workspace_id=ws,
            audience_id=aud.id,
            slot_key=f"seed-{opened.isoformat()}",
            status="closed",
            seed=1,
            created_at=opened,
            period_start=date(opened.year, opened.month, opened.day),
            closes_at=opened + timedelta(days=days),
            closed_at=opened + timedelta(days=days),
            invited=sum(r[1] for r in rows),
        )
        s.add(rnd)
        s.flush()
        version = _headline_version(s, ws)
        for v in headline or []:
            s.add(Response(workspace_id=ws, round_id=rnd.id, version_id=version, value=v))
        for dept, invited, responded in rows:
            s.add(
                RoundParticipation(
                    round_id=rnd.id,
                    department_id=_department(s, ws, dept) if dept else None,
                    grade=None,
                    invited=invited,
                    responded=responded,
                )
            )
        return rnd.id
