"""The buffered register: ids handed out before the rows are written, and writes from elsewhere in between."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from ingestd.store.db import Database
from ingestd.store.models import Case, CaseCounter, Message, OutboxMessage
from ingestd.store.register import Register

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _database(db_url: str) -> Database:
    db = Database(db_url)
    db.migrate()
    return db


def _case(register: Register, n: int) -> int:
    return register.insert_row(Case, {"case_no": f"T-{n}", "channel": "email", "status": "open", "received_at": NOW,
                                      "created_at": NOW, "updated_at": NOW, "source": "test"})


def _message(case_id: int, key: str) -> dict[str, object]:
    return {"case_id": case_id, "direction": "in", "dedupe_key": key, "source": "test", "size": 1,
            "created_at": NOW}


def test_rows_with_handed_out_ids_are_written_in_an_order_their_keys_allow(db_url: str) -> None:
    """Given a message buffered before its case in the same batch (a repeat pointing at an earlier case of the
    batch, messages of several cases), when the batch is flushed, then the foreign keys hold and each row has
    the id it was given."""
    db = _database(db_url)
    with db.write() as session:
        register = Register(session, buffered=True)
        first = _case(register, 1)
        message = register.insert_row(Message, _message(first, "m1"))
        second = register.insert_row(Case, {"case_no": "T-2", "channel": "email", "status": "open",
                                            "received_at": NOW, "created_at": NOW, "updated_at": NOW,
                                            "source": "test", "repeat_of": first})
        register.update_case(second, grade="high")  # not written yet: goes in with the row
        register.flush()
    with db.read() as session:
        cases = {c.id: c for c in session.exec(select(Case))}
        assert set(cases) == {first, second} and cases[second].repeat_of == first and cases[second].grade == "high"
        assert session.exec(select(Message.case_id).where(Message.id == message)).one() == first


def test_an_insert_from_elsewhere_in_the_transaction_neither_collides_nor_breaks_a_foreign_key(db_url: str) -> None:
    """Given buffered rows with handed-out ids, when other code inserts into the same tables on the session
    (a casework action queueing mail without the register), then the buffered rows go in first, and the ids
    handed out afterwards do not collide with the row that code inserted."""
    db = _database(db_url)
    with db.write() as session:
        register = Register(session, buffered=True)
        case_id = _case(register, 1)
        own = register.insert_row(Message, _message(case_id, "own-1"))
        # not through the register: this case is only in its buffer so far
        session.execute(insert(Message.__table__), _message(case_id, "elsewhere"))  # type: ignore[attr-defined]
        session.execute(insert(OutboxMessage.__table__), {  # type: ignore[attr-defined]
            "idempotency_key": "k-elsewhere", "kind": "reply", "case_id": case_id, "status": "queued",
            "attempts": 0, "next_attempt_at": NOW, "message_id": "m@x", "from_addr": "a@x", "to_addr": "b@x",
            "raw_sha256": "0" * 64, "size": 1, "created_at": NOW})
        later = register.insert_row(Message, _message(case_id, "own-2"))
        outbox = register.insert_row(OutboxMessage, {
            "idempotency_key": "k-own", "kind": "ack", "case_id": case_id, "status": "queued", "attempts": 0,
            "next_attempt_at": NOW, "message_id": "n@x", "from_addr": "a@x", "to_addr": "b@x",
            "raw_sha256": "1" * 64, "size": 1, "created_at": NOW})
        register.flush()
    with db.read() as session:
        keys = dict(session.exec(select(Message.dedupe_key, Message.id)).all())
        assert set(keys) == {"own-1", "elsewhere", "own-2"} and len(set(keys.values())) == 3
        assert keys["own-1"] == own and keys["own-2"] == later
        assert session.exec(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == "k-own")).one() == outbox


def test_a_rolled_back_batch_hands_out_no_id_twice(db_url: str) -> None:
    """Given a batch that failed and was rolled back, when the next transaction hands out ids, then they
    start from what is in the table, and rows go in."""
    db = _database(db_url)
    with pytest.raises(IntegrityError), db.write() as session:
        register = Register(session, buffered=True)
        _case(register, 1)
        _case(register, 1)  # the same case number twice: the batch fails at its flush
        register.flush()
    with db.write() as session:
        register = Register(session, buffered=True)
        ids = [_case(register, n) for n in (1, 2)]
        register.flush()
    with db.read() as session:
        assert sorted(session.exec(select(Case.id))) == sorted(ids)


def test_case_numbers_counted_in_memory_reach_the_counter_row(sqlite_url: str) -> None:
    """Given SQLite, where a batch counts its case numbers in memory, when two batches open cases, then the
    numbers run on without a gap or a repeat and the counter row holds the last one."""
    db = _database(sqlite_url)
    numbers = []
    for _ in range(2):
        with db.write() as session:
            register = Register(session, buffered=True)
            numbers += [register.case_number("A-{seq}", NOW) for _ in range(3)]
            register.flush()
    assert numbers == [f"A-{n}" for n in range(1, 7)]
    with db.read() as session:
        assert session.exec(select(CaseCounter.last)).one() == 6


def test_batch_writes_store_exactly_what_an_insert_through_sqlalchemy_stores(db_url: str) -> None:
    """Given the same case, message (JSON lists and dicts, non-ASCII, a datetime in another zone, None) and
    event written once by a buffered flush (the driver's executemany) and once row by row through SQLAlchemy,
    when the stored values are read back raw, then they are the same, column by column."""
    from datetime import timedelta, timezone

    from sqlalchemy import text


    shanghai = datetime(2026, 11, 23, 17, 30, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    case = {"channel": "email", "status": "open", "received_at": shanghai, "created_at": NOW, "updated_at": NOW,
            "source": "test", "subject": "投诉：快递延误", "demands": "退款；道歉", "flags": [], "complainant_phones": ["+8613800138000"],
            "fields": {"mailbox": "收件箱", "n": 1}, "ack_due": None,
            "routed_at": datetime(2026, 11, 23, 9, 0)}  # naive (taken as UTC), no microseconds
    message = {"direction": "in", "source": "test", "size": 1, "created_at": NOW, "date": shanghai,
               "references": ["<a@b>"], "to_addrs": ["x@例子.cn"], "headers": {"subject": "投诉"}}
    event_detail = {"department": "物流部", "when": "2026-11-23", "hits": [1, 2]}
    db = _database(db_url)
    with db.write() as session:
        buffered = Register(session, buffered=True)
        case_id = buffered.insert_row(Case, {**case, "case_no": "T-1"})
        buffered.insert_row(Message, {**message, "case_id": case_id, "dedupe_key": "k1"})
        buffered.log_event(case_id, "case.opened", shanghai, detail_key="x", **event_detail)
        buffered.flush()
        direct = Register(session)
        other_id = direct.insert_row(Case, {**case, "case_no": "T-2"})
        direct.insert_row(Message, {**message, "case_id": other_id, "dedupe_key": "k2"})
        direct.log_event(other_id, "case.opened", shanghai, detail_key="x", **event_detail)
    with db.read() as session:
        for table, skip in (("cases", {"id", "case_no"}), ("messages", {"id", "case_id", "dedupe_key"}),
                            ("case_events", {"id", "case_id"})):
            rows = [dict(r._mapping) for r in session.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
            assert len(rows) == 2, table
            first, second = ({k: v for k, v in row.items() if k not in skip} for row in rows)
            assert first == second, table


def test_a_sqlite_commit_is_synced_to_disk(sqlite_url: str) -> None:
    """Given the SQLite register, then its connections commit with synchronous=FULL: a source moves or deletes
    the input right after the commit, so the commit must survive a power cut, not only a crash."""
    from sqlalchemy import text

    db = _database(sqlite_url)
    with db.read() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL


def test_a_complainants_earlier_cases_are_newest_received_first_whatever_their_ids(db_url: str) -> None:
    """Given a complainant's three cases whose ids do not follow the order they were received in (as with
    several workers on PostgreSQL, each drawing ids for its own batches), and a fourth opened in this
    transaction, when their earlier cases are looked up, one by one or prefetched for the batch, then both
    give them newest received first: the one just opened, then by the time each came in."""
    db = _database(db_url)
    received = {10: datetime(2026, 11, 20, 9, tzinfo=UTC), 20: datetime(2026, 11, 22, 9, tzinfo=UTC),
                30: datetime(2026, 11, 21, 9, tzinfo=UTC)}
    with db.write() as session:
        session.execute(insert(Case.__table__), [  # type: ignore[attr-defined]
            {"id": i, "case_no": f"T-{i}", "channel": "email", "status": "open", "received_at": at,
             "created_at": at, "updated_at": at, "source": "test", "complainant_email": "wang@example.com"}
            for i, at in received.items()])
    since = datetime(2026, 11, 1, tzinfo=UTC)
    with db.write() as session:
        one_by_one = [row[1] for row in Register(session).earlier_cases("wang@example.com", None, since)]
        register = Register(session, buffered=True)
        register.prefetch_earlier_cases([("wang@example.com", None)], since)
        register.add_case(5, {"case_no": "T-5", "received_at": NOW, "complainant_email": "wang@example.com"})
        prefetched = [row[1] for row in register.earlier_cases("wang@example.com", None, since)]
    assert one_by_one == ["T-20", "T-30", "T-10"]
    assert prefetched == ["T-5", "T-20", "T-30", "T-10"]
