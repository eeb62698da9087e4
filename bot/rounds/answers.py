"""Recording answers and comments under the anonymity model.

The only tie between a person and an answer is ``link_hash``: an HMAC of (round, question,
workspace, user) under a key that lives in configuration, never in the database. It lets a doctor
change an answer while the round is open and is erased when the round closes. Recording an
answer or a comment writes only to ``responses`` or ``comments``: no row that names a person
changes in that transaction (a reader of transaction ids, row versions or the write-ahead log
finds nothing to join); whether someone has answered is derived from the links (``answered``).
Segments (department, grade) are decided per item for everyone at once (bot.rounds.segments).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.core import Core
from bot.rounds import facts as roundfacts
from bot.rounds import segments
from questions.scales import valid as valid_value
from storage.models import (
    Comment,
    Delivery,
    Department,
    Participant,
    Response,
    Round,
    Workspace,
)

MAX_COMMENT = 2000


@dataclass
class Outcome:
    status: str  # recorded | closed | not_yours | invalid
    round_id: int | None = None
    delivery: Delivery | None = None
    round: Round | None = None


def _refusal(core: Core, found, round_id: int) -> Outcome | None:
    """Why an answer or comment cannot be taken: not this person's round, or it has closed."""
    if found is None:
        return Outcome("not_yours", round_id)
    delivery, rnd = found[0], found[2]
    if rnd.status != "open" or rnd.closes_at <= core.clock.now():
        return Outcome("closed", round_id, delivery)
    return None


def link_hash(key: bytes, *parts: object) -> str:
    msg = "|".join(str(p) for p in parts).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def _upsert(s: Session, model, values: dict, keys: list[str], update_cols: list[str]) -> None:
    """One statement, no read-modify-write race: a double tap can never make two rows."""
    stmt = _upsert_statement(s.bind.dialect.name, model.__table__, tuple(keys), tuple(update_cols))
    s.execute(stmt, values)


@functools.cache
def _upsert_statement(dialect: str, table, keys: tuple[str, ...], update_cols: tuple[str, ...]):
    """Built once per shape: constructing ON CONFLICT's ``excluded`` was a tenth of a tap."""
    ins = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = ins(table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in update_cols}
    )


_PERSON = (
    select(Participant.id)
    .join(Workspace, Workspace.id == Participant.workspace_id)
    .where(
        Workspace.team_id == bindparam("team_id"),
        Participant.user_id == bindparam("user_id"),
    )
    .scalar_subquery()
)
# The person first (unique per workspace), then their one delivery of the round (unique per
# round and person): two index look-ups whatever the round's size. Joined the other way round,
# SQLite walked every delivery of the round on each tap.
_FIND_DELIVERY = (
    select(Delivery, Participant, Round, Department.name)
    .join(Participant, Participant.id == Delivery.participant_id)
    .join(Round, Round.id == Delivery.round_id)
    .outerjoin(Department, Department.id == Participant.department_id)
    .where(
        Delivery.round_id == bindparam("round_id"),
        Delivery.participant_id == _PERSON,
        Round.workspace_id == Participant.workspace_id,
    )
)


def find_delivery(
    s: Session, team_id: str, user_id: str, round_id: int
) -> tuple[Delivery, Participant, Round] | None:
    """This person's delivery of this round in this workspace (the statement is built once:
    every tap runs it)."""
    found = _find_with_department(s, team_id, user_id, round_id)
    return found[:3] if found else None


def _find_with_department(
    s: Session, team_id: str, user_id: str, round_id: int
) -> tuple[Delivery, Participant, Round, str | None] | None:
    """The same, with the person's department name (a separate read cost a tap a round trip)."""
    row = s.execute(
        _FIND_DELIVERY, {"team_id": team_id, "user_id": user_id, "round_id": round_id}
    ).first()
    return tuple(row) if row else None


def _segment(
    core: Core, s: Session, rnd: Round, version_id: int, p: Participant, name: str | None
) -> tuple[int | None, str | None]:
    """The segment to copy onto an answer, decided for the whole item at once (bot.rounds.segments)
    from how many were asked, never person by person: a missing grade or department on a row
    says only what it says for every answer to the item in the same cell."""
    k = core.k

    def load() -> dict:
        asked = roundfacts.asked(core.facts, s, rnd, version_id)
        return segments.plan(segments.asked_cells(asked), k, rnd.audience_changed)

    mapping = core.facts.get(("segments", rnd.id, rnd.created_at, version_id, k), load)
    dept, grade = mapping.get((name, p.grade), (None, None))
    return (p.department_id if dept is not None else None), grade


def _links(core: Core, round_id: int, team_id: str, user_id: str, version_ids) -> list[str]:
    """Every link this person's answers or comment in the round would carry."""
    parts = [*version_ids, "comment"]
    return [link_hash(core.link_key, round_id, v, team_id, user_id) for v in parts]


@dataclass(frozen=True)
class Asked:
    """One delivery, as much as deriving whether its person answered needs."""

    delivery_id: int
    round_id: int
    team_id: str
    user_id: str
    version_ids: list[int]


ASKED_COLUMNS = (
    Delivery.id,
    Delivery.round_id,
    Workspace.team_id,
    Participant.user_id,
    Delivery.version_ids,
)


def asked_rows(stmt) -> object:
    """``stmt`` (a select of ASKED_COLUMNS) joined to the person and workspace it needs."""
    return stmt.join(Participant, Participant.id == Delivery.participant_id).join(
        Workspace, Workspace.id == Delivery.workspace_id
    )


def answered(core: Core, s: Session, asked: list[Asked]) -> set[int]:
    """The deliveries (of ``asked``) whose person has stored an answer or a comment.

    Nothing in the database says so: it is derived here, while a round is open, by recomputing
    each person's links under the key held in configuration and looking them up. So an answer's
    transaction writes no identity row, and after close (links erased) it cannot be derived.
    """
    found: set[int] = set()
    for round_id in {a.round_id for a in asked}:
        mine = [a for a in asked if a.round_id == round_id]
        links = {
            a.delivery_id: _links(core, round_id, a.team_id, a.user_id, a.version_ids) for a in mine
        }
        stored = _stored_links(s, round_id, [h for hs in links.values() for h in hs])
        found.update(d for d, hs in links.items() if not stored.isdisjoint(hs))
    return found


def _stored_links(s: Session, round_id: int, wanted: list[str]) -> set[str]:
    """Which of ``wanted`` are stored: looked up by value for a few people (a reminder), or
    every link of the round read once for many (participation counts)."""
    out: set[str] = set()
    for model in (Response, Comment):
        stmt = select(model.link_hash).where(model.round_id == round_id)
        if len(wanted) <= 200:
            stmt = stmt.where(model.link_hash.in_(wanted))
        out.update(s.scalars(stmt))
    return out


def record_answer(
    core: Core, team_id: str, user_id: str, round_id: int, version_id: int, value: int
) -> Outcome:
    """Store (or change) one answer; repeated taps and retried requests are idempotent."""
    with core.db.Session() as s, s.begin():
        found = _find_with_department(s, team_id, user_id, round_id)
        refusal = _refusal(core, found, round_id)
        if refusal is not None:
            return refusal
        delivery, person, rnd, department = found
        if version_id not in delivery.version_ids:
            return Outcome("invalid", round_id, delivery)
        scale = roundfacts.questions(core.facts, s, [version_id])[0].scale
        if not valid_value(scale, value):
            return Outcome("invalid", round_id, delivery)
        dept_id, grade = _segment(core, s, rnd, version_id, person, department)
        h = link_hash(core.link_key, round_id, version_id, team_id, user_id)
        _upsert(
            s,
            Response,
            {
                "id": _new_id(),
                "workspace_id": rnd.workspace_id,
                "round_id": round_id,
                "version_id": version_id,
                "value": value,
                "department_id": dept_id,
                "grade": grade,
                "link_hash": h,
            },
            ["round_id", "version_id", "link_hash"],
            ["value"],
        )
        return Outcome("recorded", round_id, delivery, rnd)


def current_answers(
    core: Core, s: Session, team_id: str, user_id: str, round_id: int, version_ids: list[int]
) -> dict[int, int]:
    """This person's answers in an open round, found only through their link hashes."""
    hashes = {link_hash(core.link_key, round_id, v, team_id, user_id): v for v in version_ids}
    rows = s.execute(
        _CURRENT_ANSWERS,
        {"round_id": round_id, "versions": list(version_ids), "hashes": list(hashes)},
    )
    return {hashes[h]: v for h, v in rows}


# Every column of the (round, version, link) unique index is given, so this is a handful of
# index look-ups, not a walk over all of the round's answers.
_CURRENT_ANSWERS = select(Response.link_hash, Response.value).where(
    Response.round_id == bindparam("round_id"),
    Response.version_id.in_(bindparam("versions", expanding=True)),
    Response.link_hash.in_(bindparam("hashes", expanding=True)),
)


def _new_id() -> str:
    from storage.models import random_id

    return random_id()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def clean_comment(text: str | None) -> str:
    """Trim, drop control and invisible direction characters, normalise; keep line breaks."""
    text = unicodedata.normalize("NFC", text or "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def record_comment(
    core: Core, team_id: str, user_id: str, round_id: int, text: str, theme: str | None
) -> Outcome:
    """Store (or replace) this person's one comment for the round. Caller checks length first."""
    with core.db.Session() as s, s.begin():
        found = _find_with_department(s, team_id, user_id, round_id)
        refusal = _refusal(core, found, round_id)
        if refusal is not None:
            return refusal
        delivery, person, rnd, department = found
        dept_id, grade = _segment(core, s, rnd, delivery.version_ids[0], person, department)
        _upsert(
            s,
            Comment,
            {
                "id": _new_id(),
                "workspace_id": rnd.workspace_id,
                "round_id": round_id,
                "theme": theme,
                "text": text,
                "department_id": dept_id,
                "grade": grade,
                "link_hash": link_hash(core.link_key, round_id, "comment", team_id, user_id),
            },
            ["round_id", "link_hash"],
            ["text", "theme"],
        )
        return Outcome("recorded", round_id, delivery)
