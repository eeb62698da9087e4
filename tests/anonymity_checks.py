"""The attacker's side of the anonymity attacks, shared by the Slack and the Teams suites.

Each check is handed what an attacker (or the test, which knows the truth) holds once a round has
been played: the database, who answered what (``truth``: (user, version, value) each), and what
was published. None of that depends on the chat platform, so each check lives here once and
tests/test_anonymity_attack.py (Slack) and tests/test_teams_attacks.py (Teams) only drive their
own platform to produce the data. Where a check has to move time on (close a round, run the
tidy-up), the platform's own driver is passed in as a callable.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import DateTime, func, inspect, select, text

from bot.rounds.answers import link_hash
from storage.models import Comment, Delivery, Department, Participant, Response

# The attacks' round: three departments, one of them under k.
ROSTER = [("Emergency Medicine", 14), ("Medicine", 14), ("Tiny Unit", 3)]
# The tables that name a person, and the tables that hold answers (attack 2).
IDENTITY = ("deliveries", "participants")
ANSWERS = ("responses", "comments")
# What a delivery row may still say after close: who was asked what, and what was sent to them.
SENT_FACTS = {
    "id",
    "workspace_id",
    "round_id",
    "participant_id",
    "item_keys",
    "version_ids",
    "status",
    "not_before",
    "conversation_id",
    "message_id",
    "sent_at",
    "error",
}
# Attack 5's roster: A - (residents - C) is A's one consultant.
CHAIN = [("A", "consultant", 1), ("A", "resident", 6), ("B", "consultant", 7),
         ("C", "resident", 9), ("D", "consultant", 6), ("D", "sas", 6), ("E", "sas", 7)]  # fmt: skip
GRADES = {"Consultants": "consultant", "Resident doctors": "resident", "SAS doctors": "sas"}

# A driver that moves a round on to its close and tidy-up, calling ``after_close`` in between.
RemindCloseAndTidy = Callable[[Callable[[], None] | None], None]


# -- the stored tables -------------------------------------------------------------------------


def check_no_stored_row_ties_an_answer(core, ids, truth, extra_identities=()) -> None:
    """After close, with the full database: no answer column names a person or a time, no
    answer value holds an identity (``ids``, every participant's user ID, and the platform's
    own ``extra_identities``), joining who was asked what to an answer's segment leaves at least
    k candidates, and storage order says nothing about tap order."""
    with core.db.Session() as s:
        responses = s.scalars(select(Response)).all()
        comments = s.scalars(select(Comment)).all()
        people = {p.id: p for p in s.scalars(select(Participant))}
        deliveries = s.scalars(select(Delivery)).all()
        tiny = s.scalar(select(Department.id).where(Department.name == "Tiny Unit"))
    assert len(responses) == len(truth)

    # 1. No column of the answer tables names a person, and no value holds an identity.
    forbidden = {"participant_id", "user_id", "slack_user_id", "created_at", "answered_at"}
    for model in (Response, Comment):
        cols = {c.name: c for c in model.__table__.columns}
        assert not forbidden & set(cols)
        assert not [c for c in cols.values() if isinstance(c.type, DateTime)], (
            "no timestamps at all"
        )
    identities = set(ids) | {p.user_id for p in people.values()} | set(extra_identities)
    for row in [*responses, *comments]:
        blob = " ".join(str(getattr(row, c.name)) for c in row.__table__.columns)
        assert not any(uid in blob for uid in identities), blob
        assert row.link_hash is None

    # 2. The only people-side facts left: who was asked which items. Joining them to an
    #    answer's round, item and segment must always leave at least k candidates.
    asked: dict[int, list[Participant]] = {}
    assert "answered" not in Delivery.__table__.columns  # never stored, only derived
    for d in deliveries:
        for vid in d.version_ids:
            asked.setdefault(vid, []).append(people[d.participant_id])
    for r in responses:
        candidates = [
            p
            for p in asked[r.version_id]
            if (r.department_id is None or p.department_id == r.department_id)
            and (r.grade is None or p.grade == r.grade)
        ]
        assert len(candidates) >= core.k, (r.version_id, r.department_id, r.grade, len(candidates))
        assert r.department_id != tiny  # a 3-person department is never recorded
    for c in comments:
        assert c.department_id != tiny

    # 3. Storage order says nothing about answer order: neither the physical order nor the ids.
    tap_values = [v for _, _, v in truth]
    with core.db.engine.connect() as conn:
        physical_order = "rowid" if core.db.engine.dialect.name == "sqlite" else "ctid"
        stored = [
            row[0]
            for row in conn.execute(text(f"SELECT value FROM responses ORDER BY {physical_order}"))
        ]
        by_id = [row[0] for row in conn.execute(text("SELECT value FROM responses ORDER BY id"))]
    assert stored != tap_values and by_id != tap_values
    assert sorted(stored) == sorted(tap_values)


def check_only_the_key_links(core, truth, workspace: str) -> tuple[set[str], int]:
    """While open: the link key is in no row of any table, every answer has its own link, and
    only the key (not a guessed one) turns (round, item, workspace, user) into a stored link.
    Returns the links and the round, for a platform's own further checks."""
    key_hex = core.link_key.hex()
    with core.db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                assert key_hex not in " ".join(map(str, row)), table
    with core.db.Session() as s:
        hashes = set(s.scalars(select(Response.link_hash)))
        round_id = s.scalar(select(Delivery.round_id).limit(1))
    assert None not in hashes and len(hashes) == len(truth)
    uid, vid, _ = truth[0]
    assert link_hash(core.link_key, round_id, vid, workspace, uid) in hashes
    assert link_hash(b"guessed-key", round_id, vid, workspace, uid) not in hashes
    return hashes, round_id


# -- attack 2: transaction metadata ------------------------------------------------------------


def check_no_transaction_writes_both(core, identity: Iterable[str] = IDENTITY) -> None:
    """PostgreSQL: join each ``identity`` table to responses and comments on ``xmin`` (the id of
    the transaction that wrote the row version). SQLite: replay the ``-wal`` file commit by
    commit. Either way no transaction wrote both a person's row and an answer."""
    identity = tuple(identity)
    if core.db.is_postgres:
        with core.db.engine.connect() as conn:
            for person in identity:
                for answer in ANSWERS:
                    joined = conn.exec_driver_sql(
                        f"SELECT count(*) FROM {person} p JOIN {answer} a "
                        "ON p.xmin::text = a.xmin::text"
                    ).scalar()
                    assert joined == 0, (person, answer)
        return
    commits = _wal_commits(core)
    owner = _page_owners(core)
    answer_commits = 0
    for pages in commits:
        tables = {owner.get(p) for p in pages}
        if tables & set(ANSWERS):
            answer_commits += 1
            assert not tables & set(identity), tables
    assert answer_commits >= 20, "the answers should be in the write-ahead log"


def check_old_row_versions_go_at_close(core, remind_close_and_tidy: RemindCloseAndTidy) -> None:
    """After close no old version of a row (with an answer link, or a reminder state) is left
    where the database keeps them: SQLite's WAL is empty and deleted cells are zeroed;
    PostgreSQL's dead row versions are vacuumed away. Checked at close and after the tidy-up."""
    with core.db.Session() as s:
        links = set(s.scalars(select(Response.link_hash))) | set(
            s.scalars(select(Comment.link_hash))
        )
    assert len(links) > 20 and None not in links

    def check():
        if core.db.is_postgres:
            for table in (*ANSWERS, *IDENTITY):
                data = _pg_tuples(core, table)
                assert not any(h.encode() in data for h in links), table
                assert _pg_dead_tuples(core, table) == 0, table
        else:
            assert _wal_size(core) == 0
            raw = Path(_sqlite_path(core)).read_bytes()
            assert not any(h.encode() in raw for h in links)

    remind_close_and_tidy(check)
    check()  # and again once the tidy-up has rewritten every delivery row


# -- attack 4: reminder state ------------------------------------------------------------------


def check_delivery_rows_uniform_after_close(
    core, rows: int, remind_close_and_tidy: RemindCloseAndTidy
) -> None:
    """Someone has asked to be reminded (a state only they had): after close every delivery
    column but what was sent (``SENT_FACTS``) reads the same on all ``rows`` rows, and the
    reminders and tidy-up wrote no person's row."""
    cols = [c for c in Delivery.__table__.columns if c.name not in SENT_FACTS]
    people_versions = _person_row_versions(core)

    def uniform(skip=()):
        with core.db.engine.connect() as conn:
            found = conn.execute(select(*[c for c in cols if c.name not in skip])).all()
        assert len(found) == rows
        assert len(set(found)) == 1, sorted(set(found), key=str)[:3]

    # At close, everything but the tidy-up's own work list (the reminders' message ids, which
    # it deletes from the chat within minutes) reads the same on every row.
    remind_close_and_tidy(lambda: uniform(("reminder_message_id",)))
    uniform()
    with core.db.Session() as s:
        assert set(s.scalars(select(Delivery.reminder))) == {"none"}
    # Reminders and the tidy-up wrote no person's row: its version (xmin) is as before them.
    assert _person_row_versions(core) == people_versions


def _person_row_versions(core) -> dict:
    """PostgreSQL: the transaction that last wrote each participant row (SQLite keeps none
    outside its WAL, which attack 2 reads)."""
    if not core.db.is_postgres:
        return {}
    with core.db.engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT id, xmin::text FROM participants").all())


# -- attack 3: stored segments -----------------------------------------------------------------


def check_no_stored_segment_narrows(core, cells, truth, workspace: str, close) -> None:
    """Everyone in ``cells`` (user -> (department, grade)) answered an open round (``truth``).
    While open, each answer's stored segment is the same for everyone in the same true cell and
    stands for >= k people; after ``close()`` every stored group holds 0 or >= k answers, so
    CHAIN's lone consultant is among >= k people for every answer they gave."""
    with core.db.Session() as s:
        rid = s.scalar(select(func.max(Delivery.round_id)))
        stored = {
            r.link_hash: (r.department_id, r.grade)
            for r in s.scalars(select(Response).where(Response.round_id == rid))
        }
        dept_ids = dict(s.execute(select(Department.name, Department.id)).all())
    per_cell: dict[tuple, set] = {}
    per_segment: dict[tuple, int] = {}
    for uid, vid, _ in truth:
        seg = stored[link_hash(core.link_key, rid, vid, workspace, uid)]
        per_cell.setdefault((vid, cells[uid]), set()).add(seg)
        per_segment[(vid, *seg)] = per_segment.get((vid, *seg), 0) + 1
    assert all(len(segs) == 1 for segs in per_cell.values()), per_cell
    # Everyone asked answered, so each stored segment of a question stands for >= k people
    # (the old per-person fallback stored A's lone consultant as "A, no grade": a group of 1).
    assert all(n >= core.k for n in per_segment.values()), per_segment
    close()

    # After close: every stored (item, department), (item, grade) and (item, department,
    # grade) group, "not recorded" included, holds 0 or >= k answers...
    with core.db.Session() as s:
        rows = [(r.version_id, r.department_id, r.grade) for r in s.scalars(select(Response))]
    for pick in ((0, 1), (0, 2), (0, 1, 2)):
        groups: dict[tuple, int] = {}
        for row in rows:
            key = tuple(row[i] for i in pick)
            groups[key] = groups.get(key, 0) + 1
        assert all(n >= core.k for n in groups.values()), (pick, groups)
    # ...so A's one consultant is among >= k people for every answer they gave.
    lone = next(u for u, c in cells.items() if c == ("A", "consultant"))
    for vid, d, g in rows:
        candidates = [
            u
            for u, (dept, grade) in cells.items()
            if any(t[0] == u and t[1] == vid for t in truth)
            and (d is None or dept_ids[dept] == d)
            and (g is None or grade == g)
        ]
        if lone in candidates:
            assert len(candidates) >= core.k


# -- attack 5: subtraction of exported rows ----------------------------------------------------


def check_export_isolates_nobody(core, cells, truth, rows: list[dict]) -> None:
    """The export's latest period (``rows``: the CSV's rows): no subtraction of its response
    rates or of any item's figures works out a set of fewer than k true respondents."""
    from tests.disclosure_attack import isolated_sets

    latest = max(r["period"] for r in rows)
    rows = [r for r in rows if r["period"] == latest]
    # Respondents: everyone answered, so the true cells are the roster's.
    people: dict[tuple, int] = {}
    for cell in cells.values():
        people[cell] = people.get(cell, 0) + 1
    rates = [r for r in rows if r["level"].startswith("response rate")]
    assert isolated_sets(people, groups_of(rates, "response rate", people), core.k) == []
    # Each item: the true cells of those who answered it.
    keys = {v: item_key(core, v) for v in {v for _, v, _ in truth}}
    assert {r["item"] for r in rows if r["level"] == "item"} == set(keys.values())
    for vid, item in keys.items():
        answered: dict[tuple, int] = {}
        for u, v, _ in truth:
            if v == vid:
                answered[cells[u]] = answered.get(cells[u], 0) + 1
        groups = groups_of([r for r in rows if r["item"] == item], "item by", answered)
        assert isolated_sets(answered, groups, core.k) == [], item
    head = [r for r in rows if r["level"] == "item by department" and r["n"].isdigit()]
    assert head  # the headline item is still shown by department


def groups_of(rows: list[dict], level: str, true_cells: dict) -> list[set]:
    """The true (department, grade) cells behind each printed figure of one breakdown level."""
    printed = [r for r in rows if r["level"].startswith(level)]
    named = {r["department"] for r in printed if r["department"]} - {"No department recorded"}
    graded = {GRADES.get(r["grade"]) for r in printed if r["grade"]} - {None}
    groups = [set(true_cells)]
    for r in printed:
        if not r["n"].isdigit():
            continue
        if r["level"].endswith("department"):
            d = r["department"]
            groups.append(
                {c for c in true_cells if (c[0] == d if d in named else c[0] not in named)}
            )
        elif r["level"].endswith("grade"):
            g = GRADES.get(r["grade"])
            groups.append(
                {c for c in true_cells if (c[1] == g if g is not None else c[1] not in graded)}
            )
        else:  # department and grade
            groups.append({(r["department"], GRADES.get(r["grade"]))})
    return groups


def item_key(core, version_id: int) -> str:
    from storage.models import QuestionItem, QuestionVersion

    with core.db.Session() as s:
        return s.scalar(
            select(QuestionItem.key)
            .join(QuestionVersion, QuestionVersion.item_id == QuestionItem.id)
            .where(QuestionVersion.id == version_id)
        )


# -- attack 6: comment lists -------------------------------------------------------------------


def check_comment_lists_join_no_small_group(
    lists: dict[str, str], parse: Callable[[str], tuple[str, str] | None], k: int
) -> None:
    """Twelve comments, six from Medicine and six from Surgery, listed as ``lists`` (name ->
    the list's text; "all", "Medicine" and "Surgery" among them). ``parse`` reads one line as
    (label, comment) in the platform's markup, or None. A comment carries the same label in
    every list it is in, so no join of lists and labels narrows a comment to under k."""
    assert lists["all"].count("• ") == 12
    assert lists["Medicine"].count("• ") == 6 and lists["Surgery"].count("• ") == 6
    seen: dict[str, dict[str, str]] = {}
    for name, body in lists.items():
        for line in body.splitlines():
            if (found := parse(line)) is not None:
                label, note = found
                seen.setdefault(note, {})[name] = label
    assert len(seen) == 12
    evidence: dict[tuple, int] = {}
    for where in seen.values():
        assert len(set(where.values())) == 1, where  # the same label in every list
        key = (frozenset(w for w in where if w in ("Medicine", "Surgery")), *set(where.values()))
        evidence[key] = evidence.get(key, 0) + 1
    assert all(n >= k for n in evidence.values()), evidence


# -- attacks 7 and 7b: moved people ------------------------------------------------------------


def check_nothing_finer_after_a_move(core, rows: list[dict], department: str, comments: str):
    """Attack 7, after close of the round that followed the move into ``department``: the
    export (``rows``) has no breakdown figure and no item row for ``department``, its comments
    list (``comments``) says not shown, and no answer stored a segment."""
    latest = max(r["period"] for r in rows)
    finer = [r for r in rows if r["period"] == latest and " by " in r["level"]]
    assert all(not r["n"].isdigit() for r in finer), finer
    assert not [r for r in rows if r["period"] == latest and r["department"] == department
                and r["level"].startswith("item")]  # fmt: skip
    assert "not shown this period" in comments
    assert latest_segments(core) == {(None, None)}  # nor stored after close


def check_a_mid_round_move_publishes_no_breakdown(core, rows: list[dict], department: str):
    """Attack 7b: of three rounds (new audience, unchanged, people moved mid-way), the
    unchanged one publishes ``department``'s figures and the one with the move does not."""
    periods = sorted({r["period"] for r in rows})
    assert len(periods) == 3

    def figures(period):
        return [
            r
            for r in rows
            if r["period"] == period and r["department"] == department and r.get("score")
        ]

    assert figures(periods[1]), f"the unchanged round should publish {department}'s figures"
    assert figures(periods[2]) == [], "a round with people moved mid-way published them"
    assert latest_segments(core) <= {(None, None)}


def latest_segments(core) -> set[tuple]:
    """The (department, grade) segments stored on the newest round's answers."""
    with core.db.Session() as s:
        rid = s.scalar(select(Delivery.round_id).order_by(Delivery.round_id.desc()).limit(1))
        return {
            tuple(row)
            for row in s.execute(
                select(Response.department_id, Response.grade).where(Response.round_id == rid)
            )
        }


# -- reading the files and pages as an attacker would ------------------------------------------


def _sqlite_path(core) -> str:
    return core.db.url.removeprefix("sqlite:///")


def _wal_size(core) -> int:
    wal = Path(_sqlite_path(core) + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _wal_commits(core) -> list[set[int]]:
    """The pages each commit in the ``-wal`` file wrote (every frame, stale ones too)."""
    data = Path(_sqlite_path(core) + "-wal").read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    commits, pages, at = [], set(), 32
    while at + 24 + page_size <= len(data):
        page, size_after = struct.unpack(">II", data[at : at + 8])
        pages.add(page)
        if size_after:  # a commit frame closes the transaction
            commits.append(pages)
            pages = set()
        at += 24 + page_size
    return commits


def _page_owners(core) -> dict[int, str]:
    """Page number -> the table it belongs to (an index counts as its table)."""
    with core.db.engine.connect() as conn:
        table_of = dict(conn.exec_driver_sql("SELECT name, tbl_name FROM sqlite_master").all())
        return {
            page: table_of.get(name, name)
            for name, page in conn.exec_driver_sql("SELECT name, pageno FROM dbstat").all()
        }


def _blocks(conn, table: str) -> int:
    return conn.exec_driver_sql(
        f"SELECT pg_relation_size('{table}') / current_setting('block_size')::int"
    ).scalar()


def _pg_tuples(core, table: str) -> bytes:
    """Every row version PostgreSQL still holds for ``table``, live or dead (pageinspect)."""
    with core.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pageinspect")
        out = b""
        for b in range(_blocks(conn, table)):
            for (data,) in conn.exec_driver_sql(
                f"SELECT t_data FROM heap_page_items(get_raw_page('{table}', {b}))"
            ):
                out += bytes(data or b"")
        return out


def _pg_dead_tuples(core, table: str) -> int:
    """Row versions on the table's pages beyond its live rows: ones a newer version or a
    delete replaced, still readable with pageinspect until VACUUM removes them."""
    with core.db.engine.connect() as conn:
        held = sum(
            conn.exec_driver_sql(
                f"SELECT count(*) FROM heap_page_items(get_raw_page('{table}', {b})) "
                "WHERE lp_flags = 1"
            ).scalar()
            for b in range(_blocks(conn, table))
        )
        return held - conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar()
