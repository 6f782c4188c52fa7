"""Leases in the register: which worker may take from a source now.

Several `ingestd run` workers on one database must never take from the same mailbox folder or drop folder at
once (two IMAP sessions settling the same UIDs, two processes moving the same file). Each source has one row in
`source_leases`; a worker takes from a source only while it holds that row's lease.

Taking or renewing a lease is one statement that the database makes atomic, the same way on SQLite and
PostgreSQL, with no read-then-write race:

    UPDATE source_leases SET holder = :me, expires_at = :now + ttl ...
     WHERE source_id = :id AND (holder = :me OR expires_at < :now)

and, when no row was updated because there is no row yet, `INSERT ... ON CONFLICT DO NOTHING`. The rowcount
says whether we hold it. On PostgreSQL two workers racing for an expired lease both reach the row; the second
waits for the first's lock, re-checks the WHERE on the new row version (now unexpired, another holder) and
updates nothing. On SQLite write transactions are serialised (BEGIN IMMEDIATE), so the same holds trivially.

A worker also holds a `worker:{id}` row, its presence, so that every worker can count the live ones and take
only its fair share of the sources (ingestd.workers). Times are the workers' clocks in UTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from ingestd.store.db import Database
from ingestd.store.models import SourceLease

PRESENCE = "worker:"  # source ids of presence rows: "worker:{worker id}"
JOB = "job:"  # claims of jobs that one worker runs for all (the monthly report, the blob sweep)


@dataclass(frozen=True, slots=True)
class LeaseRow:
    source_id: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


def acquire(session: Session, source_id: str, holder: str, *, ttl: float, now: datetime,
            steal_from: Iterable[str] = ()) -> bool:
    """Take or renew the lease on `source_id` for `holder`, in the caller's transaction; True when held.

    `steal_from`: holders known to be dead (a process of this host that is gone): their unexpired lease is
    taken at once instead of after its TTL, so a restarted worker does not wait for its own previous life."""
    expires = now + timedelta(seconds=ttl)
    table = SourceLease.__table__  # type: ignore[attr-defined]
    free = or_(table.c.holder == holder, table.c.expires_at < now)
    dead = list(steal_from)
    if dead:
        free = or_(free, table.c.holder.in_(dead))
    renewed = session.execute(
        update(table).where(and_(table.c.source_id == source_id, free)).values(
            holder=holder, expires_at=expires, renewed_at=now,
            # a lease taken over from another holder starts now; a renewed one keeps its start
            acquired_at=case((table.c.holder == holder, table.c.acquired_at), else_=now)))
    if renewed.rowcount == 1:
        return True
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # RETURNING, not rowcount: drivers do not agree on the rowcount of an insert that did nothing
    inserted = session.execute(insert(table).values(
        source_id=source_id, holder=holder, acquired_at=now, renewed_at=now, expires_at=expires,
    ).on_conflict_do_nothing(index_elements=["source_id"]).returning(table.c.source_id)).first()
    return inserted is not None


def release(session: Session, source_ids: Iterable[str], holder: str) -> int:
    """Give up these leases (only where `holder` still holds them); returns how many were released."""
    ids = list(source_ids)
    if not ids:
        return 0
    table = SourceLease.__table__  # type: ignore[attr-defined]
    result = session.execute(delete(table).where(table.c.source_id.in_(ids), table.c.holder == holder))
    return int(result.rowcount or 0)


def release_all(db: Database, holder: str) -> int:
    """Every source lease this worker holds, and its presence (a clean shutdown). Job claims (`job:...`) stay
    until they run out, so that another worker does not run the same job again right after."""
    table = SourceLease.__table__  # type: ignore[attr-defined]
    with db.write() as session:
        return int(session.execute(delete(table).where(
            table.c.holder == holder, table.c.source_id.not_like(f"{JOB}%"))).rowcount or 0)


def current(session: Session, now: datetime) -> list[LeaseRow]:
    """Every unexpired lease, sources and presence rows alike, by source id."""
    rows = session.exec(select(SourceLease).where(col(SourceLease.expires_at) >= now)
                        .order_by(col(SourceLease.source_id))).all()
    return [LeaseRow(r.source_id, r.holder, r.acquired_at, r.expires_at) for r in rows]


def live_workers(rows: Iterable[LeaseRow]) -> list[str]:
    """Worker ids with an unexpired presence row, sorted."""
    return sorted(r.source_id[len(PRESENCE):] for r in rows if r.source_id.startswith(PRESENCE))


def holder_of(db: Database, source_id: str, now: datetime) -> str | None:
    """Who holds `source_id` now (None: free or expired)."""
    with db.read() as session:
        row = session.get(SourceLease, source_id)
    return row.holder if row is not None and row.expires_at >= now else None
