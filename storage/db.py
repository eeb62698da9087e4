"""Engine and session factory: one place that knows SQLite from PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("medpulse.db")


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """WAL lets the web thread read while delivery writes; FKs are off by default in SQLite.
    ``secure_delete`` overwrites deleted content with zeros, so an erased answer link or a
    reminder state changed at close is not left readable in the file's free space."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA secure_delete=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


# Connections kept per process. A web process may hold one per server thread, per redraw thread
# and per Bolt listener thread at once; past the pool, SQLAlchemy opens and closes an extra
# connection per use, which on PostgreSQL (a new backend each time) doubled a tap's latency.
POOL_SIZE = 20


def make_engine(url: str) -> Engine:
    """Create an engine with the settings each backend needs for a multi-threaded process."""
    if url.startswith("sqlite"):
        in_memory = ":memory:" in url or url in ("sqlite://", "sqlite:///")
        pool = {} if in_memory else {"pool_size": POOL_SIZE, "max_overflow": POOL_SIZE}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        if not in_memory:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_SIZE)


@dataclass
class Database:
    """The engine plus a session factory; passed around instead of globals."""

    url: str
    engine: Engine
    Session: sessionmaker[Session]

    @classmethod
    def connect(cls, url: str) -> Database:
        engine = make_engine(url)
        return cls(url=url, engine=engine, Session=sessionmaker(engine, expire_on_commit=False))

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for a few reads that need no transaction. On PostgreSQL it runs in
        autocommit: no BEGIN and no ROLLBACK, two round trips fewer for the reads every answer
        tap's redraw makes. SQLite's driver begins no transaction for reads anyway, and
        switching its mode back and forth only costs."""
        if not self.is_postgres:
            with self.Session() as s:
                yield s
            return
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            with Session(bind=conn) as s:
                yield s

    def scrub(self, tables: tuple[str, ...]) -> None:
        """Remove old row versions of ``tables`` from disk, where the database can.

        SQLite: checkpoint the write-ahead log into the database file and truncate it, so no
        earlier page image (with a state since overwritten) is left in ``-wal``. PostgreSQL:
        VACUUM the tables (it cannot run in a transaction), so dead row versions, which keep
        their transaction ids and old values, are removed. Best effort: a reader holding an old
        snapshot delays both; the next scrub finishes the job.
        """
        if self.is_postgres:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                for table in tables:
                    conn.exec_driver_sql(f'VACUUM "{table}"')
            return
        if ":memory:" in self.url or self.url in ("sqlite://", "sqlite:///"):
            return
        with self.engine.connect() as conn:
            busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if busy:
            log.warning("the write-ahead log could not be truncated (a reader held it)")

    def dispose(self) -> None:
        self.engine.dispose()
