"""Roster import: department and grade per doctor from a CSV, all or nothing.

Columns: ``slack_id`` or ``email`` (one of them per row), ``department``, ``grade``. The report
lists rows that matched, did not match (no such Slack user), and were malformed, with line
numbers. If any row is malformed nothing is imported, so a half-fixed file never leaves the
roster half-updated.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.core import Core
from storage.models import GRADES, Department, Participant, Workspace

GRADE_ALIASES = {
    "consultant": "consultant",
    "sas": "sas",
    "specialty doctor": "sas",
    "associate specialist": "sas",
    "staff grade": "sas",
    "resident": "resident",
    "junior": "resident",
    "junior doctor": "resident",
    "resident doctor": "resident",
    "trainee": "resident",
    "medical leader": "medical_leader",
    "medical_leader": "medical_leader",
    "leader": "medical_leader",
}


@dataclass
class RosterRow:
    line: int
    slack_id: str | None
    email: str | None
    department: str
    grade: str | None


@dataclass
class RosterReport:
    matched: list[int] = field(default_factory=list)
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    malformed: list[tuple[int, str]] = field(default_factory=list)
    imported: bool = False
    departments: int = 0

    def render(self) -> str:
        lines = [
            f"{len(self.matched)} rows matched, {len(self.unmatched)} did not match a Slack user, "
            f"{len(self.malformed)} malformed."
        ]
        for n, why in self.malformed:
            lines.append(f"  line {n}: malformed: {why}")
        for n, who in self.unmatched:
            lines.append(f"  line {n}: no Slack user for {who}")
        if self.malformed:
            lines.append("Nothing was imported: fix the malformed rows and run the import again.")
        else:
            lines.append(
                f"Imported: {len(self.matched)} doctors in {self.departments} departments."
            )
        return "\n".join(lines)


def parse(text: str) -> tuple[list[RosterRow], list[tuple[int, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    cols = {c.strip().lower() for c in (reader.fieldnames or [])}
    if "department" not in cols or not ({"slack_id", "email"} & cols):
        return [], [(1, "the header must have department, grade and slack_id or email")]
    rows, bad = [], []
    for n, raw in enumerate(reader, start=2):
        r = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        sid, email, dept = (
            r.get("slack_id") or None,
            r.get("email") or None,
            r.get("department", ""),
        )
        grade_raw = r.get("grade", "").lower()
        if not (sid or email):
            bad.append((n, "needs a slack_id or an email"))
        elif sid and not (sid[0] in "UW" and sid[1:].isalnum()):
            bad.append((n, f"{sid!r} is not a Slack user ID"))
        elif email and "@" not in email:
            bad.append((n, f"{email!r} is not an email address"))
        elif not dept or len(dept) > 100:
            bad.append((n, "needs a department (up to 100 characters)"))
        elif grade_raw and grade_raw not in GRADE_ALIASES:
            bad.append(
                (n, f"grade {grade_raw!r} is not one of consultant, SAS, resident, medical leader")
            )
        else:
            rows.append(RosterRow(n, sid, email, dept, GRADE_ALIASES.get(grade_raw)))
    return rows, bad


def import_roster(core: Core, team_id: str, text: str) -> RosterReport:
    report = RosterReport()
    rows, report.malformed = parse(text)
    if report.malformed:
        return report
    gw = core.gateway(team_id)
    resolved: list[tuple[RosterRow, str]] = []
    for row in rows:
        uid = row.slack_id or gw.user_by_email(row.email)
        if uid is None:
            report.unmatched.append((row.line, row.email or row.slack_id))
        else:
            resolved.append((row, uid))
    now = core.clock.now()
    with core.db.Session() as s, s.begin():
        ws = s.scalar(select(Workspace).where(Workspace.team_id == team_id))
        depts = {
            d.name: d for d in s.scalars(select(Department).where(Department.workspace_id == ws.id))
        }
        for name in sorted({r.department for r, _ in resolved} - set(depts)):
            depts[name] = Department(workspace_id=ws.id, name=name)
            s.add(depts[name])
        s.flush()
        people = {
            p.slack_user_id: p
            for p in s.scalars(select(Participant).where(Participant.workspace_id == ws.id))
        }
        for row, uid in resolved:
            p = people.get(uid)
            if p is None:
                p = people[uid] = Participant(
                    workspace_id=ws.id,
                    slack_user_id=uid,
                    active=False,
                    created_at=now,
                    cycle_start=None,
                )
                s.add(p)
            p.department_id = depts[row.department].id
            if row.grade:
                p.grade = row.grade
            report.matched.append(row.line)
        report.departments = len({r.department for r, _ in resolved})
    report.imported = True
    return report


def cli_import(settings, path: str, team: str | None) -> int:
    from bot.runtime import build_core
    from bot.workspaces import ensure_team

    core = build_core(settings)
    if team is None:
        team = core.gateway("").client.auth_test()["team_id"]
    ensure_team(core, team)
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except OSError as exc:
        print(f"medpulse roster: cannot read {path}: {exc.strerror}")
        return 2
    report = import_roster(core, team, text)
    print(report.render())
    return 0 if report.imported else 1


__all__ = ["GRADES", "import_roster", "parse"]
