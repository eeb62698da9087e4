"""The tables slack_sdk's SQLAlchemy installation and OAuth state stores use, on our metadata.

They are built by the stores' own table builders (so the columns always match the library), but
registered on our ``MetaData`` so that our Alembic migrations create them like any other table:
one database, one migration history, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData

INSTALLATIONS = SQLAlchemyInstallationStore.default_installations_table_name
BOTS = SQLAlchemyInstallationStore.default_bots_table_name
STATES = SQLAlchemyOAuthStateStore.default_table_name


def register(metadata: MetaData) -> None:
    SQLAlchemyInstallationStore.build_installations_table(metadata, INSTALLATIONS)
    SQLAlchemyInstallationStore.build_bots_table(metadata, BOTS)
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, STATES)
