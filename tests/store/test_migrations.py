"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import ingestd.store.models  # noqa: F401  (registers the tables)
from ingestd.store.db import Database


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    """Given an empty database, when migrated to head, then Alembic finds no difference from the models
    (a column added to a model without its migration fails here, not at a user's first start)."""
    db = Database(db_url)
    db.migrate()
    try:
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    finally:
        db.dispose()
    relevant = [d for d in diff if not (isinstance(d, tuple) and d[0] in ("remove_table",) and
                                        d[1].name == "alembic_version")]
    assert relevant == []
