"""Reads and writes on the case register within one session (one transaction)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import insert, or_, update
from sqlmodel import Session, SQLModel, select

from ingestd.store.models import Case, CaseEvent, Message, QuarantineEntry


class Register:
    """The register as seen from one transaction; the pipeline's record stage writes through it."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.case_scopes: set[str] = set()  # case-number counters known to exist in this transaction
        self._by_message_id: dict[str, tuple[int, str]] = {}
        self._looked_up: set[str] = set()

    # -- lookups (threading, idempotency) -------------------------------------------------------
    def prefetch_message_ids(self, message_ids: Iterable[str]) -> None:
        """Look up a whole batch's Message-IDs (own, In-Reply-To, References) in one query per 500."""
        wanted = [m for m in dict.fromkeys(message_ids) if m and m not in self._looked_up]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self.session.exec(
                select(Message.message_id, Case.id, Case.case_no)
                .join(Case, Message.case_id == Case.id)
                .where(Message.message_id.in_(chunk))  # type: ignore[union-attr]
            ).all()
            for mid, case_id, case_no in rows:
                self._by_message_id.setdefault(mid, (case_id, case_no))
            self._looked_up.update(chunk)

    def remember(self, message_id: str | None, case_id: int, case_no: str) -> None:
        """A message committed in this transaction: later inputs of the batch thread onto it."""
        if message_id:
            self._by_message_id.setdefault(message_id, (case_id, case_no))
            self._looked_up.add(message_id)

    def case_by_message_id(self, message_id: str) -> tuple[int, str] | None:
        if message_id in self._by_message_id:
            return self._by_message_id[message_id]
        if message_id in self._looked_up:
            return None
        row = self.session.exec(
            select(Case.id, Case.case_no)
            .join(Message, Message.case_id == Case.id)
            .where(Message.message_id == message_id)
            .limit(1)
        ).first()
        return (row[0], row[1]) if row else None

    def case_by_number(self, case_no: str) -> tuple[int, str] | None:
        row = self.session.exec(select(Case.id, Case.case_no).where(Case.case_no == case_no)).first()
        return (row[0], row[1]) if row else None

    def earlier_cases(self, email: str | None, phone: str | None, since: datetime, *,
                      limit: int = 20) -> list[tuple[int, str, str, str]]:
        """This complainant's cases (same email or phone) opened since `since`, newest first: what a repeat
        complaint (二次投诉) is looked for in: (id, case_no, subject, description)."""
        conditions = [c for c in (Case.complainant_email == email if email else None,
                                  Case.complainant_phone == phone if phone else None) if c is not None]
        if not conditions:
            return []
        rows = self.session.exec(select(Case.id, Case.case_no, Case.subject, Case.description)
                                 .where(or_(*conditions), Case.received_at >= since)
                                 .order_by(Case.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
        return [(i, n, s or "", (d or "")[:4000]) for i, n, s, d in rows]

    def referenced_blobs(self) -> tuple[set[str], list[str]]:
        """Every blob a row refers to (raw messages, attachments, quarantined bytes, outbox messages), and the
        outbox blobs still waiting to be sent (their drafts name attachments too): what the sweep keeps."""
        from ingestd.store.models import Attachment, OutboxMessage

        found: set[str] = set()
        for query in (select(Message.raw_sha256), select(Attachment.sha256), select(QuarantineEntry.raw_sha256),
                      select(OutboxMessage.raw_sha256)):
            found.update(d for d in self.session.exec(query) if d)
        waiting = list(self.session.exec(select(OutboxMessage.raw_sha256).where(
            OutboxMessage.status.in_(("queued", "sending")))).all())  # type: ignore[attr-defined]
        return found, waiting

    def held_inputs(self, digests: list[str]) -> dict[str, tuple[str, str | None]]:
        """Which of these inputs the register holds already: sha256 → ("case", case_no) for bytes on a
        case, ("quarantine", None) for bytes parked in quarantine."""
        held: dict[str, tuple[str, str | None]] = {}
        for digest, case_no in self.session.exec(
            select(Message.raw_sha256, Case.case_no)
            .join(Case, Message.case_id == Case.id)
            .where(Message.raw_sha256.in_(digests), Message.direction == "in")  # type: ignore[union-attr]
        ):
            held.setdefault(digest, ("case", case_no))
        for digest in self.session.exec(
            select(QuarantineEntry.raw_sha256)
            .where(QuarantineEntry.raw_sha256.in_(digests), QuarantineEntry.status == "parked")  # type: ignore[attr-defined]
        ):
            held.setdefault(digest, ("quarantine", None))
        return held

    def seen_input(self, sha256: str) -> tuple[str, str | None] | None:
        return self.held_inputs([sha256]).get(sha256)

    # -- writes ---------------------------------------------------------------------------------
    def insert_values(self, model: type[SQLModel], values: dict[str, Any]) -> int:
        """INSERT one new row with Core, over the model's column defaults, and return its id. Intake writes
        thousands of rows a second; building ORM objects for them costs more than the INSERT itself."""
        table = model.__table__  # type: ignore[attr-defined]
        row = {**_column_defaults(model), **values}
        return int(self.session.execute(insert(table).returning(table.c.id), row).scalar_one())

    def log_event(self, case_id: int, kind: str, at: datetime, *, actor: str = "ingestd",
                  **detail: Any) -> None:
        self.insert_values(CaseEvent, {"case_id": case_id, "at": at, "kind": kind, "actor": actor,
                                       "detail": detail})

    def touch_case(self, case_id: int, at: datetime) -> None:
        self.session.execute(update(Case).where(Case.id == case_id).values(updated_at=at))  # type: ignore[arg-type]

    def park(self, *, sha256: str, size: int, source: str, source_ref: str, stage: str, kind: str,
             reason: str, traceback: str | None, at: datetime) -> QuarantineEntry:
        """Add to quarantine, or count one more attempt on an entry for the same bytes."""
        entry = self.session.exec(select(QuarantineEntry).where(QuarantineEntry.raw_sha256 == sha256)).first()
        if entry is None:
            entry = QuarantineEntry(raw_sha256=sha256, size=size, source=source, source_ref=source_ref,
                                    stage=stage, kind=kind, reason=reason, traceback=traceback,
                                    first_at=at, last_at=at)
        else:
            entry.attempts += 1
            entry.stage, entry.kind, entry.reason, entry.traceback = stage, kind, reason, traceback
            entry.last_at, entry.status = at, "parked"
        self.session.add(entry)
        self.session.flush()
        return entry

    def release(self, sha256: str, case_no: str, at: datetime) -> None:
        """A quarantined input has become (part of) a case: the entry stays, as history, released."""
        entry = self.session.exec(select(QuarantineEntry).where(QuarantineEntry.raw_sha256 == sha256)).first()
        found = self.case_by_number(case_no)
        if entry is not None:
            entry.status, entry.last_at = "released", at
            entry.case_id = found[0] if found else None
            self.session.add(entry)


@cache
def _column_defaults(model: type[SQLModel]) -> dict[str, Any]:
    """What the model would fill in itself: its field defaults, keyed by column name (ids left out)."""
    blank = model()
    return {c.name: getattr(blank, c.name) for c in model.__table__.columns  # type: ignore[attr-defined]
            if not c.primary_key and getattr(blank, c.name, None) is not None}
