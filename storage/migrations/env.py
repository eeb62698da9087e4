"""Alembic environment: the same migrations serve SQLite and PostgreSQL."""

import sqlalchemy as sa
from alembic import context
from sqlalchemy import create_engine, pool

from storage.models import ADAPTER_TABLES, Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Leave the adapters' tables out of autogenerate's comparison: the models do not describe
    them (their adapter does), yet our migrations created them and must not drop them."""
    return not (type_ == "table" and reflected and compare_to is None and name in ADAPTER_TABLES)


def render_item(type_, obj, autogen_context):
    """Render our UTCDateTime as the plain column type it stores, so migrations stay standalone."""
    if type_ == "type" and hasattr(obj, "impl") and isinstance(obj.impl, sa.DateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
