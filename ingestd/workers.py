"""Several `ingestd run` workers on one register: who takes from which source (issue 9, item 5).

Every worker runs a `LeaseKeeper`. Each round (every `[workers] renew_seconds`, a third of the lease by default)
it, in one transaction:

1. renews its presence row (`worker:{id}`), and counts the live workers;
2. renews the leases it holds (a lease another worker took after it lapsed is dropped here);
3. takes its fair share, ceil(sources / live workers): free or expired sources up to the share, or, when a new
   worker has joined, gives back what is over the share so the newcomer finds something free.

A source is taken from only while its lease is held (`holds`): a pass checks before it starts and between
batches, so a worker that loses a lease stops within a batch. The keeper counts a lease as held only until a
little before it runs out in the register (80% of the TTL after the renewal began), so a worker cut off from the
database stops before another can take over. A source being given back is released only once no pass on it is
running (`working`).

A worker that dies stops renewing; its leases run out after `lease_seconds` and the others take its sources. On
one host that is quicker: each worker holds an flock on `{data_dir}/workers/{id}.lock` while it lives, so a lease
whose holder's lock file can be locked by someone else belongs to a dead process and is taken at once (a worker
restarted after SIGKILL does not wait for its previous life). The lock is only ever evidence of death, and only
for workers of this host (by the host name in the worker id): a missing file, or a worker on another host, just
means waiting for the TTL.

Intake itself needs no lease to be safe: every input has a unique dedupe key and case numbers come from a counter
row, so even two workers on one folder would open one case per message. Leases keep them from doing the work twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import secrets
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from loguru import logger

from ingestd.config.workers import WorkersConfig
from ingestd.store import leases
from ingestd.store.db import Database

HELD_SHARE = 0.8  # a lease counts as ours until this share of its TTL has passed since its renewal began
JOB = leases.JOB


def make_worker_id() -> str:
    """hostname:pid:random: unique per process, readable in `ingestd health` and in the logs."""
    host = socket.gethostname().split(".", 1)[0] or "host"
    return f"{host}:{os.getpid()}:{secrets.token_hex(3)}"


def utcnow() -> datetime:
    """Leases run on the real clock, never on an App's (possibly fake) clock: they are about seconds between
    processes, not about a case's calendar."""
    return datetime.now(UTC)


class LeaseKeeper:
    """This worker's leases: held, renewed, balanced, given back. Thread-safe."""

    def __init__(self, db: Database, config: WorkersConfig, sources: list[str], *, lock_dir: Path | None = None,
                 worker_id: str | None = None, now: Callable[[], datetime] = utcnow,
                 on_acquired: Callable[[str], None] | None = None) -> None:
        self.db = db
        self.worker_id = worker_id or make_worker_id()
        self.ttl = config.lease_seconds
        self.renew_seconds = config.renew_interval
        self.sources = sorted(set(sources))
        self.lock_dir = lock_dir
        self.now = now
        self.on_acquired = on_acquired
        self.log = logger.bind(source="workers")
        self._held: dict[str, float] = {}  # source id → monotonic time until which we count it as ours
        self._shedding: set[str] = set()  # over our share: no new passes; released once not busy
        self._busy: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_file: IO[bytes] | None = None

    # -- what passes ask -----------------------------------------------------------------------------
    def holds(self, source_id: str) -> bool:
        with self._lock:
            until = self._held.get(source_id)
            return until is not None and source_id not in self._shedding and time.monotonic() < until

    @contextlib.contextmanager
    def working(self, source_id: str) -> Iterator[None]:
        """Mark a pass on `source_id` as running: the lease is not given back under it."""
        with self._lock:
            self._busy[source_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy[source_id] -= 1

    def gate(self, source_id: str) -> SourceGate:
        return SourceGate(self, source_id)

    def held(self) -> list[str]:
        return [s for s in self.sources if self.holds(s)]

    # -- life ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Take the lock file, make the first round now (so the first polls know what is theirs), then renew in a
        thread until `stop`."""
        self._take_lock_file()
        self.log.info("worker {}: {} source(s), leases of {:g} s renewed every {:g} s", self.worker_id,
                      len(self.sources), self.ttl, self.renew_seconds)
        self.tick()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="leases", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing and give every lease back (a clean shutdown: the others take over at once)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(30.0, self.ttl))
            self._thread = None
        with self._lock:
            self._held.clear()
            self._shedding.clear()
        try:
            released = leases.release_all(self.db, self.worker_id)
            self.log.info("worker {}: released {} lease(s)", self.worker_id, released)
        except Exception as exc:  # the register is down: the leases run out by themselves
            self.log.warning("worker {}: could not release leases ({}: {}); they expire in {:g} s", self.worker_id,
                             type(exc).__name__, exc, self.ttl)
        self._drop_lock_file()

    def _run(self) -> None:
        while not self._stop.wait(self.renew_seconds):
            self.tick()

    # -- one round ----------------------------------------------------------------------------------
    def tick(self) -> list[str]:
        """Renew, balance, acquire; returns the sources newly taken. Never raises (logs, and tries next round)."""
        try:
            gained = self._round()
        except Exception as exc:
            self.log.error("worker {}: lease renewal failed ({}: {}); sources pause if it keeps failing",
                           self.worker_id, type(exc).__name__, exc)
            return []
        for source_id in gained:
            if self.on_acquired is not None:
                try:
                    self.on_acquired(source_id)
                except Exception as exc:
                    self.log.warning("on_acquired({}): {}: {}", source_id, type(exc).__name__, exc)
        return gained

    def _round(self) -> list[str]:
        me = self.worker_id
        kept: list[str] = []
        gained: list[str] = []
        lost: list[str] = []
        released: list[str] = []
        with self.db.write() as session:
            session.connection()  # begin now (on SQLite: wait for the write lock) before reading the time
            started, now = time.monotonic(), self.now()
            leases.acquire(session, leases.PRESENCE + me, me, ttl=self.ttl, now=now)
            rows = leases.current(session, now)
            holders = {r.source_id: r.holder for r in rows}
            dead = self._dead_holders({r.holder for r in rows if r.holder != me and not r.source_id.startswith(JOB)})
            workers = [w for w in leases.live_workers(rows) if w not in dead]
            share = math.ceil(len(self.sources) / max(1, len(workers)))
            with self._lock:
                ours = sorted({s for s in self.sources if s in self._held or holders.get(s) == me})
            for source_id in ours:  # renew; one taken over by another worker after it lapsed is lost
                (kept if leases.acquire(session, source_id, me, ttl=self.ttl, now=now) else lost).append(source_id)
            over = len(kept) - share
            with self._lock:
                if over > 0:  # a worker joined: give back what is over our share, idle ones first
                    chosen = sorted(kept, key=lambda s: (self._busy[s] > 0, s not in self._shedding))[:over]
                    self._shedding = set(chosen)  # no pass starts on these from now on...
                    released = [s for s in chosen if self._busy[s] == 0]  # ...and none is running on these
                else:
                    self._shedding = set()
            leases.release(session, released, me)
            kept = [s for s in kept if s not in released]
            if len(kept) < share:
                free = [s for s in self.sources if s not in kept and (holders.get(s) is None or holders[s] in dead)]
                free.sort(key=lambda s: zlib.crc32(f"{me}/{s}".encode()))  # workers try different sources first
                for source_id in free:
                    if len(kept) >= share:
                        break
                    if leases.acquire(session, source_id, me, ttl=self.ttl, now=now, steal_from=dead):
                        kept.append(source_id)
                        gained.append(source_id)
        until = started + self.ttl * HELD_SHARE
        with self._lock:
            for source_id in lost + released:
                self._held.pop(source_id, None)
            for source_id in kept:
                self._held[source_id] = until
            self._shedding &= set(kept)
        for source_id in lost:
            self.log.warning("worker {}: lost the lease on {} (it lapsed and another worker took it)", me, source_id)
        for source_id in released:
            self.log.info("worker {}: gave {} back ({} worker(s), {} source(s) each)", me, source_id, len(workers),
                          share)
        for source_id in gained:
            previous = holders.get(source_id)
            self.log.info("worker {}: took {}{}", me, source_id, f" over from {previous}" if previous else "")
        return gained

    # -- jobs that one worker runs for all ------------------------------------------------------------
    def claim_job(self, name: str, ttl: float) -> bool:
        """True for the one worker that claims `name` first while its claim (of `ttl` seconds) runs: for cron
        jobs every worker has (the monthly report), so that only one of them does it."""
        try:
            with self.db.write() as session:
                return leases.acquire(session, JOB + name, self.worker_id, ttl=ttl, now=self.now())
        except Exception as exc:
            self.log.error("job {}: could not claim it ({}: {})", name, type(exc).__name__, exc)
            return False

    # -- dead holders on this host ------------------------------------------------------------------
    def _take_lock_file(self) -> None:
        if self.lock_dir is None:
            return
        try:
            self.lock_dir.mkdir(parents=True, exist_ok=True)
            handle = open(self.lock_dir / _lock_name(self.worker_id), "wb")  # noqa: SIM115  (held while we live)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._lock_file = handle
        except OSError as exc:  # only a speed-up of takeovers: without it, others wait for our leases' TTL
            self.log.debug("no worker lock file in {}: {}", self.lock_dir, exc)

    def _drop_lock_file(self) -> None:
        handle, self._lock_file = self._lock_file, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        handle.close()

    def _dead_holders(self, holders: set[str]) -> set[str]:
        """Holders on this host whose lock file exists and can be locked: their process is gone. Only this
        host's: on a shared file system another host's flock may not be seen here (NFS without lock manager)."""
        if self.lock_dir is None:
            return set()
        here = self.worker_id.split(":", 1)[0] + ":"
        dead = {h for h in holders if h.startswith(here) and _unlocked(self.lock_dir / _lock_name(h))}
        named = {_lock_name(h) for h in holders}
        with contextlib.suppress(OSError):  # the files of dead workers that hold nothing any more
            for path in self.lock_dir.glob(_lock_name(here).removesuffix(".lock") + "*.lock"):
                if path.name not in named and path.name != _lock_name(self.worker_id) and _unlocked(path):
                    with contextlib.suppress(OSError):
                        path.unlink()
        return dead


def _unlocked(path: Path) -> bool:
    """The lock file exists and nobody holds its lock: the worker that made it is gone. A missing file (another
    host, or no lock dir) or a held lock: alive, as far as we know."""
    try:
        with open(path, "rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True  # closing the file drops our lock again
    except OSError:
        return False


def _lock_name(worker_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in worker_id) + ".lock"


class SourceGate:
    """What a source's passes ask of the keeper: may I take from it now, and mark me busy while I do."""

    def __init__(self, keeper: LeaseKeeper, source_id: str) -> None:
        self.keeper = keeper
        self.source_id = source_id

    def held(self) -> bool:
        return self.keeper.holds(self.source_id)

    def working(self) -> contextlib.AbstractContextManager[None]:
        return self.keeper.working(self.source_id)
