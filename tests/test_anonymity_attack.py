"""Attack the stored tables, the files on disk and the Slack history: knowing who answered what,
can any of them reproduce it?

The tests play a round through the real app with known answers, then act as someone holding a
full copy of the database (but not the app's configuration, where the link key lives), as a
reader of PostgreSQL's row versions or SQLite's write-ahead log, or as a holder of the bot token
reading every doctor's DMs through the Web API (issue 12, attacks 1, 2 and 4).
"""

from __future__ import annotations

import json
import random
import struct
from datetime import timedelta
from pathlib import Path

from sqlalchemy import DateTime, inspect, select, text

from bot.rounds.scheduler import Scheduler
from storage.models import (
    Comment,
    Delivery,
    Department,
    Participant,
    Response,
)
from tests.blockkit import find_element
from tests.conftest import ADMIN
from tests.helpers import (
    answer_buttons,
    dm_history,
    dms_of_kind,
    doctors,
    pulse_message,
    tap_notes,
    wait_for,
)

ROSTER = [("Emergency Medicine", 14), ("Medicine", 14), ("Tiny Unit", 3)]


def _tap_randomly(slack, uid: str, msg, rng: random.Random) -> list[tuple[str, int, int]]:
    """``uid`` taps a random answer to every question of ``msg``: (user, version, value) each."""
    truth = []
    for buttons in answer_buttons(msg):
        btn = rng.choice(buttons)
        slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api())
        _, vid, value = (int(x) for x in btn["value"].split(":"))
        truth.append((uid, vid, value))
    return truth


def _roster_csv(ids: list[str]) -> str:
    lines, i = ["slack_id,department,grade"], 0
    for dept, n in ROSTER:
        for j in range(n):
            grade = "consultant" if j % 2 else "resident"
            lines.append(f"{ids[i]},{dept},{grade}")
            i += 1
    return "\n".join(lines)


def _play_round(core, fake, slack, worker):
    from bot.people.roster import import_roster

    ids = doctors(fake, sum(n for _, n in ROSTER))
    reply = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="audience synced")
    report = import_roster(core, fake.team_id, _roster_csv(ids))
    assert report.imported and len(report.matched) == len(ids)
    reply = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="send now")
    while worker.run_once():
        pass
    rng = random.Random(99)
    truth: list[tuple[str, int, int]] = []  # (user, version, value) in tap order
    order = ids[:]
    rng.shuffle(order)
    for uid in order[:-4]:
        truth += _tap_randomly(slack, uid, pulse_message(fake, uid), rng)
    for uid in order[:8]:
        rid = find_element(pulse_message(fake, uid).blocks, "comment")["value"]
        slack.view_submission(
            uid,
            "pulse_comment",
            {"comment": {"text": f"note from {uid[-2:]}x"}},
            private_metadata=rid,
        )
    return ids, truth


def test_no_join_of_the_stored_tables_ties_an_answer_to_a_person(core, fake, slack, worker, clock):
    ids, truth = _play_round(core, fake, slack, worker)
    clock.advance(timedelta(days=6))
    Scheduler(core, sync_audience=False).tick()  # closes the round

    with core.db.Session() as s:
        responses = s.scalars(select(Response)).all()
        comments = s.scalars(select(Comment)).all()
        people = {p.id: p for p in s.scalars(select(Participant))}
        deliveries = s.scalars(select(Delivery)).all()
        tiny = s.scalar(select(Department.id).where(Department.name == "Tiny Unit"))
    assert len(responses) == len(truth)

    # 1. No column of the answer tables names a person, and no value holds an identity.
    for model in (Response, Comment):
        cols = {c.name: c for c in model.__table__.columns}
        assert not {
            "participant_id",
            "user_id",
            "slack_user_id",
            "created_at",
            "answered_at",
        } & set(cols)
        assert not [c for c in cols.values() if isinstance(c.type, DateTime)], (
            "no timestamps at all"
        )
    identities = set(ids) | {p.user_id for p in people.values()}
    for row in [*responses, *comments]:
        blob = " ".join(str(getattr(row, c.name)) for c in row.__table__.columns)
        assert not any(uid in blob for uid in identities)
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


def test_while_open_only_the_key_outside_the_database_links_answers(core, fake, slack, worker):
    ids, truth = _play_round(core, fake, slack, worker)
    key_hex = core.link_key.hex()
    with core.db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                assert key_hex not in " ".join(map(str, row))
    with core.db.Session() as s:
        hashes = set(s.scalars(select(Response.link_hash)))
    assert None not in hashes and len(hashes) == len(truth)
    from bot.rounds.answers import link_hash

    uid, vid, _ = truth[0]
    with core.db.Session() as s:
        round_id = s.scalar(select(Delivery.round_id).limit(1))
    assert link_hash(core.link_key, round_id, vid, fake.team_id, uid) in hashes
    assert link_hash(b"guessed-key", round_id, vid, fake.team_id, uid) not in hashes


# -- shared by the attacks below ------------------------------------------------------------


def _remind_close_and_tidy(core, clock, worker, after_close=None):
    """A day on (reminders to those who have not answered), then close, then the tidy-up."""
    sched = Scheduler(core, sync_audience=False)
    clock.advance(timedelta(hours=25))
    sched.tick()
    while worker.run_once():
        pass
    clock.advance(timedelta(days=5))
    sched.tick()  # closes the round
    if after_close is not None:
        after_close()
    clock.advance(timedelta(minutes=6))
    while worker.run_once():
        pass


def _who_answered(truth) -> set[str]:
    return {uid for uid, _, _ in truth}


def _tag(call) -> str:
    return str(((call.params.get("metadata") or {}).get("event_payload") or {}).get("tag", ""))


# -- attack 1: the Slack history -------------------------------------------------------------


def test_attack_1_dm_history_after_close_is_the_same_whether_or_not_one_answered(
    core, fake, slack, worker, clock
):
    ids, truth = _play_round(core, fake, slack, worker)
    answered = _who_answered(truth)
    silent = [u for u in ids if u not in answered]
    assert len(silent) == 4
    _remind_close_and_tidy(core, clock, worker)
    # Reminders went out (to the four who did not answer) and are gone again.
    reminders = [c for c in fake.calls_to("chat.postMessage") if _tag(c).startswith("reminder:")]
    assert {c.params["channel"] for c in reminders} == set(silent)

    def seen(uid):
        """What the bot token reads from a doctor's DM after close, minus the delivery tag."""
        out = []
        for m in dm_history(fake, uid):
            tag = ((m.get("metadata") or {}).get("event_payload") or {}).get("tag", "")
            out.append((m["text"], json.dumps(m.get("blocks"), sort_keys=True), tag.split(":")[0]))
        return out

    views = {uid: seen(uid) for uid in ids}
    baseline = views[silent[0]]
    assert len(baseline) == 1 and "closed" in baseline[0][0]
    assert all(v == baseline for v in views.values()), "a DM differs by whether they answered"
    # Not even the number of edits differs: taps never redrew a DM, only the close did.
    edits = {fake.message("D" + uid, dm_history(fake, uid)[0]["ts"]).edits for uid in ids}
    assert edits == {1}
    # Nothing said about an answer ever reached the history: the notes were ephemeral.
    labels = {"Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree", "Yes", "No"}
    kept = json.dumps([dm_history(fake, uid) for uid in ids])
    assert "recorded" not in kept.lower() and not any(f"*{x}*" in kept for x in labels)
    assert all(tap_notes(fake, uid) for uid in answered)


# -- attack 2: transaction metadata ----------------------------------------------------------

IDENTITY = ("deliveries", "participants")
ANSWERS = ("responses", "comments")


def test_attack_2_no_transaction_writes_both_a_person_and_an_answer(
    core, fake, slack, worker, clock
):
    """PostgreSQL: join deliveries and participants to responses and comments on ``xmin`` (the
    id of the transaction that wrote the row version). SQLite: replay the ``-wal`` file commit
    by commit. Either way, during an open round, after answers and comments."""
    _play_round(core, fake, slack, worker)
    if core.db.is_postgres:
        with core.db.engine.connect() as conn:
            for person in IDENTITY:
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
            assert not tables & set(IDENTITY), tables
    assert answer_commits >= 20, "the answers should be in the write-ahead log"


def test_attack_2_after_close_old_row_versions_and_log_are_gone(core, fake, slack, worker, clock):
    """After close no old version of a row (with an answer link, or a reminder state) is left
    where the database keeps them: SQLite's WAL is empty and deleted cells are zeroed;
    PostgreSQL's dead row versions are vacuumed away."""
    _play_round(core, fake, slack, worker)
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

    _remind_close_and_tidy(core, clock, worker, after_close=check)
    check()  # and again once the tidy-up has rewritten every delivery row


# -- attack 4: reminder state ----------------------------------------------------------------

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


def test_attack_4_every_other_delivery_column_is_uniform_after_close(
    core, fake, slack, worker, clock
):
    ids, truth = _play_round(core, fake, slack, worker)
    # One doctor who answered also asked to be reminded: a state only they would have had.
    uid = sorted(_who_answered(truth))[0]
    msg = pulse_message(fake, uid)
    not_now = find_element(msg.blocks, "not_now")
    slack.block_action(uid, "not_now", not_now["value"], message=msg.to_api())
    wait_for(lambda: fake.ephemerals, what="not-now note")
    cols = [c for c in Delivery.__table__.columns if c.name not in SENT_FACTS]
    people_versions = _person_row_versions(core)

    def uniform(skip=()):
        with core.db.engine.connect() as conn:
            rows = conn.execute(select(*[c for c in cols if c.name not in skip])).all()
        assert len(rows) == len(ids)
        assert len(set(rows)) == 1, sorted(set(rows), key=str)[:3]

    # At close, everything but the tidy-up's own work list (the reminders' message ids, which
    # it deletes from Slack within minutes) reads the same on every row.
    _remind_close_and_tidy(
        core, clock, worker, after_close=lambda: uniform(("reminder_message_id",))
    )
    uniform()
    with core.db.Session() as s:
        assert set(s.scalars(select(Delivery.reminder))) == {"none"}
    # Reminders and the tidy-up wrote no person's row: its version (xmin) is as before them.
    assert _person_row_versions(core) == people_versions


def _person_row_versions(core) -> dict:
    """PostgreSQL: the transaction that last wrote each participant row (SQLite keeps none
    outside its WAL, which the tests above read)."""
    if not core.db.is_postgres:
        return {}
    with core.db.engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT id, xmin::text FROM participants").all())


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


# --------------------------------------------------------------------------- attacks 3, 5, 6, 7
#
# Each plays rounds through the real app (signed HTTP, fake Slack, the suite's database), then
# attacks what is stored or published. A new audience's first round publishes nothing finer
# than the whole (attack 7's rule), so the attacks on breakdowns run on a second round.

# Attack 5's roster: A - (residents - C) is A's one consultant.
CHAIN = [("A", "consultant", 1), ("A", "resident", 6), ("B", "consultant", 7),
         ("C", "resident", 9), ("D", "consultant", 6), ("D", "sas", 6), ("E", "sas", 7)]  # fmt: skip


def _audience(core, fake, slack, roster) -> dict[str, tuple[str, str]]:
    from bot.people.roster import import_roster

    ids = doctors(fake, sum(n for *_, n in roster))
    cells, i = {}, 0
    for dept, grade, n in roster:
        for _ in range(n):
            cells[ids[i]] = (dept, grade)
            i += 1
    reply = slack.slash("audience <#C0DOCTORS|doctors>", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="audience synced")
    csv_text = "slack_id,department,grade\n" + "\n".join(
        f"{u},{d},{g}" for u, (d, g) in cells.items()
    )
    assert import_roster(core, fake.team_id, csv_text).imported
    return cells


def _send(fake, slack, worker) -> None:
    reply = slack.slash("send now", ADMIN)
    wait_for(lambda: fake.response_posts(reply.response_key), what="send now")
    while worker.run_once():
        pass


def _latest(fake, uid):
    call = dms_of_kind(fake, uid, "pulse")[-1]
    return fake.message(call.response["channel"], call.response["ts"])


def _answer_all(fake, slack, people, seed=7, comments=None) -> list[tuple[str, int, int]]:
    """Everyone taps a random answer to every question; ``comments`` maps user -> theme."""
    rng, truth = random.Random(seed), []
    for uid in people:
        msg = _latest(fake, uid)
        truth += _tap_randomly(slack, uid, msg, rng)
        if comments and uid in comments:
            rid = find_element(msg.blocks, "comment")["value"]
            theme = {"type": "static_select", "selected_option": {"value": comments[uid]}}
            slack.view_submission(
                uid,
                "pulse_comment",
                {"comment": {"text": f"note {uid}"}, "theme": {"theme": theme}},
                private_metadata=rid,
            )
    return truth


def _close(core, clock) -> None:
    clock.advance(timedelta(days=6))
    Scheduler(core, sync_audience=False).tick()
    clock.advance(timedelta(days=8))


def _two_rounds(core, fake, slack, worker, clock, roster, comments=None):
    cells = _audience(core, fake, slack, roster)
    _send(fake, slack, worker)
    _close(core, clock)  # the new audience's first round: nobody answers
    _send(fake, slack, worker)
    truth = _answer_all(fake, slack, list(cells), comments=comments)
    return cells, truth


def test_attack_3_no_stored_segment_narrows_to_a_small_cell(core, fake, slack, worker, clock):
    cells, truth = _two_rounds(core, fake, slack, worker, clock, CHAIN)
    from bot.rounds.answers import link_hash

    # While open: the segment on each row is the same for everyone in the same true cell.
    with core.db.Session() as s:
        rid = s.scalar(select(Delivery.round_id).order_by(Delivery.round_id.desc()).limit(1))
        stored = {
            r.link_hash: (r.department_id, r.grade)
            for r in s.scalars(select(Response).where(Response.round_id == rid))
        }
        dept_ids = dict(s.execute(select(Department.name, Department.id)).all())
    per_cell: dict[tuple, set] = {}
    per_segment: dict[tuple, int] = {}
    for uid, vid, _ in truth:
        seg = stored[link_hash(core.link_key, rid, vid, fake.team_id, uid)]
        per_cell.setdefault((vid, cells[uid]), set()).add(seg)
        per_segment[(vid, *seg)] = per_segment.get((vid, *seg), 0) + 1
    assert all(len(segs) == 1 for segs in per_cell.values()), per_cell
    # Everyone asked answered, so each stored segment of a question stands for >= k people
    # (the old per-person fallback stored A's lone consultant as "A, no grade": a group of 1).
    assert all(n >= core.k for n in per_segment.values()), per_segment
    _close(core, clock)

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


def _export_rows(fake, slack) -> list[dict]:
    import csv
    import io

    before = {f.id for f in fake.uploaded_files.values()}
    slack.slash("export", ADMIN)
    (upload,) = wait_for(
        lambda: [
            f for f in fake.uploaded_files.values() if f.completed and f.data and f.id not in before
        ],
        timeout=30,
        what="export",
    )
    return list(csv.DictReader(io.StringIO(upload.data.decode())))


GRADES = {"Consultants": "consultant", "Resident doctors": "resident", "SAS doctors": "sas"}


def _groups_of(rows: list[dict], level: str, true_cells: dict) -> list[set]:
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


def test_attack_5_no_subtraction_of_exported_rows_isolates_anyone(core, fake, slack, worker, clock):
    from tests.disclosure_attack import isolated_sets

    cells, truth = _two_rounds(core, fake, slack, worker, clock, CHAIN)
    _close(core, clock)
    rows = _export_rows(fake, slack)
    latest = max(r["period"] for r in rows)
    rows = [r for r in rows if r["period"] == latest]
    # Respondents: everyone answered, so the true cells are the roster's.
    people = {}
    for dept, grade in cells.values():
        people[(dept, grade)] = people.get((dept, grade), 0) + 1
    rates = [r for r in rows if r["level"].startswith("response rate")]
    assert isolated_sets(people, _groups_of(rates, "response rate", people), core.k) == []
    # Each item: the true cells of those who answered it.
    keys = {v: _item_key(core, v) for v in {v for _, v, _ in truth}}
    items = {r["item"] for r in rows if r["level"] == "item"}
    assert items == set(keys.values())
    for vid, item in keys.items():
        vid_rows = [r for r in rows if r["item"] == item]
        answered: dict[tuple, int] = {}
        for u, v, _ in truth:
            if v == vid:
                answered[cells[u]] = answered.get(cells[u], 0) + 1
        groups = _groups_of(vid_rows, "item by", answered)
        assert isolated_sets(answered, groups, core.k) == [], item
    head = [r for r in rows if r["level"] == "item by department" and r["n"].isdigit()]
    assert head  # the headline item is still shown by department


def _item_key(core, version_id: int) -> str:
    from storage.models import QuestionItem, QuestionVersion

    with core.db.Session() as s:
        return s.scalar(
            select(QuestionItem.key)
            .join(QuestionVersion, QuestionVersion.item_id == QuestionItem.id)
            .where(QuestionVersion.id == version_id)
        )


def test_attack_6_comment_lists_do_not_join_to_a_small_group(core, fake, slack, worker, clock):
    roster = [("Medicine", "consultant", 12), ("Surgery", "consultant", 12)]
    cells = _audience(core, fake, slack, roster)
    ids = list(cells)
    themes = ["stable-leadership"] * 4 + ["quality-strategy"] * 2  # Medicine's six comments
    themes += ["stable-leadership"] * 5 + ["other"]  # Surgery's six
    comments = dict(zip(ids[:6] + ids[12:18], themes, strict=True))
    _send(fake, slack, worker)
    _close(core, clock)
    _send(fake, slack, worker)
    _answer_all(fake, slack, ids, comments=comments)
    _close(core, clock)

    lists = {
        "all": slack.slash("comments", ADMIN).json()["text"],
        "stable": slack.slash("comments stable-leadership", ADMIN).json()["text"],
        "quality": slack.slash("comments quality-strategy", ADMIN).json()["text"],
        "Medicine": slack.slash("comments department:Medicine", ADMIN).json()["text"],
        "Surgery": slack.slash("comments department:Surgery", ADMIN).json()["text"],
    }
    assert lists["all"].count("• ") == 12
    assert lists["Medicine"].count("• ") == 6 and lists["Surgery"].count("• ") == 6
    seen: dict[str, dict[str, str]] = {}
    for name, body in lists.items():
        for line in body.splitlines():
            if line.startswith("• _"):
                label, note = line[3:].split("_: ", 1)
                seen.setdefault(note, {})[name] = label
    assert len(seen) == 12
    evidence: dict[tuple, int] = {}
    for where in seen.values():
        assert len(set(where.values())) == 1, where  # the same label in every list
        key = (frozenset(w for w in where if w in ("Medicine", "Surgery")), *set(where.values()))
        evidence[key] = evidence.get(key, 0) + 1
    assert all(n >= core.k for n in evidence.values()), evidence


def test_attack_7_sock_puppets_get_no_breakdown_and_the_target_sees_the_change(
    core, fake, slack, worker, clock
):
    roster = [("Medicine", "consultant", 20), ("Cardiology", "consultant", 1)]
    cells = _audience(core, fake, slack, roster)
    ids = list(cells)
    target, puppets = ids[20], ids[:4]
    _send(fake, slack, worker)
    _close(core, clock)
    _send(fake, slack, worker)
    _answer_all(fake, slack, ids)
    _close(core, clock)

    def home(uid: str) -> str:
        fake._home_views.pop(uid, None)
        slack.app_home_opened(uid)
        return str(wait_for(lambda: fake.home_views.get(uid), what="home")["blocks"])

    assert "Your pulse group:* 21 doctors. It last changed on" in home(target)
    # The admin moves four accounts they control into the target's department...
    from bot.people.roster import import_roster

    moved = "slack_id,department,grade\n" + "\n".join(f"{u},Cardiology,consultant" for u in puppets)
    assert import_roster(core, fake.team_id, moved).imported
    # ...which the target can see before the next pulse,
    assert "It has changed since the last pulse" in home(target)
    _send(fake, slack, worker)
    _answer_all(fake, slack, ids, seed=8)
    assert _latest_segments(core) == {(None, None)}  # not even stored while open
    _close(core, clock)
    # and the round that follows publishes nothing finer than the whole audience.
    rows = _export_rows(fake, slack)
    latest = max(r["period"] for r in rows)
    finer = [r for r in rows if r["period"] == latest and " by " in r["level"]]
    assert all(not r["n"].isdigit() for r in finer), finer
    assert not [r for r in rows if r["period"] == latest and r["department"] == "Cardiology"
                and r["level"].startswith("item")]  # fmt: skip
    summary_text = slack.slash("comments department:Cardiology", ADMIN).json()["text"]
    assert "not shown this period" in summary_text
    assert _latest_segments(core) == {(None, None)}  # nor stored after close


def _latest_segments(core) -> set[tuple]:
    with core.db.Session() as s:
        rid = s.scalar(select(Delivery.round_id).order_by(Delivery.round_id.desc()).limit(1))
        return {
            tuple(row)
            for row in s.execute(
                select(Response.department_id, Response.grade).where(Response.round_id == rid)
            )
        }


def test_attack_7b_people_moved_while_a_round_is_open_count_as_an_audience_change(
    core, fake, slack, worker, clock
):
    """The admin waits for an unchanged round to open, then swaps the target's colleagues for
    puppets (a roster import) before anyone answers: close sees the move, so the round
    publishes nothing finer than the whole audience and the target's answer stays pooled."""
    from bot.people.roster import import_roster

    cells = _audience(core, fake, slack, [("Medicine", "consultant", 20), ("Cardio", "sas", 5)])
    ids = list(cells)
    colleagues, puppets = ids[21:25], ids[:4]  # Cardio keeps ids[20], the target
    _send(fake, slack, worker)
    _close(core, clock)  # a new audience's first round
    _send(fake, slack, worker)
    _answer_all(fake, slack, ids)
    _close(core, clock)  # an ordinary, unchanged round: breakdowns are published
    _send(fake, slack, worker)  # this round's audience equals the last one's
    moved = "slack_id,department,grade\n" + "\n".join(
        [f"{u},Medicine,consultant" for u in colleagues] + [f"{u},Cardio,sas" for u in puppets]
    )
    assert import_roster(core, fake.team_id, moved).imported
    _answer_all(fake, slack, ids, seed=11)
    _close(core, clock)
    rows = _export_rows(fake, slack)
    periods = sorted({r["period"] for r in rows})
    assert len(periods) == 3

    def cardio_figures(period):
        return [
            r
            for r in rows
            if r["period"] == period and r["department"] == "Cardio" and r.get("score")
        ]

    assert cardio_figures(periods[1]), "the unchanged round should publish Cardio's figures"
    assert cardio_figures(periods[2]) == [], "a round with people moved mid-way published them"
    assert _latest_segments(core) <= {(None, None)}
