"""The case register's tables.

Uniqueness that intake relies on for idempotency is enforced here, by the database, not by code
that checks first: a case number, an input's dedupe key, a quarantined input's digest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ingestd.store.types import JSONType, UTCDateTime


def _json(default: Any = None) -> Any:
    return Field(default_factory=lambda: default() if callable(default) else default,
                 sa_column=Column(JSONType, nullable=True))


def _when(*, index: bool = False, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


class Case(SQLModel, table=True):
    """One complaint: the register entry (who, how to reach them, what happened, what they ask, when, how)."""

    __tablename__ = "cases"

    id: int | None = Field(default=None, primary_key=True)
    case_no: str = Field(max_length=64, unique=True, index=True)
    channel: str = Field(max_length=16)  # email | letter
    status: str = Field(default="open", max_length=16, index=True)
    subject: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    demands: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    full_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    language: str = Field(default="zh", max_length=8)
    complainant_name: str | None = Field(default=None, max_length=200)
    complainant_email: str | None = Field(default=None, max_length=320, index=True)
    complainant_phone: str | None = Field(default=None, max_length=40, index=True)
    complainant_phones: list[str] | None = _json(list)
    complainant_address: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    anonymous: bool = False
    received_at: datetime = _when(index=True, nullable=False)
    created_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False)
    source: str = Field(default="", max_length=300)  # e.g. "imap:desk/INBOX", "folder:drop", "stdin"
    department: str | None = Field(default=None, max_length=64, index=True)
    category: str | None = Field(default=None, max_length=64)
    grade: str | None = Field(default=None, max_length=64)
    repeat_of: int | None = Field(default=None, foreign_key="cases.id")
    flags: list[str] | None = _json(list)
    rule_hits: list[dict[str, Any]] | None = _json(list)
    fields: dict[str, Any] | None = _json(dict)  # extracted extras (order numbers, OCR confidence, ...)
    # the case's life in time (ingestd/casework): deadlines from the policy, and when each step happened
    routed_at: datetime | None = _when()  # when its department received it (a reroute restarts it)
    ack_due: datetime | None = _when()
    answer_due: datetime | None = _when(index=True)
    resolve_due: datetime | None = _when(index=True)
    visit_due: datetime | None = _when()
    acknowledged_at: datetime | None = _when()
    answered_at: datetime | None = _when()  # the department's first answer
    replied_at: datetime | None = _when()  # the formal written reply went out
    visited_at: datetime | None = _when()  # the return visit (回访) was recorded
    closed_at: datetime | None = _when()  # closed, withdrawn or invalid
    satisfaction: str | None = Field(default=None, max_length=16)  # satisfied | unsatisfied
    status_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # withdrawn/invalid: why
    extensions: int = 0


class Message(SQLModel, table=True):
    """An inbound or outbound message on a case, with the headers threading needs."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("dedupe_key", name="uq_messages_dedupe_key"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    direction: str = Field(max_length=8)  # in | out
    dedupe_key: str = Field(max_length=600)  # "in:{message_id}:{sha256}" / "out:{idempotency key}"
    message_id: str | None = Field(default=None, max_length=500, index=True)
    in_reply_to: str | None = Field(default=None, max_length=500)
    references: list[str] | None = _json(list)
    subject: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    from_addr: str | None = Field(default=None, max_length=320)
    from_name: str | None = Field(default=None, max_length=300)
    to_addrs: list[str] | None = _json(list)
    cc_addrs: list[str] | None = _json(list)
    date: datetime | None = _when()
    source: str = Field(default="", max_length=300)
    source_ref: str = Field(default="", max_length=600)
    raw_sha256: str | None = Field(default=None, max_length=64, index=True)
    size: int = 0
    body_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    headers: dict[str, str] | None = _json(dict)
    created_at: datetime = _when(nullable=False)


class Attachment(SQLModel, table=True):
    """A file on a case; its content lives in the blob store under its sha256."""

    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="messages.id")
    sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=255)  # sanitised, safe to show and to save
    original_name: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    content_type: str = Field(default="application/octet-stream", max_length=200)
    size: int = 0
    created_at: datetime = _when(nullable=False)


class CaseEvent(SQLModel, table=True):
    """Append-only history of a case: what happened, when, and who or which rule did it."""

    __tablename__ = "case_events"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    at: datetime = _when(nullable=False)
    kind: str = Field(max_length=64)
    actor: str = Field(default="ingestd", max_length=200)
    detail: dict[str, Any] | None = _json(dict)


class InputBytes(SQLModel, table=True):
    """An input's raw bytes as received (an e-mail's .eml, a letter's scan), for inputs small enough to keep in the
    register (see `ingestd.store.originals`); bigger ones are in the blob store. Keyed, like blobs, by SHA-256."""

    __tablename__ = "input_bytes"

    sha256: str = Field(primary_key=True, max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class QuarantineEntry(SQLModel, table=True):
    """An input that could not be taken: its raw bytes (in the blob store), why, and where it failed."""

    __tablename__ = "quarantine"
    __table_args__ = (UniqueConstraint("raw_sha256", name="uq_quarantine_raw_sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    raw_sha256: str = Field(max_length=64)
    size: int = 0
    source: str = Field(default="", max_length=300)
    source_ref: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    stage: str = Field(max_length=32)
    kind: str = Field(default="unreadable", max_length=16)  # unreadable | failed (a bug or an outage)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    traceback: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = 1
    status: str = Field(default="parked", max_length=16, index=True)  # parked | released
    first_at: datetime = _when(nullable=False)
    last_at: datetime = _when(nullable=False)
    case_id: int | None = Field(default=None, foreign_key="cases.id")


class SourceState(SQLModel, table=True):
    """Per-source progress that must survive restarts (IMAP UIDVALIDITY/UID, leases, ...)."""

    __tablename__ = "source_state"

    source_id: str = Field(primary_key=True, max_length=300)
    state: dict[str, Any] | None = _json(dict)
    updated_at: datetime = _when(nullable=False)


class CaseCounter(SQLModel, table=True):
    """The last sequence number handed out per case-number scope (e.g. per month)."""

    __tablename__ = "case_counters"

    scope: str = Field(primary_key=True, max_length=64)
    last: int = 0


Index("ix_case_events_case_at", CaseEvent.case_id, CaseEvent.at)  # type: ignore[arg-type]


class OutboxMessage(SQLModel, table=True):
    """An outgoing message, written in the same transaction as the case change that causes it, then
    delivered by the sender loop (SMTP, or `.eml` files when no SMTP is configured).

    `idempotency_key` ("{kind}:{case_no}:{purpose}") is unique: the same cause never queues twice. The
    message is in `draft` (JSON, see `outbound.compose.draft_json`; the sender builds the MIME from it);
    rows queued before migration 0005 have the message in the blob store under `raw_sha256` instead, which
    is otherwise the digest of the draft. `outbound.outbox.stored_bytes` reads either.
    """

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=300)
    kind: str = Field(max_length=16, index=True)  # ack | notify | reply
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    status: str = Field(default="queued", max_length=16, index=True)  # queued | sending | sent | failed | bounced
    attempts: int = 0
    next_attempt_at: datetime = _when(index=True, nullable=False)
    claimed_at: datetime | None = _when()
    claimed_by: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    message_id: str = Field(max_length=500, index=True)  # without angle brackets, like messages.message_id
    from_addr: str = Field(max_length=320)
    to_addr: str = Field(max_length=320)  # indexed with kind and created_at, below
    subject: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    raw_sha256: str = Field(max_length=64)
    draft: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    size: int = 0
    transport_ref: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # .eml path / reply
    created_at: datetime = _when(index=True, nullable=False)
    sent_at: datetime | None = _when()


# The per-sender daily limit counts a batch's senders' acknowledgements since midnight (`outbox.acks_since`).
# With only one-column indexes SQLite chose `kind` for it, every row being an "ack": each batch read the whole
# outbox (9 ms per batch of 50 at 5,000 rows, growing with the table). This one answers it from the index.
Index("ix_outbox_to_addr_kind_created_at", OutboxMessage.to_addr, OutboxMessage.kind,  # type: ignore[arg-type]
      OutboxMessage.created_at)


class SourceLease(SQLModel, table=True):
    """Which worker may take from a source now (ingestd/store/leases.py): one row per source id (a mailbox
    folder, a drop folder, a scan folder), plus one `worker:{id}` row per live worker (its presence).

    A lease is good until `expires_at`; its holder renews it well before then. A worker that dies stops
    renewing, so its rows expire and another worker takes its sources over. Times are the workers' clocks
    (UTC): keep them in sync (NTP), the TTL is far larger than any sane skew."""

    __tablename__ = "source_leases"

    source_id: str = Field(primary_key=True, max_length=300)
    holder: str = Field(max_length=200)  # worker id: hostname:pid:random
    acquired_at: datetime = _when(nullable=False)
    renewed_at: datetime = _when(nullable=False)
    expires_at: datetime = _when(index=True, nullable=False)
