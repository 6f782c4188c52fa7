"""Per-folder IMAP progress in the register (`source_state`): UIDVALIDITY and the last settled UID."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ingestd.store.db import Database
from ingestd.store.models import SourceState


@dataclass(frozen=True, slots=True)
class FolderState:
    uidvalidity: int | None = None
    last_uid: int = 0  # every message up to this UID has been taken and settled


def load(db: Database, source_id: str) -> FolderState:
    with db.read() as session:
        row = session.get(SourceState, source_id)
        state = (row.state or {}) if row else {}
    return FolderState(uidvalidity=state.get("uidvalidity"), last_uid=int(state.get("last_uid") or 0))


def save(db: Database, source_id: str, state: FolderState) -> None:
    with db.write() as session:
        row = session.get(SourceState, source_id)
        value = {"uidvalidity": state.uidvalidity, "last_uid": state.last_uid}
        now = datetime.now(UTC)
        if row is None:
            session.add(SourceState(source_id=source_id, state=value, updated_at=now))
        else:
            row.state = value
            row.updated_at = now
            session.add(row)
