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
from tests.helpers import answer_buttons, doctors, pulse_message, wait_for

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
