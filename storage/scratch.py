"""Throwaway databases for tests and benchmarks: a fresh SQLite file or a new PostgreSQL database."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text


def scratch_database(
    server_url: str | None, prefix: str = "medpulse_scratch"
) -> tuple[str, Callable[[], None]]:
    """(url, drop): a new empty database on the PostgreSQL server at ``server_url`` (any database
    URL on it), or a SQLite file in a new temporary directory when ``server_url`` is None."""
    if server_url is None:
        return f"sqlite:///{Path(tempfile.mkdtemp()) / (prefix + '.db')}", lambda: None
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server_url.rsplit("/", 1)[0] + "/" + name, drop
