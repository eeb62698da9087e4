"""Alembic, driven from code so `medpulse migrate` needs no alembic.ini next to it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``; safe to run on every start."""
    command.upgrade(alembic_config(url), revision)


def current_heads(url: str) -> set[str]:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def head_revisions() -> set[str]:
    """The revisions the code expects the database to be at (Alembic's heads)."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def schema_problem(engine, heads: set[str] | None = None) -> str | None:
    """None when the database answers and its schema is at the latest migration; otherwise what
    is wrong, in a few words (for /readyz and for processes that do not migrate on start)."""
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # noqa: BLE001 - any failure to answer means not ready
        return f"database unreachable ({type(exc).__name__})"
    expected = head_revisions() if heads is None else heads
    if current != expected:
        have = ", ".join(sorted(current)) or "never migrated"
        return f"schema at {have}, not {', '.join(sorted(expected))}: run medpulse migrate"
    return None
