"""Case numbers: a configurable pattern, per-scope sequences, never the same number twice."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from ingestd.store import case_numbers
from ingestd.store.db import Database


def test_pattern_renders_and_scopes_by_month() -> None:
    """Given the default pattern, when rendered, then the sequence is zero-padded and scoped per month."""
    when = datetime(2026, 3, 5)
    assert case_numbers.render("TS-{yyyy}{mm}-{seq:05d}", when, 7) == "TS-202603-00007"
    assert case_numbers.scope_of("TS-{yyyy}{mm}-{seq:05d}", when) == "TS-202603-#"
    assert case_numbers.scope_of("C{yy}-{seq}", when) == "C26-#"


@pytest.mark.parametrize("bad", ["TS-{yyyy}", "TS-{seq}-{seq}", "TS-{year}-{seq}", "TS-{seq:zz}"])
def test_bad_patterns_are_rejected(bad: str) -> None:
    """Given a pattern without exactly one seq or with unknown fields, when validated, then it is refused."""
    with pytest.raises((case_numbers.PatternError, ValueError)):
        case_numbers.validate_pattern(bad)


def test_matcher_finds_case_numbers_in_subjects() -> None:
    """Given a reply subject, when searched, then the case number is found and lookalikes are not."""
    rx = case_numbers.matcher("TS-{yyyy}{mm}-{seq:05d}")
    assert rx.findall("Re: 您的投诉已受理 [TS-202611-00012]") == ["TS-202611-00012"]
    assert rx.findall("XTS-202611-00012 TS-2026-1") == []


def test_sequences_are_unique_under_concurrent_writers(db_url: str) -> None:
    """Given 4 threads allocating 25 numbers each in their own transactions, when they race, then all
    100 numbers are distinct and contiguous."""
    db = Database(db_url)
    db.migrate()
    got: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            with db.write() as session:
                number = case_numbers.allocate(session, "TS-{yyyy}{mm}-{seq:05d}", datetime(2026, 11, 1))
            with lock:
                got.append(number)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.dispose()
    assert len(set(got)) == 100
    assert sorted(got) == [f"TS-202611-{i:05d}" for i in range(1, 101)]


def test_rolled_back_allocation_is_not_lost_or_reused(db_url: str) -> None:
    """Given a transaction that allocates then fails, when the next one allocates, then numbering
    continues without a repeat."""
    db = Database(db_url)
    db.migrate()
    with pytest.raises(RuntimeError), db.write() as session:
        case_numbers.allocate(session, "A-{seq}", datetime(2026, 1, 1))
        raise RuntimeError("boom")
    with db.write() as session:
        first = case_numbers.allocate(session, "A-{seq}", datetime(2026, 1, 1))
    with db.write() as session:
        second = case_numbers.allocate(session, "A-{seq}", datetime(2026, 1, 1))
    db.dispose()
    assert (first, second) == ("A-1", "A-2")


@pytest.fixture
def pg_url(pg_server: object) -> Iterator[str]:
    """A fresh, empty register on PostgreSQL only."""
    name = "t_" + uuid.uuid4().hex[:12]
    yield pg_server.create_database(name)  # type: ignore[attr-defined]
    pg_server.drop_database(name)  # type: ignore[attr-defined]


def test_on_postgresql_an_open_intake_transaction_does_not_hold_up_the_next_number(pg_url: str) -> None:
    """Given PostgreSQL and an intake transaction that has taken a case number and stays open, when another
    transaction takes one (with a 2 s lock timeout), then it gets the next number at once instead of waiting
    for the first to commit; a number given back by a failed input is the next one handed out."""
    from sqlalchemy import text

    from ingestd.store.register import Register

    db = Database(pg_url)
    db.migrate()
    pattern, when = "TS-{yyyy}{mm}-{seq:05d}", datetime(2026, 11, 1)
    with db.write() as first:
        held = Register(first, buffered=True).case_number(pattern, when)
        with db.write() as second:
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            other = Register(second, buffered=True)
            with pytest.raises(RuntimeError), other.scope():
                failed = other.case_number(pattern, when)
                raise RuntimeError("this input fails")
            again = other.case_number(pattern, when)
    assert (held, failed, again) == ("TS-202611-00001", "TS-202611-00002", "TS-202611-00002")
