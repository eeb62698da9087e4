"""Attack the stored tables: knowing who answered what, can any join of them reproduce it?

The test plays a round through the real app with known answers, then acts as someone holding a
full copy of the database (but not the app's configuration, where the link key lives).
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import DateTime, inspect, select, text

from bot.scheduler import Scheduler
from storage.models import (
    Comment,
    Delivery,
    Department,
    Participant,
    Response,
)
from tests.conftest import ADMIN
from tests.helpers import answer_buttons, dms_of_kind, doctors, pulse_message, wait_for

ROSTER = [("Emergency Medicine", 14), ("Medicine", 14), ("Tiny Unit", 3)]


def _roster_csv(ids: list[str]) -> str:
    lines, i = ["slack_id,department,grade"], 0
    for dept, n in ROSTER:
        for j in range(n):
            grade = "consultant" if j % 2 else "resident"
            lines.append(f"{ids[i]},{dept},{grade}")
            i += 1
    return "\n".join(lines)


def _play_round(core, fake, slack, worker):
    from bot.roster import import_roster

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
        msg = pulse_message(fake, uid)
        for buttons in answer_buttons(msg):
            btn = rng.choice(buttons)
            slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api())
            _, vid, value = (int(x) for x in btn["value"].split(":"))
            truth.append((uid, vid, value))
    for uid in order[:8]:
        rid = pulse_message(fake, uid).blocks[-2]["elements"][0]["value"]
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
    identities = set(ids) | {p.slack_user_id for p in people.values()}
    for row in [*responses, *comments]:
        blob = " ".join(str(getattr(row, c.name)) for c in row.__table__.columns)
        assert not any(uid in blob for uid in identities)
        assert row.link_hash is None

    # 2. The only people-side facts left: who was asked which items. Joining them to an
    #    answer's round, item and segment must always leave at least k candidates.
    asked: dict[int, list[Participant]] = {}
    for d in deliveries:
        assert d.answered is None  # who answered is erased at close
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
    from bot.answers import link_hash

    uid, vid, _ = truth[0]
    with core.db.Session() as s:
        round_id = s.scalar(select(Delivery.round_id).limit(1))
    assert link_hash(core.link_key, round_id, vid, fake.team_id, uid) in hashes
    assert link_hash(b"guessed-key", round_id, vid, fake.team_id, uid) not in hashes


# --------------------------------------------------------------------------- attacks 3, 5, 6, 7
#
# Each plays rounds through the real app (signed HTTP, fake Slack, the suite's database), then
# attacks what is stored or published. A new audience's first round publishes nothing finer
# than the whole (attack 7's rule), so the attacks on breakdowns run on a second round.

# Attack 5's roster: A - (residents - C) is A's one consultant.
CHAIN = [("A", "consultant", 1), ("A", "resident", 6), ("B", "consultant", 7),
         ("C", "resident", 9), ("D", "consultant", 6), ("D", "sas", 6), ("E", "sas", 7)]  # fmt: skip


def _audience(core, fake, slack, roster) -> dict[str, tuple[str, str]]:
    from bot.roster import import_roster

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
        for buttons in answer_buttons(msg):
            btn = rng.choice(buttons)
            slack.block_action(uid, btn["action_id"], btn["value"], message=msg.to_api())
            _, vid, value = (int(x) for x in btn["value"].split(":"))
            truth.append((uid, vid, value))
        if comments and uid in comments:
            rid = msg.blocks[-2]["elements"][0]["value"]
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
    from bot.answers import link_hash

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
    from bot.roster import import_roster

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
