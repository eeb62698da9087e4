"""Roster import: department and grade per doctor from a trust's HR export, all or nothing.

Columns: ``slack_id`` or ``email`` (one of them per row), ``department``, ``grade`` (NHS grade
names, mapped by ``bot.people.grade_names``). The file may be CSV in the encodings Excel writes or an
``.xlsx`` workbook (``bot.people.roster_file``). If any row is malformed, or two rows say different
things about one person, nothing is imported, so a half-fixed file never leaves the roster
half-updated.

Every person must belong to the workspace the import is for: a Slack ID already known there
(a participant) is accepted without asking Slack, so a roster of known IDs imports while Slack
is unreachable; any other ID is checked with ``users.info`` and e-mails with
``users.lookupByEmail``. IDs that cannot be checked are refused and listed, never stored, because
one trust's doctors and wards must never land in another's workspace.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.chat.errors import ChatError, Permanent, RateLimited, Undeliverable
from bot.chat.gateway import ChatGateway
from bot.core import Core
from bot.people.grade_names import GradeTable, table
from bot.people.roster_file import Row, read_rows
from questions.grades import GRADES
from storage.models import Department, Participant, Workspace

# Column -> header spellings accepted for it (after lower-casing, spaces as underscores).
COLUMNS = {
    "slack_id": (
        "slack_id",
        "slack_user_id",
        "slack_member_id",
        "member_id",
        "slack",
        "user_id",
        "teams_id",
        "teams_user_id",
    ),
    "email": ("email", "e_mail", "email_address", "e_mail_address", "work_email", "nhs_email"),
    "department": ("department", "dept", "specialty", "speciality", "service"),
    "grade": ("grade", "grade_name", "staff_grade", "medical_grade"),
}
UNKNOWN_GRADE = "is not a grade name medpulse knows (see the list below)"
PLATFORM_NAMES = {"slack": "Slack", "teams": "Teams"}
_ID_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# A Teams user ID as the Bot Connector gives it ("29:" and an opaque, case-sensitive token).
_TEAMS_ID = re.compile(r"^29:[A-Za-z0-9_\-]{8,}$")


@dataclass
class RosterRow:
    line: int
    slack_id: str | None
    email: str | None
    department: str
    grade: str | None

    @property
    def who(self) -> str:
        return self.slack_id or self.email or "?"


@dataclass
class RosterReport:
    matched: list[int] = field(default_factory=list)
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    unchecked: list[tuple[int, str]] = field(default_factory=list)
    malformed: list[tuple[int, str]] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)  # line -> why it did not match
    imported: bool = False
    departments: int = 0
    team: str = ""
    accepted_grades: str = ""  # set when a grade was not recognised
    platform: str = "Slack"  # the workspace's chat platform, as the report names it

    def render(self) -> str:
        lines = [
            f"{len(self.matched)} rows matched, {len(self.unmatched)} did not match a "
            f"{self.platform} user, "
            f"{len(self.unchecked)} could not be checked, {len(self.malformed)} malformed."
        ]
        lines += [f"  line {n}: malformed: {why}" for n, why in self.malformed]
        for n, who in self.unmatched:
            why = self.reasons.get(n) or f"no {self.platform} user for {who}"
            lines.append(f"  line {n}: {why}")
        for n, who in self.unchecked:
            lines.append(f"  line {n}: not imported: {who}: {self.reasons.get(n, '')}")
        if self.accepted_grades:
            lines.append(f"Accepted grade names: {self.accepted_grades}")
        if self.malformed:
            lines.append("Nothing was imported: fix the malformed rows and run the import again.")
            return "\n".join(lines)
        lines.append(f"Imported: {len(self.matched)} doctors in {self.departments} departments.")
        if self.unchecked:
            lines.append(
                "The rows that could not be checked against the workspace were left out: "
                f"run the import again when {self.platform} can be reached."
            )
        return "\n".join(lines)

    @property
    def exit_code(self) -> int:
        """0 done; 2 the file needs fixing; 1 rows were refused because the platform did not
        answer."""
        if self.malformed:
            return 2
        return 1 if self.unchecked else 0


def _header(cells: list[str]) -> tuple[dict[str, int], str | None]:
    """Column positions by canonical name, or the error naming the missing column."""
    names = [c.strip().lower().replace(" ", "_").replace("-", "_") for c in cells]
    where: dict[str, int] = {}
    for column, spellings in COLUMNS.items():
        for spelling in spellings:
            if spelling in names:
                where[column] = names.index(spelling)
                break
    has = ", ".join(c for c in cells if c) or "nothing"
    for column in ("department", "grade"):
        if column not in where:
            return where, f"the header has no '{column}' column (it has: {has})"
    if "slack_id" not in where and "email" not in where:
        return where, f"the header needs a 'slack_id' or an 'email' column (it has: {has})"
    return where, None


def _is_user_id(text: str) -> bool:
    """A Slack user ID (``U…``/``W…``) or a Teams one (``29:…``)."""
    if _TEAMS_ID.match(text):
        return True
    return len(text) >= 3 and text[0] in "UW" and set(text) <= _ID_ALPHABET


def _user_id(raw: str) -> str:
    """The ID as typed, tidied: Slack's are upper-case (and may be @-prefixed); Teams' are
    case-sensitive and kept as they are."""
    sid = raw.lstrip("@")
    return sid if sid.startswith("29:") else sid.upper()


def _row(n: int, cells: list[str], cols: dict[str, int], grades: GradeTable):
    """One row as a RosterRow, or the reason it is malformed."""

    def cell(name: str) -> str:
        i = cols.get(name)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    sid, email, dept, grade_raw = (
        cell("slack_id") or None,
        cell("email") or None,
        cell("department"),
        cell("grade"),
    )
    if sid:
        sid = _user_id(sid)
    if not (sid or email):
        return "needs a user ID (slack_id or user_id) or an email"
    if sid and not _is_user_id(sid):
        return f"{sid!r} is not a user ID (Slack's U… or W…, Teams' 29:…)"
    if email and "@" not in email:
        return f"{email!r} is not an email address"
    if not dept or len(dept) > 100:
        return "needs a department (up to 100 characters)"
    grade = grades.grade_of(grade_raw) if grade_raw else None
    if grade_raw and grade is None:
        return f"grade {grade_raw!r} {UNKNOWN_GRADE}"
    return RosterRow(n, sid, email.lower() if email else None, dept, grade)


def parse_rows(rows: list[Row], grades: GradeTable) -> tuple[list[RosterRow], list]:
    """Rows after the header, and (line, why) for each malformed or conflicting one."""
    if not rows:
        return [], [(1, "the file is empty: expected a header row and one row per doctor")]
    (hline, hcells), body = rows[0], rows[1:]
    cols, problem = _header(hcells)
    if problem:
        return [], [(hline, problem)]
    good, bad = [], []
    for n, cells in body:
        parsed = _row(n, cells, cols, grades)
        (good.append(parsed) if isinstance(parsed, RosterRow) else bad.append((n, parsed)))
    kept, conflicts = _without_duplicates(good, lambda r: r.slack_id or r.email)
    return kept, sorted(bad + conflicts)


def _without_duplicates(rows, key):
    """Identical repeats are dropped; two rows saying different things about one person are an
    error naming both lines (a roster must not silently pick one department)."""
    first: dict[str, RosterRow] = {}
    kept, conflicts = [], []
    for row in rows:
        prev = first.get(key(row))
        if prev is None:
            first[key(row)] = row
            kept.append(row)
        elif (prev.department, prev.grade) != (row.department, row.grade):
            conflicts.append(
                (
                    row.line,
                    f"{row.who} is also on line {prev.line}, with "
                    f"{_place(prev)} there and {_place(row)} here",
                )
            )
    return kept, conflicts


def _place(row: RosterRow) -> str:
    return f"{row.department} / {row.grade or 'no grade'}"


def import_roster(core: Core, team_id: str, text: str) -> RosterReport:
    """Import a roster given as CSV text (tests and the demo)."""
    return import_file(core, team_id, text.encode("utf-8"))


def check_file(data: bytes, grade_names: str | None) -> tuple[list[RosterRow], RosterReport]:
    """The file's rows, and a report that already holds every malformed row: the file alone
    decides these, so the CLI can say so before it looks at a database or Slack."""
    grades = table(grade_names)
    report = RosterReport()
    rows, report.malformed = parse_rows(read_rows(data), grades)
    if any(why.endswith(UNKNOWN_GRADE) for _, why in report.malformed):
        report.accepted_grades = grades.accepted()
    return rows, report


def import_file(core: Core, team_id: str, data: bytes) -> RosterReport:
    """Import a roster file's bytes (CSV in any encoding Excel writes, or .xlsx)."""
    rows, report = check_file(data, core.settings.grade_names)
    report.team = team_id
    report.platform = platform_name(core, team_id)
    if report.malformed:
        return report
    ids = {row.line: uid for row, uid in _resolve(core, team_id, rows, report)}
    # An e-mail row and an ID row can name the same person: compare them once resolved.
    kept, report.malformed = _without_duplicates(
        [r for r in rows if r.line in ids], lambda r: ids[r.line]
    )
    if not report.malformed:
        _store(core, team_id, [(r, ids[r.line]) for r in kept], report)
    return report


def _store(core: Core, team_id: str, resolved: list[tuple[RosterRow, str]], report) -> None:
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
        people = _participants(s, ws.id)
        for row, uid in resolved:
            p = people.get(uid)
            if p is None:
                p = people[uid] = Participant(
                    workspace_id=ws.id,
                    user_id=uid,
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


def _participants(s, workspace_id: int) -> dict[str, Participant]:
    return {
        p.user_id: p
        for p in s.scalars(select(Participant).where(Participant.workspace_id == workspace_id))
    }


def platform_name(core: Core, team_id: str) -> str:
    """The chat's name as an admin of this workspace knows it, "Slack" or "Teams" (Slack when the
    workspace is not known yet, as before Teams existed)."""
    with core.db.Session() as s:
        platform = s.scalar(select(Workspace.platform).where(Workspace.team_id == team_id))
    return PLATFORM_NAMES.get(platform or "slack", "Slack")


def _known_ids(core: Core, team_id: str) -> set[str]:
    """User IDs this workspace already has as participants (no platform call needed)."""
    with core.db.Session() as s:
        return set(
            s.scalars(
                select(Participant.user_id)
                .join(Workspace, Workspace.id == Participant.workspace_id)
                .where(Workspace.team_id == team_id)
            )
        )


def _gateway(core: Core, team_id: str):
    """The workspace's chat gateway, or None with the reason when it is not connected."""
    try:
        return core.gateway(team_id), ""
    except Exception as exc:  # noqa: BLE001 - no token, not installed: the rows say why
        name = platform_name(core, team_id)
        return None, f"{name} is not connected for workspace {team_id} ({exc})"


def _resolve(core: Core, team_id: str, rows: list[RosterRow], report: RosterReport):
    """(row, user ID) for every row that belongs to the workspace; the rest into the report."""
    known = _known_ids(core, team_id)
    gw, offline = None, ""
    if any(r.slack_id not in known for r in rows):
        gw, offline = _gateway(core, team_id)
    resolved = []
    for row in rows:
        if row.slack_id in known:
            resolved.append((row, row.slack_id))
            continue
        if gw is None:
            report.unchecked.append((row.line, row.who))
            report.reasons[row.line] = offline
            continue
        try:
            uid, why = _member_of(gw, team_id, row, report.platform)
        except ChatError as exc:
            report.unchecked.append((row.line, row.who))
            report.reasons[row.line] = f"{report.platform} did not answer ({exc.error})"
            continue
        if uid is None:
            report.unmatched.append((row.line, row.who))
            report.reasons[row.line] = why
        else:
            resolved.append((row, uid))
    return resolved


def _member_of(
    gw: ChatGateway, team_id: str, row: RosterRow, platform: str = "Slack"
) -> tuple[str | None, str]:
    """The row's user ID if they are an active person of this workspace, else (None, why)."""
    if row.slack_id is None:
        if not gw.capabilities.directory:
            return None, f"no look-up by e-mail on this platform ({row.email}): give their ID"
        uid = _patient(gw.user_by_email, row.email)
        if uid is None:
            return None, f"no {platform} user for {row.email} in workspace {team_id}"
    else:
        uid = row.slack_id
    try:
        member = _patient(gw.user, uid)
    except (Undeliverable, Permanent) as exc:
        if getattr(exc, "error", "") in ("user_not_found", "users_not_found"):
            return None, f"{uid} is not a member of workspace {team_id}"
        raise
    if member.team_id and member.team_id != team_id:
        return None, f"{uid} belongs to another workspace ({member.team_id}), not {team_id}"
    if member.is_bot or member.deleted:
        return None, f"{uid} is a {'bot' if member.is_bot else 'deactivated account'}"
    return uid, ""


def _patient(call, arg, attempts: int = 3):
    """One look-up, waiting out the platform's rate limit (a big roster meets it)."""
    for attempt in range(attempts):
        try:
            return call(arg)
        except RateLimited as exc:
            if attempt == attempts - 1:
                raise
            time.sleep(min(exc.retry_after or 1.0, 30.0))
    return None


__all__ = ["GRADES", "check_file", "import_file", "import_roster", "parse_rows"]
