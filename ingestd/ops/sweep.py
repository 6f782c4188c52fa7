"""Collect blob files no row refers to. A blob is written before the transaction that refers to it commits, so a
crash can leave one behind (never the other way round); the sweep removes those once they are older than any
transaction could be (`min_age_seconds`)."""

from __future__ import annotations

from ingestd.store.blobs import BlobStore
from ingestd.store.db import Database
from ingestd.store.register import Register
from outbound.compose import draft_attachments
from outbound.outbox import stored_bytes


def sweep_blobs(db: Database, blobs: BlobStore, *, min_age_seconds: float = 3600) -> list[str]:
    with db.read() as session:
        referenced, waiting = Register(session).referenced_blobs()
    for row in waiting:  # an unsent draft names its attachments by digest
        try:
            referenced.update(draft_attachments(stored_bytes(row, blobs)))
        except OSError:
            continue
    return blobs.sweep_orphans(referenced, min_age_seconds=min_age_seconds)
