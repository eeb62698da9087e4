"""A trust's place in the region (issue 17): opting in and out, mapping its departments onto the
shared specialty list, and the regional leaders' channel.

Why opt-in is a row per membership: it is revocable at any time and takes effect at the next
comparison (``members`` is read when a comparison is built), and the rows keep when each trust
was in; who opted in or out is written to the trust's audit log like every admin change.

The regional leaders' channel: a Slack channel belongs to one workspace and medpulse posts with
that workspace's token, so the channel lives in one trust's workspace. It is set by an admin of
an opted-in trust in that trust's own workspace (``/pulse region channel #name``): no operator
setting to edit, the choice is audited where it was made, and only a trust inside the region can
host it. Once set it can be moved only by the host's admins, so one trust cannot redirect the
region's comparison to itself; when the host leaves the region the channel is cleared (audited)
and another member sets a new one. The channel may be shared with the other trusts' leaders
(Slack Connect): it only ever carries figures each trust already publishes inside the trust.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.admin import audit
from bot.admin.operations import AdminError
from bot.core import Core
from bot.insights import specialties
from storage.models import Department, RegionChannel, RegionMember, SpecialtyMap, Workspace

NOT_COMPARED = "none"  # what an admin types to keep a department out of the comparison


def _active(s: Session, workspace_id: int) -> RegionMember | None:
    return s.scalar(
        select(RegionMember).where(
            RegionMember.workspace_id == workspace_id, RegionMember.opted_out_at.is_(None)
        )
    )


def members(s: Session) -> list[int]:
    """The workspaces in the region now: opted in, not opted out since, still installed."""
    return list(
        s.scalars(
            select(RegionMember.workspace_id)
            .join(Workspace, Workspace.id == RegionMember.workspace_id)
            .where(RegionMember.opted_out_at.is_(None), Workspace.uninstalled_at.is_(None))
            .order_by(RegionMember.workspace_id)
        )
    )


def is_member(core: Core, workspace_id: int) -> bool:
    with core.db.Session() as s:
        return workspace_id in members(s)


def _rename(s: Session, workspace_id: int, actor: str, name: str | None, now) -> None:
    """The trust's name as the region reads it (a workspace is often named for a team)."""
    ws = s.get(Workspace, workspace_id)
    if name and name.strip() and name.strip() != ws.name:
        audit.record(s, workspace_id, actor, "trust name", ws.name or None, name.strip(), now)
        ws.name = name.strip()[:200]


def join(core: Core, workspace_id: int, actor: str, name: str | None = None) -> str:
    """Opt the trust in (audited), under ``name`` when given; saying so when it already is."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        _rename(s, workspace_id, actor, name, now)
        if _active(s, workspace_id) is not None:
            return "This trust is already in the region" + (f", named {name}." if name else ".")
        s.add(RegionMember(workspace_id=workspace_id, opted_in_at=now))
        audit.record(s, workspace_id, actor, "region opt-in", None, "in", now)
    return (
        "✅ This trust is in the region. From the next comparison its response rate and "
        "headline score (only where its own summary publishes them) and its departments' "
        "specialty figures (only pooled over three or more trusts) are shared with the "
        "region's leaders. `/pulse region leave` takes it out again."
    )


def leave(core: Core, workspace_id: int, actor: str) -> str:
    """Opt the trust out (audited); the regional channel goes too if this trust hosts it."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        row = _active(s, workspace_id)
        if row is None:
            return "This trust is not in the region."
        row.opted_out_at = now
        audit.record(s, workspace_id, actor, "region opt-out", "in", "out", now)
        hosted = s.scalar(select(RegionChannel).where(RegionChannel.workspace_id == workspace_id))
        if hosted is not None:
            audit.record(s, workspace_id, actor, "region channel", hosted.channel_id, None, now)
            s.delete(hosted)
    return (
        "✅ This trust has left the region: the next comparison leaves it out. "
        "`/pulse region join` brings it back."
    )


def changed_after(s: Session, after: datetime) -> datetime | None:
    """The latest change to who is in the region or how a department maps, after ``after``."""
    times = [
        s.scalar(
            select(func.max(RegionMember.opted_in_at)).where(RegionMember.opted_in_at > after)
        ),
        s.scalar(
            select(func.max(RegionMember.opted_out_at)).where(RegionMember.opted_out_at > after)
        ),
        s.scalar(select(func.max(SpecialtyMap.set_at)).where(SpecialtyMap.set_at > after)),
    ]
    return max((t for t in times if t is not None), default=None)


# --------------------------------------------------------------------------- specialties


def overrides(s: Session, workspace_id: int) -> dict[str, str | None]:
    """Department name -> the specialty the trust chose for it (None: not compared)."""
    rows = s.execute(
        select(Department.name, SpecialtyMap.specialty)
        .join(SpecialtyMap, SpecialtyMap.department_id == Department.id)
        .where(SpecialtyMap.workspace_id == workspace_id)
    )
    return {name: spec for name, spec in rows}


@dataclass(frozen=True)
class Mapping:
    department: str
    specialty: str | None
    chosen: bool  # set by the trust's admin (else from the shared list's aliases)


def mappings(core: Core, workspace_id: int) -> list[Mapping]:
    """Every department of the trust and the specialty it is compared as."""
    with core.db.Session() as s:
        chosen = overrides(s, workspace_id)
        names = s.scalars(
            select(Department.name)
            .where(Department.workspace_id == workspace_id)
            .order_by(Department.name)
        ).all()
    return [Mapping(n, specialties.specialty_of(n, chosen), n in chosen) for n in names if n]


def set_mapping(core: Core, workspace_id: int, actor: str, department: str, specialty: str) -> str:
    """Map one department onto the shared list (or ``none``), audited; one line back."""
    wanted = (
        None if specialty.strip().lower() == NOT_COMPARED else specialties.specialty_of(specialty)
    )
    if wanted is None and specialty.strip().lower() != NOT_COMPARED:
        listed = ", ".join(sorted(set(specialties.aliases().values())))
        raise AdminError(f"{specialty!r} is not on the shared specialty list. It has: {listed}")
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        dept = s.scalar(
            select(Department).where(
                Department.workspace_id == workspace_id,
                func.lower(Department.name) == department.strip().lower(),
            )
        )
        if dept is None:
            raise AdminError(f"there is no department called {department!r} in this trust")
        row = s.scalar(select(SpecialtyMap).where(SpecialtyMap.department_id == dept.id))
        old = specialties.specialty_of(dept.name, overrides(s, workspace_id))
        if row is None:
            row = SpecialtyMap(workspace_id=workspace_id, department_id=dept.id, set_at=now)
            s.add(row)
        row.specialty, row.set_at = wanted, now
        audit.record(
            s, workspace_id, actor, "specialty mapping", old, f"{dept.name} → {wanted}", now
        )
        name = dept.name
    if wanted is None:
        return f"✅ {name} is left out of regional comparisons."
    return f"✅ {name} is compared as {wanted} across the region."


# --------------------------------------------------------------------------- the channel


@dataclass(frozen=True)
class Channel:
    workspace_id: int
    team_id: str
    channel_id: str


def channel(core: Core) -> Channel | None:
    """The regional leaders' channel, if one is set and its host trust is still in the region."""
    with core.db.Session() as s:
        row = s.execute(
            select(RegionChannel.workspace_id, Workspace.team_id, RegionChannel.channel_id)
            .join(Workspace, Workspace.id == RegionChannel.workspace_id)
            .order_by(RegionChannel.id)
        ).first()
        if row is None or row[0] not in members(s):
            return None
        return Channel(*row)


def set_channel(core: Core, workspace_id: int, actor: str, channel_id: str) -> str:
    """Make ``channel_id`` (in this trust's workspace) the regional leaders' channel."""
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        if workspace_id not in members(s):
            raise AdminError(
                "only a trust in the region can host its channel: `/pulse region join` first"
            )
        old = None
        for row in s.scalars(select(RegionChannel)).all():
            if row.workspace_id != workspace_id and row.workspace_id in members(s):
                host = s.get(Workspace, row.workspace_id)
                raise AdminError(
                    f"the regional channel is hosted by {host.name or host.team_id}; its admins "
                    "can move it (or it is cleared when that trust leaves the region)"
                )
            old = row.channel_id if row.workspace_id == workspace_id else old
            s.delete(row)  # a channel left behind by a trust no longer in the region
        s.flush()
        s.add(RegionChannel(workspace_id=workspace_id, channel_id=channel_id, set_at=now))
        audit.record(s, workspace_id, actor, "region channel", old, channel_id, now)
    return (
        f"✅ The region's monthly comparison goes to <#{channel_id}> (first working day of each "
        "month). Everyone in it sees each member trust's published figures."
    )


def status_lines(core: Core, workspace_id: int) -> list[str]:
    """Where the trust stands: in or out, the channel, its departments' specialties."""
    with core.db.Session() as s:
        inside = members(s)
        names = {
            w.id: w.name or w.team_id
            for w in s.scalars(select(Workspace).where(Workspace.id.in_(inside)))
        }
    here = workspace_id in inside
    ch = channel(core)
    lines = [
        (
            f"*This trust is in the region*, named {names[workspace_id]} there "
            '(`/pulse region join name:"Trust name"` renames it).'
            if here
            else "*This trust is not in the region.*"
        ),
        f"Trusts in the region: {', '.join(names[i] for i in inside) or 'none yet'}.",
        (
            f"Regional channel: <#{ch.channel_id}> (hosted by {names.get(ch.workspace_id)})."
            if ch
            else "No regional channel yet: an admin of a member trust sets one with "
            "`/pulse region channel #name`."
        ),
        "*Departments and the specialty each is compared as:*",
    ]
    for m in mappings(core, workspace_id):
        where = m.specialty or "not compared"
        lines.append(f"• {m.department} → {where}" + (" (set here)" if m.chosen else ""))
    return lines
