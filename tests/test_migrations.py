"""Migrations: an empty database reaches head; the migrations build exactly what the models
describe; a second upgrade changes nothing; SQLite and PostgreSQL end up with the same schema.

Runs on the suite's backend (SQLite by default, PostgreSQL when MEDPULSE_TEST_DB names a server).
The cross-backend comparison needs a PostgreSQL server, so it is only defined on PostgreSQL runs;
SQLite runs compare the migrated schema against the models instead (no test is ever skipped).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.command import downgrade
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, delete, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.migrate import alembic_config, current_heads, upgrade
from storage.models import Participant, Role, Workspace
from storage.scratch import scratch_database
from tests.schema import migrated_metadata

PG_SERVER = (
    None
    if os.environ.get("MEDPULSE_TEST_DB", "sqlite") == "sqlite"
    else (os.environ["MEDPULSE_TEST_DB"])
)


def _fresh(server: str | None = PG_SERVER) -> tuple[str, Callable[[], None]]:
    """An empty database of the suite's kind (or SQLite when server is None)."""
    return scratch_database(server, "medpulse_mig")


def _schema(url: str) -> dict[str, dict[str, object]]:
    """What a reader of the database can see, per table, in a backend-neutral shape.

    PostgreSQL also lists the index behind each unique constraint; those are dropped so the
    two backends can be compared (the constraints themselves are compared separately).
    """
    engine = create_engine(url)
    try:
        insp = inspect(engine)
        out: dict[str, dict[str, object]] = {}
        for table in insp.get_table_names():
            if table == "alembic_version":
                continue
            out[table] = {
                "columns": {c["name"]: c["nullable"] for c in insp.get_columns(table)},
                "primary_key": tuple(insp.get_pk_constraint(table)["constrained_columns"]),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in insp.get_unique_constraints(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in insp.get_indexes(table)
                    if "duplicates_constraint" not in i
                ),
                "foreign_keys": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"])
                    for f in insp.get_foreign_keys(table)
                ),
            }
        return out
    finally:
        engine.dispose()


def _diff(a: dict, b: dict) -> list[str]:
    """Readable differences, so a failure says which table and which aspect."""
    problems = [f"only in first: {t}" for t in sorted(set(a) - set(b))]
    problems += [f"only in second: {t}" for t in sorted(set(b) - set(a))]
    for table in sorted(set(a) & set(b)):
        for aspect in a[table]:
            if a[table][aspect] != b[table][aspect]:
                problems.append(f"{table}.{aspect}: {a[table][aspect]} != {b[table][aspect]}")
    return problems


def test_an_empty_database_reaches_head_with_no_drift_from_the_models():
    url, drop = _fresh()
    try:
        assert current_heads(url) == set()
        upgrade(url)
        script_heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
        assert current_heads(url) == script_heads and len(script_heads) == 1
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                ctx = MigrationContext.configure(conn, opts={"compare_type": True})
                assert compare_metadata(ctx, migrated_metadata()) == []
        finally:
            engine.dispose()
    finally:
        drop()


def test_the_migrated_schema_is_what_the_models_create():
    migrated, drop_migrated = _fresh()
    created, drop_created = _fresh()
    try:
        upgrade(migrated)
        metadata = migrated_metadata()
        engine = create_engine(created)
        metadata.create_all(engine)
        engine.dispose()
        schema = _schema(migrated)
        assert set(metadata.tables) == set(schema)
        assert _diff(schema, _schema(created)) == []
    finally:
        drop_migrated()
        drop_created()


def test_a_second_upgrade_is_a_no_op_and_keeps_the_data():
    url, drop = _fresh()
    try:
        upgrade(url)
        before = (_schema(url), current_heads(url))
        db = Database.connect(url)
        try:
            with db.Session.begin() as s:
                s.add(Workspace(team_id="T0KEEP", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
            upgrade(url)
            with db.Session() as s:
                assert s.scalar(select(func.count(Workspace.id))) == 1
        finally:
            db.dispose()
        assert (_schema(url), current_heads(url)) == before
    finally:
        drop()


def _seed_before_neutral_ids(url: str) -> None:
    """Rows as revision 0005 stored them, under the Slack-named columns."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            at = datetime(2026, 1, 1, tzinfo=UTC)
            conn.execute(
                text(
                    "INSERT INTO workspaces (team_id, name, timezone, created_at)"
                    " VALUES ('T0OLD', 'Old trust', 'Europe/London', :at)"
                ),
                {"at": at},
            )
            conn.execute(
                text(
                    "INSERT INTO roles (workspace_id, slack_user_id, role, created_at)"
                    " SELECT id, 'UADMIN', 'admin', :at FROM workspaces"
                ),
                {"at": at},
            )
            conn.execute(
                text(
                    "INSERT INTO participants (workspace_id, slack_user_id, dm_channel, active,"
                    " opted_out, created_at) SELECT id, 'UDOC1', 'D0DOC1', true, false, :at"
                    " FROM workspaces"
                ),
                {"at": at},
            )
    finally:
        engine.dispose()


def test_neutral_identifiers_keep_the_data_hold_teams_ids_and_go_back_down():
    """0006 renames the Slack-named columns and widens them: existing rows keep their values
    (and are marked as Slack installs), Teams-sized IDs then fit, and the downgrade restores
    the old names."""
    url, drop = _fresh()
    try:
        upgrade(url, "0005")
        _seed_before_neutral_ids(url)
        upgrade(url, "0006")
        teams_user = "29:" + "x" * 120
        teams_conversation = "a:" + "y" * 400
        db = Database.connect(url)
        try:
            with db.Session.begin() as s:
                ws = s.scalar(select(Workspace))
                assert (ws.platform, ws.team_id) == ("slack", "T0OLD")
                assert s.scalar(select(Role.user_id)) == "UADMIN"
                p = s.scalar(select(Participant))
                assert (p.user_id, p.conversation_id) == ("UDOC1", "D0DOC1")
                s.add(
                    Workspace(platform="teams", team_id=str(uuid.uuid4()), created_at=ws.created_at)
                )
                p.user_id, p.conversation_id = teams_user, teams_conversation
            with db.Session() as s:
                assert s.scalar(select(Participant.conversation_id)) == teams_conversation
            with pytest.raises(IntegrityError), db.Session.begin() as s:
                # the renamed unique constraint still holds
                s.add(Participant(workspace_id=ws.id, user_id=teams_user, created_at=ws.created_at))
            with db.Session.begin() as s:
                p = s.scalar(select(Participant))
                p.user_id, p.conversation_id = "UDOC1", "D0DOC1"
                s.execute(delete(Workspace).where(Workspace.platform == "teams"))
        finally:
            db.dispose()
        downgrade(alembic_config(url), "0005")
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                row = conn.execute(text("SELECT slack_user_id, dm_channel FROM participants"))
                assert row.one() == ("UDOC1", "D0DOC1")
                columns = {c["name"] for c in inspect(engine).get_columns("workspaces")}
                assert "platform" not in columns
        finally:
            engine.dispose()
    finally:
        drop()


if PG_SERVER is not None:

    def test_sqlite_and_postgresql_get_the_same_schema():
        sqlite_url, drop_sqlite = _fresh(None)
        pg_url, drop_pg = _fresh()
        try:
            upgrade(sqlite_url)
            upgrade(pg_url)
            a, b = _schema(sqlite_url), _schema(pg_url)
            assert len(a) >= len(migrated_metadata().tables)
            assert _diff(a, b) == []
        finally:
            drop_pg()
            drop_sqlite()
