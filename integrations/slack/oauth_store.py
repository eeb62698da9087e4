"""The tables slack_sdk's SQLAlchemy installation and OAuth state stores use, on our metadata,
and the store that keeps the Slack tokens in them encrypted.

The tables are built by the stores' own table builders (so the columns always match the
library). Our Alembic migrations create them like any other table (one database, one migration
history, on SQLite and PostgreSQL alike), but ``storage`` knows them only by name
(``storage.models.ADAPTER_TABLES``): whoever needs them on a ``MetaData`` (the stores build their
own; the schema tests compare the migrations with models plus these) calls ``register``.

Tokens are encrypted at rest (Fernet: AES-128-CBC with an HMAC) under ``MEDPULSE_TOKEN_KEY``,
which lives in configuration, never in the database: a bot token reads every doctor's DMs, so a
copy of the database alone must not hand one over.
"""

from __future__ import annotations

import logging

from cryptography.fernet import Fernet, InvalidToken
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, String, Table, TypeDecorator, update

log = logging.getLogger("medpulse.oauth")

INSTALLATIONS = SQLAlchemyInstallationStore.default_installations_table_name
BOTS = SQLAlchemyInstallationStore.default_bots_table_name
STATES = SQLAlchemyOAuthStateStore.default_table_name

# Secrets in the store's tables, and a width that holds their Fernet form (about 4/3 of the
# token plus 100 characters; rotated tokens run to a few hundred characters).
TOKEN_COLUMNS = {
    INSTALLATIONS: ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    BOTS: ("bot_token", "bot_refresh_token"),
}
TOKEN_WIDTH = 1000
FERNET_PREFIX = "gAAAAA"  # version byte 0x80 and a 64-bit time stamp, base64


def register(metadata: MetaData) -> None:
    """Add the installation, bot and OAuth state tables to ``metadata`` (once)."""
    if INSTALLATIONS in metadata.tables:
        return
    _widen(SQLAlchemyInstallationStore.build_installations_table(metadata, INSTALLATIONS))
    _widen(SQLAlchemyInstallationStore.build_bots_table(metadata, BOTS))
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, STATES)


def _widen(table: Table, kind=None) -> None:
    for name in TOKEN_COLUMNS[table.name]:
        table.c[name].type = kind if kind is not None else String(TOKEN_WIDTH)


class KeyMismatch(Exception):
    """A stored token does not open with the configured key (the key was changed)."""


class EncryptedToken(TypeDecorator):
    """A token column: encrypted on the way in, decrypted on the way out."""

    impl = String(TOKEN_WIDTH)
    cache_ok = True

    def __init__(self, fernet: Fernet) -> None:
        super().__init__()
        self.fernet = fernet

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        return self.fernet.encrypt(value.encode()).decode()

    def process_result_value(self, value: str | None, dialect) -> str | None:
        if value is None:
            return None
        if not value.startswith(FERNET_PREFIX):  # written before encryption; see encrypt_plain
            return value
        try:
            return self.fernet.decrypt(value.encode()).decode()
        except InvalidToken:
            raise KeyMismatch(
                "a stored Slack token does not open with MEDPULSE_TOKEN_KEY: the key was changed"
                " since the workspace was installed; restore the old key or reinstall"
            ) from None


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's SQLAlchemy installation store with its token columns encrypted.

    The library's own code saves and finds installations; only the column types of its two
    tables change, so what it reads and writes passes through Fernet.
    """

    def __init__(self, client_id: str, engine, key: str) -> None:
        super().__init__(client_id=client_id, engine=engine)
        self.token_type = EncryptedToken(Fernet(key.encode()))
        _widen(self.installations, self.token_type)
        _widen(self.bots, self.token_type)

    def encrypt_plain(self) -> int:
        """Encrypt tokens stored in plain text (installs made before encryption); how many."""
        n = 0
        with self.engine.begin() as conn:
            for table in (self.installations, self.bots):
                for name in TOKEN_COLUMNS[table.name]:
                    col = table.c[name]
                    plain = String(TOKEN_WIDTH)
                    rows = conn.execute(
                        table.select()
                        .with_only_columns(table.c.id, col.cast(plain))
                        .where(col.is_not(None), ~col.cast(plain).startswith(FERNET_PREFIX))
                    ).all()
                    for row_id, value in rows:
                        conn.execute(
                            update(table).where(table.c.id == row_id).values({name: value})
                        )
                        n += 1
        if n:
            log.info("encrypted %d Slack token(s) stored before encryption", n)
        return n
