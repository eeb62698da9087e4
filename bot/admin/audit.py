"""The audit log: every admin change, who, what, old -> new, when. Admins are not anonymous."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEntry


def record(
    s: Session, workspace_id: int, actor: str, action: str, old: object, new: object, now: datetime
) -> None:
    s.add(
        AuditEntry(
            workspace_id=workspace_id,
            actor=actor,
            action=action,
            old=None if old is None else str(old),
            new=None if new is None else str(new),
            at=now,
        )
    )


def latest(s: Session, workspace_id: int, n: int = 10) -> list[AuditEntry]:
    return list(
        s.scalars(
            select(AuditEntry)
            .where(AuditEntry.workspace_id == workspace_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(n)
        )
    )
