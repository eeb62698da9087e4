"""Migrations: upgrade an empty database to head; models and migrations agree; upgrade is idempotent.

Runs on the suite's database (SQLite by default, PostgreSQL when MEDPULSE_TEST_DB points there);
the second test compares a fresh SQLite file with a fresh database of the suite's kind.
"""

from __future__ import annotations

import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from storage.migrate import current_heads, upgrade
from storage.models import Base
from storage.scratch import scratch_database


def _fresh_url(tmp_path, kind: str) -> tuple[str, callable]:
    server = None if kind == "sqlite" else os.environ["MEDPULSE_TEST_DB"]
    return scratch_database(server, "medpulse_mig")


def _kind() -> str:
    return "sqlite" if os.environ.get("MEDPULSE_TEST_DB", "sqlite") == "sqlite" else "postgresql"


def _schema(url: str) -> dict:
    engine = create_engine(url)
    insp = inspect(engine)
    out = {}
    for table in sorted(insp.get_table_names()):
        cols = {c["name"]: c["nullable"] for c in insp.get_columns(table)}
        uniques = sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table))
        indexes = sorted(tuple(i["column_names"]) for i in insp.get_indexes(table))
        out[table] = (cols, uniques, indexes)
    engine.dispose()
    return out


def test_upgrade_reaches_head_with_no_drift_and_is_idempotent(tmp_path):
    url, drop = _fresh_url(tmp_path, _kind())
    try:
        upgrade(url)
        upgrade(url)  # a second run is a no-op
        assert current_heads(url) == {"0001"} or len(current_heads(url)) == 1
        engine = create_engine(url)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
        engine.dispose()
    finally:
        drop()


def test_the_same_migrations_give_the_same_schema_on_both_backends(tmp_path):
    sqlite_url, _ = _fresh_url(tmp_path, "sqlite")
    other_url, drop = _fresh_url(tmp_path, _kind())
    try:
        upgrade(sqlite_url)
        upgrade(other_url)
        a, b = _schema(sqlite_url), _schema(other_url)
        assert set(a) == set(b) and set(a) >= {t.name for t in Base.metadata.sorted_tables}
        for table in a:
            assert a[table][0] == b[table][0], table  # same columns, same nullability
            assert a[table][1] == b[table][1], table  # same unique constraints
    finally:
        drop()
