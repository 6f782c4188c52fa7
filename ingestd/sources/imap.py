"""IMAP mailboxes: each watched folder is synced by UID, and a message is settled on the server (flagged
`\\Seen`, moved, or deleted) only after its case, or its quarantine entry, is committed.

Restart safety: a crash between commit and settle leaves the message where it was; the next pass
fetches it again and intake recognises the bytes (status "duplicate"), so it is settled then, still one
case. Messages are read with `BODY.PEEK[]`, which changes no flags.

Which messages a pass takes: with `after = "move"` or `"delete"` the folder holds only messages not yet
taken, so every message not flagged `\\Deleted`; with `after = "seen"`, every UNSEEN message plus every
UID above the last settled one. UIDVALIDITY is kept per folder (`source_state`); when it changes, the
folder is taken again from the start, and intake's idempotency keeps that from opening any case twice.

A pass fetches in UID batches (`batch_size`, and at most `MAX_CHUNK_BYTES` per fetch) and hands them to
`Intake.take_many` as a stream, so memory stays bounded however large the folder; after taking what it
found it looks again, so nothing that arrives meanwhile waits for the next pass.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from loguru import logger

from ingestd.config.mailbox import Mailbox
from ingestd.pipeline.items import RawInput
from ingestd.sources import imap_state
from ingestd.sources.imap_conn import (
    DELETED,
    SEEN,
    Backoff,
    FolderMissing,
    ImapFault,
    capabilities,
    close,
    connect,
    describe,
)
from ingestd.sources.imap_state import FolderState
from ingestd.store.db import Database

if TYPE_CHECKING:
    from ingestd.pipeline.runner import Intake

MAX_CHUNK_BYTES = 32 * 1024 * 1024  # one UID FETCH brings at most this much (a single bigger message alone)
SIZE_PROBE = 1000  # UIDs per RFC822.SIZE fetch
MAX_ROUNDS = 20  # look again for late arrivals at most this often in one pass
PROGRESS_LOG_SECONDS = 10.0


class Progress(Protocol):
    def add_total(self, n: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class Lease(Protocol):
    """Whether this worker may take from the folder now (ingestd.workers.SourceGate, when several workers share
    the register); `working` marks a pass as running so the lease is not given away under it."""

    def held(self) -> bool: ...

    def working(self) -> contextlib.AbstractContextManager[None]: ...


def uid_set(uids: Iterable[int]) -> str:
    """`[1, 2, 3, 7, 9, 10]` → `"1:3,7,9:10"` (only runs of consecutive UIDs are joined)."""
    parts: list[str] = []
    run: list[int] = []
    for uid in sorted(uids):
        if run and uid == run[-1] + 1:
            run.append(uid)
            continue
        if run:
            parts.append(f"{run[0]}:{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [uid]
    if run:
        parts.append(f"{run[0]}:{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(parts)


def _batched(items: list[int], n: int) -> Iterator[list[int]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


@dataclass
class FolderReport:
    folder: str
    exists: bool
    messages: int = 0
    unseen: int = 0
    uidvalidity: int | None = None
    would_take: int = 0
    note: str = ""


@dataclass
class MailboxReport:
    name: str
    capabilities: set[str] = field(default_factory=set)
    folders: list[FolderReport] = field(default_factory=list)
    fault: ImapFault | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None and all(f.exists for f in self.folders)


class FolderSync:
    """One watched folder of one mailbox: takes its new messages, settles them, remembers how far it got.

    Passes on the same folder never overlap (`lock`); the scheduled poll and the IDLE watcher share one
    backoff, so a fault is logged once and retried on one schedule."""

    def __init__(self, config: Mailbox, folder: str, db: Database) -> None:
        self.config = config
        self.folder = folder
        self.db = db
        self.source_id = config.source_id(folder)
        self.log = logger.bind(source=self.source_id)
        self.lock = threading.Lock()
        self.backoff = Backoff(login_wait=config.login_backoff_seconds)
        self.last_fault: ImapFault | None = None
        self._client: IMAPClient | None = None
        self._caps: set[str] = set()
        self._dest_ready = False
        self.lease: Lease | None = None  # set by the daemon: take only while this worker holds the folder

    def may_take(self) -> bool:
        return self.lease is None or self.lease.held()

    def _halted(self, stop: threading.Event | None) -> bool:
        """Stop between batches: the daemon is stopping, or another worker now holds the folder."""
        return (stop is not None and stop.is_set()) or not self.may_take()

    # -- passes ------------------------------------------------------------------------------------
    def take_pass(self, intake: Intake, *, progress: Progress | None = None, stop: threading.Event | None = None,
                  respect_backoff: bool = True, blocking: bool = True) -> Counter[str]:
        """Take what is waiting in the folder. Faults are logged (one line) and set the backoff; never raises
        for IMAP trouble. `respect_backoff`: skip quietly while a backoff runs (the daemon's polls)."""
        if respect_backoff and not self.backoff.ready():
            return Counter()
        if not self.may_take():
            return Counter()
        if not self.lock.acquire(blocking=blocking):
            return Counter()
        counts: Counter[str] = Counter()
        try:
            try:
                client = self._connection()
                with self.lease.working() if self.lease is not None else contextlib.nullcontext():
                    self._sync(client, intake, counts, progress, stop)
            except Exception as exc:
                self._drop()
                self.fail(exc)
            except BaseException:  # interrupted mid-command: the connection's state is unknown
                self._drop()
                raise
            else:
                self.backoff.success()
                self.last_fault = None
        finally:
            self.lock.release()
        if counts:
            self.log.info("pass: {}", dict(counts))
        return counts

    def scheduled_pass(self, intake: Intake, stop: threading.Event | None = None) -> None:
        """The daemon's interval job: skips while a backoff runs or while another pass is busy."""
        try:
            self.take_pass(intake, stop=stop, respect_backoff=True, blocking=False)
        except Exception as exc:  # not an IMAP fault (the register, a bug): one line, and the next turn retries
            self.log.error("pass failed, will retry: {}: {}", type(exc).__name__, exc)

    def first_poll_at(self, now: datetime) -> datetime:
        """With IDLE the watcher makes the first pass itself; polling starts one interval later."""
        return now + timedelta(seconds=self.config.poll_seconds) if self.config.idle else now

    def fail(self, exc: BaseException, what: str = "") -> float:
        fault = describe(exc, self.config)
        delay = self.backoff.failure(fault)
        self.last_fault = fault
        self.log.error("{}{}; next try in {:.0f} s", what, fault.message, delay)
        if fault.kind == "server" and not isinstance(exc, IMAPClientError):
            self.log.opt(exception=exc).debug("traceback")
        return delay

    def close(self) -> None:
        with self.lock:
            self._drop()

    # -- the sync ----------------------------------------------------------------------------------
    def _connection(self) -> IMAPClient:
        if self._client is not None:
            try:
                self._client.noop()
                return self._client
            except Exception:
                self._drop()
        self._client = connect(self.config)
        self._caps = capabilities(self._client)
        self._dest_ready = False
        return self._client

    def _drop(self) -> None:
        client, self._client = self._client, None
        close(client)

    def _select(self, client: IMAPClient, *, readonly: bool) -> int:
        try:
            info = client.select_folder(self.folder, readonly=readonly)
        except IMAPClientError:
            if not client.folder_exists(self.folder):
                raise FolderMissing(self.folder) from None
            raise
        return int(info[b"UIDVALIDITY"])

    def _start_state(self, uidvalidity: int) -> FolderState:
        state = imap_state.load(self.db, self.source_id)
        if state.uidvalidity is not None and state.uidvalidity != uidvalidity:
            self.log.warning("UIDVALIDITY changed ({} → {}): taking the folder again from the start; messages "
                             "already recorded are recognised, not opened twice", state.uidvalidity, uidvalidity)
            state = FolderState(uidvalidity, 0)
            imap_state.save(self.db, self.source_id, state)
        elif state.uidvalidity is None:
            state = FolderState(uidvalidity, 0)
            imap_state.save(self.db, self.source_id, state)
        return state

    def _candidates(self, client: IMAPClient, last_uid: int) -> list[int]:
        if self.config.after == "seen":
            uids = set(client.search(["UNSEEN", "NOT", "DELETED"]))
            uids |= {u for u in client.search(["UID", f"{last_uid + 1}:*", "NOT", "DELETED"]) if u > last_uid}
        else:
            uids = set(client.search(["NOT", "DELETED"]))
        return sorted(uids)

    def _sync(self, client: IMAPClient, intake: Intake, counts: Counter[str], progress: Progress | None,
              stop: threading.Event | None) -> None:
        uidvalidity = self._select(client, readonly=False)
        state = self._start_state(uidvalidity)
        attempted: set[int] = set()
        for _ in range(MAX_ROUNDS):
            if self._halted(stop):
                return
            todo = [u for u in self._candidates(client, state.last_uid) if u not in attempted]
            if not todo:
                return
            if progress is not None:
                progress.add_total(len(todo))
            state = self._take(client, intake, todo, state, counts, _Reporter(self.log, len(todo), progress), stop)
            attempted.update(todo)

    def _take(self, client: IMAPClient, intake: Intake, uids: list[int], state: FolderState, counts: Counter[str],
              reporter: _Reporter, stop: threading.Event | None) -> FolderState:
        fetch_error: list[BaseException] = []
        uidvalidity = state.uidvalidity

        def inputs() -> Iterator[RawInput]:
            try:
                for chunk in self._chunks(client, uids):
                    if self._halted(stop):
                        return
                    got = client.fetch(chunk, [b"BODY.PEEK[]"])  # a UID list: imapclient filters replies by it
                    for uid in chunk:
                        if not self.may_take():  # handed to another worker: the rest stays for it, untouched
                            return
                        body = got.get(uid, {}).get(b"BODY[]")
                        if body is None:
                            continue  # expunged meanwhile (by a person, or another client)
                        yield RawInput(data=bytes(body), source=self.source_id, source_ref=f"{uidvalidity}:{uid}",
                                       mailbox=self.config.name)
                    del got
            except Exception as exc:  # stop fetching; what is in hand is still committed and settled
                fetch_error.append(exc)

        def settle_pending(state: FolderState) -> FolderState:
            try:
                return self._settle(client, pending, state)
            except Exception:
                if fetch_error:  # the connection broke while fetching: say so, not what failed after
                    raise fetch_error[0] from None
                raise

        pending: list[int] = []
        for raw, outcome in intake.take_many(inputs()):
            counts[outcome.status] += 1
            pending.append(int(raw.source_ref.rsplit(":", 1)[1]))
            reporter.advance()
            if len(pending) >= self.config.batch_size:
                state = settle_pending(state)
                pending = []
        state = settle_pending(state)
        if fetch_error:
            raise fetch_error[0]
        return state

    def _chunks(self, client: IMAPClient, uids: list[int]) -> Iterator[list[int]]:
        """UID batches of at most `batch_size` messages and `MAX_CHUNK_BYTES` (by RFC822.SIZE)."""
        limit = self.config.batch_size
        for group in _batched(uids, SIZE_PROBE):
            sizes = client.fetch(group, [b"RFC822.SIZE"])
            chunk: list[int] = []
            held = 0
            for uid in group:
                if uid not in sizes:
                    continue
                size = int(sizes[uid].get(b"RFC822.SIZE", 0))
                if chunk and (len(chunk) >= limit or held + size > MAX_CHUNK_BYTES):
                    yield chunk
                    chunk, held = [], 0
                chunk.append(uid)
                held += size
            if chunk:
                yield chunk

    # -- after commit ------------------------------------------------------------------------------
    def _settle(self, client: IMAPClient, uids: list[int], state: FolderState) -> FolderState:
        """The server-side action for messages whose cases are committed; then remember how far we got."""
        if not uids:
            return state
        settle(client, self.config, uid_set(uids), self._caps, ensure_dest=not self._dest_ready)
        self._dest_ready = True
        state = FolderState(state.uidvalidity, max(state.last_uid, max(uids)))
        imap_state.save(self.db, self.source_id, state)
        return state

    # -- `mailboxes check` -------------------------------------------------------------------------
    def preview(self, client: IMAPClient) -> FolderReport:
        """What a pass would take, read-only (EXAMINE; nothing is fetched or flagged)."""
        if not client.folder_exists(self.folder):
            return FolderReport(self.folder, exists=False, note="folder does not exist")
        info = client.select_folder(self.folder, readonly=True)
        try:
            uidvalidity = int(info[b"UIDVALIDITY"])
            state = imap_state.load(self.db, self.source_id)
            note = ""
            last = state.last_uid
            if state.uidvalidity is not None and state.uidvalidity != uidvalidity:
                note, last = f"UIDVALIDITY changed ({state.uidvalidity} → {uidvalidity}): would resync", 0
            elif state.uidvalidity is None:
                note = "never synced"
            return FolderReport(self.folder, exists=True, messages=int(info.get(b"EXISTS", 0)),
                                unseen=len(client.search(["UNSEEN"])), uidvalidity=uidvalidity,
                                would_take=len(self._candidates(client, last)), note=note)
        finally:
            client.close_folder()  # read-only: nothing is expunged


def settle(client: IMAPClient, config: Mailbox, uids: str, caps: set[str], *, ensure_dest: bool = True) -> None:
    """Flag `\\Seen`, move (MOVE; else COPY + `\\Deleted` + UID EXPUNGE), or delete the given UIDs."""
    if config.after == "seen":
        client.add_flags(uids, [SEEN], silent=True)
        return
    if config.after == "move":
        if ensure_dest and not client.folder_exists(config.move_to):
            try:
                client.create_folder(config.move_to)
            except IMAPClientError:
                if not client.folder_exists(config.move_to):  # created meanwhile by another pass: fine
                    raise
        if "MOVE" in caps:
            client.move(uids, config.move_to)
            return
        client.copy(uids, config.move_to)
    client.add_flags(uids, [DELETED], silent=True)
    if "UIDPLUS" in caps:
        client.uid_expunge(uids)
    else:
        client.expunge()  # without UIDPLUS, EXPUNGE is all there is


class _Reporter:
    """Counts a large pass in the log every few seconds, and feeds a progress bar when given one."""

    def __init__(self, log: object, total: int, progress: Progress | None) -> None:
        self.log, self.total, self.progress = log, total, progress
        self.done = 0
        self.next_log = time.monotonic() + PROGRESS_LOG_SECONDS

    def advance(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress.advance(1)
        if self.done < self.total and time.monotonic() >= self.next_log:
            self.log.info("taken {} of {}", self.done, self.total)  # type: ignore[attr-defined]
            self.next_log = time.monotonic() + PROGRESS_LOG_SECONDS


class MailboxSource:
    """A configured mailbox: one `FolderSync` per watched folder."""

    def __init__(self, config: Mailbox, db: Database) -> None:
        self.config = config
        self.name = config.name
        self.folders = [FolderSync(config, folder, db) for folder in config.folders]

    def take_once(self, intake: Intake, *, progress: Progress | None = None,
                  stop: threading.Event | None = None) -> Counter[str]:
        """One pass over every folder now (backoff ignored); faults are logged and kept in `faults`."""
        total: Counter[str] = Counter()
        for sync in self.folders:
            total += sync.take_pass(intake, progress=progress, stop=stop, respect_backoff=False)
        return total

    @property
    def faults(self) -> list[ImapFault]:
        return [f.last_fault for f in self.folders if f.last_fault is not None]

    def check(self) -> MailboxReport:
        """Log in, report capabilities and what each folder would give, take nothing."""
        report = MailboxReport(self.name)
        client = None
        try:
            client = connect(self.config)
            report.capabilities = capabilities(client)
            for sync in self.folders:
                report.folders.append(sync.preview(client))
        except Exception as exc:
            report.fault = describe(exc, self.config)
        finally:
            close(client)
        return report

    def close(self) -> None:
        for sync in self.folders:
            sync.close()
