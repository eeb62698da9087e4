"""Everything our migrations build, as one ``MetaData``: the core's models plus the tables a
platform adapter owns (slack_sdk's installation stores), which ``storage`` knows only by name."""

from __future__ import annotations

from sqlalchemy import MetaData

from integrations.slack import oauth_store
from storage.models import ADAPTER_TABLES, NAMING, Base


def migrated_metadata() -> MetaData:
    """A copy of the models' metadata with the adapters' tables registered on it (the models'
    own metadata is left as the product uses it)."""
    metadata = MetaData(naming_convention=NAMING)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    oauth_store.register(metadata)
    assert set(metadata.tables) - set(Base.metadata.tables) == ADAPTER_TABLES
    return metadata
