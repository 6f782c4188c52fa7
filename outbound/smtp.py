"""The sender loop: claim queued outbox rows, deliver them (SMTP, or `.eml` files), record the result.

Claiming: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED`, so several senders share the queue without
waiting on each other; on SQLite one `UPDATE ... WHERE id IN (SELECT ... LIMIT n)` in a write
transaction (SQLite has one writer at a time, so the claim is atomic). A claim carries a token; a row
stuck in "sending" (its sender died) is claimed again after `claim_timeout_seconds`.

Results: 2xx → sent; 4xx, a refused or dropped connection, a timeout → queued again with exponential
backoff (failed after `max_attempts`); 5xx → failed at once. A failure is recorded on the case
(`outbound.failed`) and shown by `ingestd outbox list`. Each result is committed right after its
message; before that, an accepted message is written to the sent journal (`outbound.journal`), so a
sender killed between the server's 250 and that commit does not send it again after a restart. SMTP
itself is spoken by the courier process (`outbound.courier`), which finishes the message in hand and
its journal line even when the daemon is killed mid-conversation.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from loguru import logger
from sqlalchemy import and_, or_, update
from sqlmodel import select

from ingestd.clock import SYSTEM_CLOCK, Clock
from ingestd.config.outbound import OutboundConfig
from ingestd.store.blobs import BlobStore
from ingestd.store.db import Database
from ingestd.store.models import CaseEvent, OutboxMessage
from outbound.compose import message_bytes
from outbound.courier import CourierTransport
from outbound.filesink import FileSink
from outbound.journal import SentJournal, journal_key
from outbound.outbox import stored_bytes
from outbound.transport import PermanentFailure, TemporaryFailure, Transport

JOURNAL_NAME = "sent.journal"


def make_transport(config: OutboundConfig, data_dir: Path) -> Transport:
    """SMTP through the courier process (`outbound.courier`), or `.eml` files when no server is configured."""
    if config.smtp is None:
        return FileSink(config.resolved_outbox_dir(data_dir))
    return CourierTransport.of(config.smtp, data_dir / JOURNAL_NAME)


class OutboxSender:
    def __init__(self, db: Database, blobs: BlobStore, config: OutboundConfig, data_dir: Path, *,
                 clock: Clock = SYSTEM_CLOCK, transport: Transport | None = None) -> None:
        self.db = db
        self.blobs = blobs
        self.config = config
        self.clock = clock
        self.transport = transport or make_transport(config, data_dir)
        self.journal = SentJournal(data_dir / JOURNAL_NAME)

    def drain(self, *, max_batches: int | None = None) -> Counter[str]:
        """Deliver everything that is due now; returns counts by result (sent, retry, failed)."""
        counts: Counter[str] = Counter()
        batches = 0
        try:
            self.journal.compact(self._not_marked_sent)
        except Exception as exc:  # a full disk, the register away: compaction waits, sending does not
            logger.bind(source="outbox").warning("outbox: sent journal not compacted: {}: {}", type(exc).__name__, exc)
        try:
            while max_batches is None or batches < max_batches:
                token, rows = self.claim(self.config.batch_size)
                if not rows:
                    break
                batches += 1
                counts += self._deliver(token, rows)
        finally:
            self.transport.close()
        if counts:
            logger.bind(source="outbox").info("outbox: {}", dict(counts))
        return counts

    # -- claiming ---------------------------------------------------------------------------------
    def claim(self, limit: int) -> tuple[str, list[OutboxMessage]]:
        now = self.clock.now()
        token = uuid.uuid4().hex
        stale = now - timedelta(seconds=self.config.claim_timeout_seconds)
        due = or_(and_(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now),
                  and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < stale))
        claim = {"status": "sending", "claimed_at": now, "claimed_by": token}
        with self.db.write() as session:
            if self.db.dialect == "postgresql":
                ids = list(session.exec(select(OutboxMessage.id).where(due).order_by(OutboxMessage.id)
                                        .limit(limit).with_for_update(skip_locked=True)).all())
                if ids:
                    session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(**claim))  # type: ignore[union-attr]
            else:
                chosen = select(OutboxMessage.id).where(due).order_by(OutboxMessage.id).limit(limit).scalar_subquery()
                session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(chosen)).values(**claim))  # type: ignore[union-attr]
            rows = list(session.exec(select(OutboxMessage).where(OutboxMessage.claimed_by == token,
                                                                 OutboxMessage.status == "sending")
                                     .order_by(OutboxMessage.id)).all())
        return token, rows

    # -- delivering -------------------------------------------------------------------------------
    def _deliver(self, token: str, rows: list[OutboxMessage]) -> Counter[str]:
        counts: Counter[str] = Counter()
        down: TemporaryFailure | None = None
        for row in rows:
            if down is not None:  # the server is unreachable: the rest of the batch waits too
                counts[self._temporary(token, row, str(down))] += 1
                continue
            accepted = self._accepted_before(row)
            if accepted is not None:  # sent before a crash, its result never committed: not again
                logger.bind(source="outbox").info("outbox #{}: accepted before a restart ({}); not sent again",
                                                  row.id, accepted)
                self._sent(token, row, accepted)
                counts["sent"] += 1
                continue
            try:
                raw = message_bytes(stored_bytes(row, self.blobs), self.blobs.read)
            except OSError as exc:  # the blob is missing: perhaps a full or unmounted disk, for now
                counts[self._temporary(token, row, f"{type(exc).__name__}: {exc}")] += 1
                continue
            except Exception as exc:  # a draft that cannot become a message will not become one later
                self._failed(token, row, f"cannot build the message: {type(exc).__name__}: {exc}")
                counts["failed"] += 1
                continue
            try:
                ref = self.transport.send(row, raw)
            except TemporaryFailure as exc:
                if exc.connection:
                    down = exc
                    logger.bind(source="outbox").warning("outbox: {}", exc)
                counts[self._temporary(token, row, str(exc))] += 1
            except PermanentFailure as exc:
                self._failed(token, row, str(exc))
                counts["failed"] += 1
            except OSError as exc:  # the blob is missing, the outbox folder is not writable
                counts[self._temporary(token, row, f"{type(exc).__name__}: {exc}")] += 1
            else:
                if not getattr(self.transport, "journals", False):  # the courier has written it already
                    self._journal(row, ref)
                self._sent(token, row, ref)
                self.journal.forget(journal_key(row))
                counts["sent"] += 1
        return counts

    def _accepted_before(self, row: OutboxMessage) -> str | None:
        try:
            return self.journal.accepted(journal_key(row))
        except OSError as exc:  # unreadable: the register's claim is all there is to go on
            logger.bind(source="outbox").warning("outbox: sent journal unreadable: {}", exc)
            return None

    def _journal(self, row: OutboxMessage, ref: str) -> None:
        """Note the acceptance; if the journal cannot be written (a full disk), the register's mark, which
        follows at once, is the only record: a crash in between would send it again, the rest goes on."""
        try:
            self.journal.record(journal_key(row), ref, self.clock.now())
        except OSError as exc:
            logger.bind(source="outbox").error("outbox #{}: sent journal not written: {}", row.id, exc)

    def _not_marked_sent(self, keys: list[str]) -> set[str]:
        """Of these journal keys, those whose rows are not marked sent (the journal must keep them)."""
        wanted = sorted({key.rsplit(" ", 1)[0] for key in keys})
        found: set[str] = set()
        with self.db.read() as session:
            for start in range(0, len(wanted), 500):
                found.update(journal_key(row) for row in session.exec(select(OutboxMessage).where(
                    OutboxMessage.idempotency_key.in_(wanted[start:start + 500]),  # type: ignore[attr-defined]
                    OutboxMessage.status != "sent")).all())
        return found


    def _sent(self, token: str, row: OutboxMessage, ref: str) -> None:
        now = self.clock.now()
        with self.db.write() as session:
            done = self._finish(session, token, row, status="sent", attempts=row.attempts + 1, sent_at=now,
                                transport_ref=ref, last_error=None)
            if done and row.case_id is not None:
                self._event(session, row, now, "outbound.sent", via=self.transport.name, ref=ref)

    def _temporary(self, token: str, row: OutboxMessage, error: str) -> str:
        now = self.clock.now()
        attempts = row.attempts + 1
        if attempts >= self.config.max_attempts:
            self._failed(token, row, f"gave up after {attempts} attempts: {error}", attempts=attempts)
            return "failed"
        delay = min(self.config.retry_base_seconds * 2 ** (attempts - 1), self.config.retry_max_seconds)
        with self.db.write() as session:
            self._finish(session, token, row, status="queued", attempts=attempts, last_error=error[:2000],
                         next_attempt_at=now + timedelta(seconds=delay))
        logger.bind(source="outbox").info("outbox #{}: will retry in {:.0f}s: {}", row.id, delay, error)
        return "retry"

    def _failed(self, token: str, row: OutboxMessage, error: str, *, attempts: int | None = None) -> None:
        now = self.clock.now()
        with self.db.write() as session:
            done = self._finish(session, token, row, status="failed", attempts=attempts or row.attempts + 1,
                                last_error=error[:2000])
            if done and row.case_id is not None:
                self._event(session, row, now, "outbound.failed", error=error[:500])
        logger.bind(source="outbox").error("outbox #{} ({} to {}) failed: {}", row.id, row.kind, row.to_addr, error)

    @staticmethod
    def _finish(session, token: str, row: OutboxMessage, **values) -> bool:  # type: ignore[no-untyped-def]
        """Compare-and-set on the claim token: a row claimed again by another sender is not overwritten."""
        values.update(claimed_by=None, claimed_at=None)
        result = session.execute(update(OutboxMessage).where(
            OutboxMessage.id == row.id, OutboxMessage.claimed_by == token).values(**values))  # type: ignore[arg-type]
        return bool(result.rowcount)

    @staticmethod
    def _event(session, row: OutboxMessage, at: datetime, kind: str, **detail) -> None:  # type: ignore[no-untyped-def]
        session.add(CaseEvent(case_id=row.case_id, at=at, kind=kind, actor="outbox",
                              detail={"outbox_id": row.id, "kind": row.kind, "to": row.to_addr,
                                      "message_id": row.message_id, **detail}))
