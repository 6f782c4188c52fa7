"""The transactional outbox: queue a message in the caller's transaction, once per idempotency key.

An outbox row is written in the same transaction as the case change that causes it, so a message is
queued if and only if that change is committed. The message's draft (JSON) is kept in the row; only its
attachments go to the blob store (synced before the commit: the intake runner syncs once per batch, other
callers call `blobs.sync()`). The message is also recorded on the case as an outbound `Message`, so that a
reply to it threads back by In-Reply-To.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, select

from ingestd.store.blobs import BlobStore
from ingestd.store.models import Message, OutboxMessage
from outbound.compose import Draft, check, draft_json, safe_message_id


def stored_bytes(row: OutboxMessage, blobs: BlobStore) -> bytes:
    """What a row holds for its message: the draft in the row, or (queued before 0005) the blob."""
    return row.draft.encode("utf-8") if row.draft is not None else blobs.read(row.raw_sha256)


def find(session: Session, key: str) -> OutboxMessage | None:
    return session.exec(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).first()


def enqueue(session: Session, blobs: BlobStore, *, key: str, draft: Draft, case_id: int | None, now: datetime,
            register: Any = None, fresh: bool = False) -> tuple[int, bool]:
    """Queue `draft` under `key`: (outbox row id, True) when queued now, (existing id, False) when the key
    is queued already. A concurrent twin that commits first makes this transaction fail on the unique key,
    which the intake runner takes as "recorded concurrently". `fresh`: the key names a case this transaction
    has just opened, so it cannot be queued yet and is not looked up (the unique key still guards it)."""
    existing = None if fresh else find(session, key)
    if existing is not None:
        return int(existing.id or 0), False
    check(draft)  # a bad address fails here, in the caller's transaction, not at send time
    raw = draft_json(draft, blobs.put)  # the MIME is built when the message is sent (see compose.draft_json)
    digest = hashlib.sha256(raw).hexdigest()  # the draft's digest; the draft itself goes in the row, not a blob
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    subject, size = draft.clean_subject, _size(draft)
    values = {
        "idempotency_key": key, "kind": draft.kind, "case_id": case_id, "status": "queued", "attempts": 0,
        "next_attempt_at": now, "message_id": draft.message_id, "from_addr": draft.from_addr,
        "to_addr": draft.to_addr, "subject": subject, "raw_sha256": digest, "draft": raw.decode("utf-8"),
        "size": size, "created_at": now,
    }
    if register is not None:  # the intake's batch: written with its other rows
        row_id = register.insert_row(OutboxMessage, values)
    else:
        row_id = int(session.execute(insert(outbox).returning(outbox.c.id), values).scalar_one())
    if case_id is not None:
        parent = safe_message_id(draft.in_reply_to)
        messages = Message.__table__  # type: ignore[attr-defined]
        row = {
            "case_id": case_id, "direction": "out", "dedupe_key": f"out:{key}"[:600], "message_id": draft.message_id,
            "in_reply_to": parent, "references": [r for r in draft.references if safe_message_id(r)][-10:],
            "subject": subject, "from_addr": draft.from_addr, "from_name": draft.from_name or None,
            "to_addrs": [draft.to_addr], "cc_addrs": [], "date": draft.date, "source": "outbound",
            "source_ref": f"outbox:{row_id}", "raw_sha256": None, "size": size, "body_text": draft.text,
            "headers": {"x-ingestd-kind": draft.kind, "auto-submitted": draft.auto_submitted or ""},
            "created_at": now,
        }
        if register is not None:
            register.insert_later(Message, row)
            register.remember(draft.message_id, case_id, draft.case_no)  # later inputs of the batch thread onto it
        else:
            session.execute(insert(messages), row)
    return row_id, True


def acks_since(session: Session, to_addrs: set[str], since: datetime) -> dict[str, int]:
    """Acknowledgements queued to each of these (lower-case) addresses since `since`, the per-sender daily
    limit, in one query per 500 addresses: every address gets a count, 0 included."""
    counts = dict.fromkeys(to_addrs, 0)
    wanted = sorted(to_addrs)
    for start in range(0, len(wanted), 500):
        for addr, n in session.exec(select(OutboxMessage.to_addr, func.count()).where(
                OutboxMessage.kind == "ack", OutboxMessage.to_addr.in_(wanted[start:start + 500]),  # type: ignore[union-attr]
                OutboxMessage.created_at >= since).group_by(OutboxMessage.to_addr)):
            counts[addr] = int(n)
    return counts


def rows_for_message_ids(session: Session, message_ids: list[str]) -> list[OutboxMessage]:
    wanted = [m for m in dict.fromkeys(message_ids) if m]
    if not wanted:
        return []
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.message_id.in_(wanted))).all())  # type: ignore[attr-defined]


def _size(draft: Draft) -> int:
    """About the size of the message as sent (base64 adds a third to attachments)."""
    return len(draft.text.encode()) + len((draft.html or "").encode()) + sum(
        len(a.data) * 4 // 3 for a in draft.attachments) + 1000
