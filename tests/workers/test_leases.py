"""Source leases: acquire, renew, expiry, takeover, fair shares, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingestd.config import ConfigError, load
from ingestd.config.workers import WorkersConfig
from ingestd.store import leases
from ingestd.store.db import Database
from ingestd.workers import LeaseKeeper

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SOURCES = ["folder:drop", "imap:a/INBOX", "imap:b/INBOX", "imap:c/INBOX"]


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


def take(db: Database, source: str, holder: str, at: datetime, ttl: float = 30, **kw: object) -> bool:
    with db.write() as session:
        return leases.acquire(session, source, holder, ttl=ttl, now=at, **kw)  # type: ignore[arg-type]


class Clock:
    """A settable `now` for keepers (leases read the real clock otherwise)."""

    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


def keeper(db: Database, clock: Callable[[], datetime], *, ttl: float = 30, lock_dir: Path | None = None,
           sources: list[str] = SOURCES, name: str | None = None) -> LeaseKeeper:
    return LeaseKeeper(db, WorkersConfig(lease_seconds=ttl), sources, now=clock, lock_dir=lock_dir, worker_id=name)


def test_a_lease_has_one_holder_until_it_expires(db: Database) -> None:
    """Given A holding a lease, then B cannot take it while it runs, A can renew it, and once it has run out
    B takes it over and A's renewal then fails."""
    assert take(db, "imap:a/INBOX", "A", T0)
    assert not take(db, "imap:a/INBOX", "B", T0 + timedelta(seconds=10))
    assert take(db, "imap:a/INBOX", "A", T0 + timedelta(seconds=20))  # renewed: good until T0 + 50 s
    assert not take(db, "imap:a/INBOX", "B", T0 + timedelta(seconds=45))
    assert take(db, "imap:a/INBOX", "B", T0 + timedelta(seconds=51))  # A stopped renewing: B takes over
    assert not take(db, "imap:a/INBOX", "A", T0 + timedelta(seconds=52))
    assert leases.holder_of(db, "imap:a/INBOX", T0 + timedelta(seconds=52)) == "B"


def test_release_frees_at_once_and_only_for_the_holder(db: Database) -> None:
    """Given A holding two leases, when B tries to release one, nothing changes; when A releases, B takes it now."""
    assert take(db, "folder:drop", "A", T0) and take(db, leases.PRESENCE + "A", "A", T0)
    with db.write() as session:
        assert leases.release(session, ["folder:drop"], "B") == 0
    assert not take(db, "folder:drop", "B", T0)
    assert leases.release_all(db, "A") == 2
    assert take(db, "folder:drop", "B", T0)


def test_a_dead_holder_can_be_stolen_from_before_expiry(db: Database) -> None:
    """Given a lease whose holder is known dead, when taken with steal_from, then it is taken before its TTL."""
    assert take(db, "scan:letters", "A", T0)
    assert not take(db, "scan:letters", "B", T0 + timedelta(seconds=1))
    assert take(db, "scan:letters", "B", T0 + timedelta(seconds=1), steal_from=["A"])


def test_racing_workers_get_one_lease(db: Database) -> None:
    """Given eight threads racing for the same free lease (and then for the same expired one), exactly one wins
    each time: the conditional UPDATE and INSERT ... ON CONFLICT DO NOTHING are atomic in the database."""
    def race(name: str, at: datetime, barrier: threading.Barrier, won: list[str]) -> None:
        barrier.wait()
        if take(db, "imap:hot/INBOX", name, at):
            won.append(name)

    for at in (T0, T0 + timedelta(minutes=5)):  # first free, then expired
        barrier = threading.Barrier(8)
        won: list[str] = []
        threads = [threading.Thread(target=race, args=(f"w{i}", at, barrier, won)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(won) == 1, won


def test_keepers_share_the_sources_fairly_and_take_over_a_silent_one(db: Database) -> None:
    """Given two keepers over four sources, then each holds two, none twice; given a third, the shares become at
    most two and every source has one holder; when one stops renewing, the others take its sources once its
    leases have run out, and it no longer counts them as its own."""
    clock = Clock()
    a, b = keeper(db, clock, name="A"), keeper(db, clock, name="B")
    a.tick()
    assert a.held() == SOURCES  # alone: everything
    b.tick()  # B joins: its share is two, but A holds everything yet
    a.tick()  # A gives back two (none is busy)
    b.tick()
    assert len(a.held()) == 2 and len(b.held()) == 2 and not set(a.held()) & set(b.held())

    c = keeper(db, clock, name="C")
    for k in (c, a, b, c):
        k.tick()
    held = [a.held(), b.held(), c.held()]
    assert sorted(s for h in held for s in h) == SOURCES and max(map(len, held)) <= 2

    clock.at = T0 + timedelta(seconds=31)  # A is silent (hung, or its host is gone): its leases run out
    for k in (b, c):
        k.tick()
    for k in (b, c):  # A's presence has lapsed too: the shares grow
        k.tick()
    assert sorted(b.held() + c.held()) == SOURCES
    a.tick()  # A comes back: what it held is gone, and it says so
    assert not set(a.held()) & set(b.held() + c.held())


def test_a_busy_source_is_given_back_only_after_its_pass(db: Database) -> None:
    """Given A over its share while a pass on one source runs, then that source stops counting as A's at once
    (the pass stops between batches) but its lease is released only when the pass has ended."""
    clock = Clock()
    a, b = keeper(db, clock, name="A", sources=SOURCES[:2]), keeper(db, clock, name="B", sources=SOURCES[:2])
    a.tick()
    with a.working(SOURCES[0]), a.working(SOURCES[1]):
        b.tick()
        a.tick()  # one to give back, both busy: marked, not released
        assert len(a.held()) == 1
        b.tick()
        assert b.held() == []
    a.tick()  # the passes ended: released now
    b.tick()
    assert len(a.held()) == 1 and len(b.held()) == 1 and a.held() != b.held()


def test_a_dead_worker_on_this_host_is_taken_over_at_once(db: Database, tmp_path: Path) -> None:
    """Given A and B sharing a lock directory, when A's process is gone (its lock file no longer locked), then B
    takes A's sources at its next round, well before A's leases run out; a live A is never taken from."""
    clock = Clock()
    a = keeper(db, clock, name="host:1:aa", lock_dir=tmp_path)
    b = keeper(db, clock, name="host:2:bb", lock_dir=tmp_path)
    a._take_lock_file()
    b._take_lock_file()
    try:
        a.tick()
        b.tick()
        a.tick()
        b.tick()
        assert len(b.held()) == 2  # A alive: a fair share, nothing stolen
        assert a._lock_file is not None
        a._lock_file.close()  # what SIGKILL does to A's lock
        clock.at = T0 + timedelta(seconds=1)
        b.tick()
        assert b.held() == SOURCES
    finally:
        b._drop_lock_file()


def test_a_lease_counts_as_held_only_while_it_is_fresh(db: Database) -> None:
    """Given a keeper that cannot renew (cut off from the register), then after 80% of the TTL it stops counting
    its sources as its own, before another worker could take them."""
    k = LeaseKeeper(db, WorkersConfig(lease_seconds=1), SOURCES[:1])
    k.tick()
    assert k.holds(SOURCES[0])
    time.sleep(0.85)
    assert not k.holds(SOURCES[0])


def test_one_worker_claims_a_job(db: Database) -> None:
    """Given two workers whose schedulers both fire the monthly report, then only the first claim wins, and it
    outlives a clean shutdown of its worker."""
    a, b = keeper(db, Clock(), name="A"), keeper(db, Clock(), name="B")
    assert a.claim_job("report:monthly", 3600)
    assert not b.claim_job("report:monthly", 3600)
    a.stop()
    assert not b.claim_job("report:monthly", 3600)


def test_renewal_must_fit_well_inside_the_lease(tmp_path: Path) -> None:
    """Given renew_seconds over half of lease_seconds, when the config is loaded, then it is refused at its line."""
    path = tmp_path / "ingestd.toml"
    path.write_text("[workers]\nlease_seconds = 10\nrenew_seconds = 8\n")
    with pytest.raises(ConfigError) as err:
        load(path)
    (problem,) = err.value.problems
    assert str(problem).startswith(f"{path}:") and "renew_seconds" in str(problem)
    assert WorkersConfig(lease_seconds=30).renew_interval == 10


def test_health_lists_the_workers_and_what_they_hold(make_app: Callable[..., object], sqlite_url: str,
                                                     tmp_path: Path) -> None:
    """Given a worker holding a drop folder, then `ingestd health` shows one worker running, by id, with that
    folder; once it has stopped, none."""
    from ingestd.daemon import start_keeper, stop_keeper
    from ingestd.ops.health import collect

    app = make_app(sqlite_url, sources={"folders": [{"name": "drop", "path": str(tmp_path / "drop")}]})
    k = start_keeper(app)  # type: ignore[arg-type]
    try:
        (check,) = [c for c in collect(app).checks if c.name == "workers"]
        assert check.detail == f"1 running ({k.worker_id}: folder:drop)"
        assert collect(app).metrics["ingestd_workers"][0] == 1
    finally:
        stop_keeper(app, k)  # type: ignore[arg-type]
    (check,) = [c for c in collect(app).checks if c.name == "workers"]
    assert check.detail == "0 running"
