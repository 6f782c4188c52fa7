"""The intake runner: takes inputs through the stages in their declared order.

Only the runner catches broad exceptions. A stage that raises `Quarantine` parks the input as
unreadable; any other exception parks it as failed, with the stage and the traceback, so that
`ingestd quarantine retry` can put it back once the bug or outage is fixed. Either way the input is
safe in the register and its source may let go of it. An outage of the register (the database down or
busy) or of the blob store (disk full, I/O error) is not parked: it is raised to the source, which keeps
the input for a later pass.

Inputs are parsed (in worker processes for bulk imports) outside the transaction; the rest runs in
one transaction per batch with a savepoint per input, so no input is ever half-committed and one bad
input does not spoil its neighbours.
"""

from __future__ import annotations

import gc
import threading
import traceback as tb
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlmodel import Session

from ingestd.clock import SYSTEM_CLOCK, Clock
from ingestd.config.model import LimitsConfig, Settings
from ingestd.pipeline.classify import Classifier, DefaultDepartment
from ingestd.pipeline.items import Outcome, Parsed, Quarantine, RawInput
from ingestd.pipeline.parse import parse
from ingestd.pipeline.receive import receive
from ingestd.pipeline.record import Recorded, record
from ingestd.pipeline.respond import Responder, ResponseContext, respond
from ingestd.pipeline.thread import thread
from ingestd.store import case_numbers
from ingestd.store.blobs import BlobStore, BlobStoreError
from ingestd.store.filenames import safe_filename
from ingestd.store.originals import kept_inline

if TYPE_CHECKING:
    from ingestd.casework.actions import Casework
from ingestd.store.db import Database
from ingestd.store.register import Register

IN_PROCESS_PARSE_BYTES = 2 * 1024 * 1024  # bigger inputs are parsed here, not shipped to a worker
CLAIM_SLOTS = 32  # batches whose inputs the parse workers and this process can share out at once
BATCHES_AHEAD = 2  # batches read and handed to the parse workers before the oldest is committed
GC_THRESHOLD = 20_000  # allocations between collections of the youngest generation (Python's default: 700)


@dataclass(slots=True)
class ParseFailure:
    raw: RawInput
    stage: str
    kind: str
    reason: str
    traceback: str | None


def receive_and_parse(raw: RawInput, limits: LimitsConfig, blobs: BlobStore | None = None) -> Parsed | ParseFailure:
    """The front half of the pipeline, safe to run in a worker process: receive and parse (pure), then,
    given `blobs`, stash the attachments (and a raw input too big for the register) in the blob store so that
    the transaction has only rows left to write."""
    stage = "receive"
    try:
        receive(raw, limits)
        stage = "parse"
        parsed = parse(raw, limits)
        if blobs is not None:
            stage = "record"
            if not kept_inline(len(raw.data)):  # a small input goes into the register with its rows instead
                blobs.put(raw.data, raw.sha256)
            parsed.attachment_digests = [blobs.put(a.data) for a in parsed.email.attachments]
            parsed.attachment_names = [safe_filename(a.filename) for a in parsed.email.attachments]
        return parsed
    except Quarantine as q:
        return ParseFailure(raw, stage, q.kind, q.reason, None)
    except BlobStoreError:
        raise  # the disk is full or failing: an outage, not this input's fault; its source keeps it
    except Exception as exc:  # a parser bug: park it, keep going
        return ParseFailure(raw, stage, "failed", f"{type(exc).__name__}: {exc}", tb.format_exc())


def parse_batch_in_worker(slot: int, raws: list[RawInput], limits: LimitsConfig,
                          blob_root: Path) -> list[tuple[int, Parsed | ParseFailure]]:
    """A batch's inputs, taken one at a time from its front until none is left: the committing process takes
    them from the back once it needs the batch (see `Claims`). One task per batch: with a task per ten inputs,
    handing tasks over and their results back cost the committing process's helper threads a GIL handover each,
    and the worker waited between tasks (measured: idle 0.4 s of a 3.3 s run)."""
    taken: list[tuple[int, Parsed | ParseFailure]] = []
    claims = _worker_claims()
    while (i := claims.take_front(slot)) is not None:
        taken.append((i, parse_in_worker(raws[i], limits, blob_root)))
    return taken


def parse_in_worker(raw: RawInput, limits: LimitsConfig, blob_root: Path) -> Parsed | ParseFailure:
    """receive_and_parse in a worker process, returning only what the transaction needs: the raw bytes
    and attachment contents are in the blob store by now, so they are not pickled back."""
    result = receive_and_parse(raw, limits, _worker_blobs(blob_root))
    result.raw = RawInput(data=b"", source=raw.source, source_ref=raw.source_ref, channel=raw.channel,
                          mailbox=raw.mailbox, extra=raw.extra, _sha256=raw.sha256)
    if isinstance(result, Parsed) and result.attachment_digests is not None:
        result.attachment_sizes = [len(a.data) for a in result.email.attachments]
        for attachment in result.email.attachments:
            attachment.data = b""
    return result


_WARM_UP_MESSAGE = (b"From: =?utf-8?b?5byg5LiJ?= <warm-up@example.com>\r\nSubject: warm-up\r\n"
                    b"Content-Type: text/plain; charset=utf-8\r\n\r\n\xe6\x88\x91\xe7\x9a\x84\xe7\x94\xb5\xe8\xaf\x9d "
                    b"13800138000\r\n")


def warm_up_worker(limits: LimitsConfig) -> None:
    """Parse a small message and throw it away: what parsing loads on first use (the modules, the phone
    metadata, compiled patterns) is loaded now, not while the first real batch waits."""
    receive_and_parse(RawInput(_WARM_UP_MESSAGE, "warm-up", ""), limits)


def tune_gc() -> None:
    """Intake allocates many short-lived objects (parsed messages, rows, fetched bodies) while the process
    holds a large, long-lived heap (SQLAlchemy, Jinja, the config): the cyclic collector's default pace,
    a collection every 700 allocations, spent about 8% of the committing process's CPU rescanning it
    (bench/imap_bench, with a frozen start-up heap as well; not frozen here, so that what a config reload
    replaces can still be collected). It runs less often; reference counting still frees almost
    everything at once."""
    gc.set_threshold(GC_THRESHOLD, 20, 20)


class Claims:
    """Who parses which input of a batch, shared by the parse workers and the committing process: the worker takes
    a batch's inputs from the front, the committing process (when it needs the batch and the worker is not done)
    from the back, so neither waits for the other and no input is parsed twice. A pair of counters per batch in
    flight, in shared memory under one lock (a few microseconds per input)."""

    def __init__(self, context: BaseContext, slots: int = CLAIM_SLOTS) -> None:
        self._bounds = context.Array("i", 2 * slots)  # per slot: the next input from the front, the end
        self._free = deque(range(slots))
        self._free_lock = threading.Lock()

    def open(self, count: int) -> int | None:
        """A slot for a batch of `count` inputs to share out (none while `CLAIM_SLOTS` batches are in flight)."""
        with self._free_lock:
            if not self._free:
                return None
            slot = self._free.popleft()
        with self._bounds.get_lock():
            self._bounds[2 * slot], self._bounds[2 * slot + 1] = 0, count
        return slot

    def close(self, slot: int) -> None:
        """The batch's task is done (or will never run): no worker takes from the slot any more."""
        with self._free_lock:
            self._free.append(slot)

    def take_front(self, slot: int) -> int | None:
        bounds = self._bounds
        with bounds.get_lock():
            i = bounds[2 * slot]
            if i >= bounds[2 * slot + 1]:
                return None
            bounds[2 * slot] = i + 1
            return i

    def take_back(self, slot: int) -> int | None:
        bounds = self._bounds
        with bounds.get_lock():
            end = bounds[2 * slot + 1]
            if end <= bounds[2 * slot]:
                return None
            bounds[2 * slot + 1] = end - 1
            return end - 1

    def __getstate__(self) -> dict[str, object]:  # a worker gets the shared array, not this process's free list
        return {"_bounds": self._bounds}


_CLAIMS: list[Claims] = []  # a parse worker's, given when it starts (shared memory is inherited, not sent)


def start_worker(claims: Claims) -> None:
    tune_gc()
    _CLAIMS[:] = [claims]


def _worker_claims() -> Claims:
    return _CLAIMS[0]


_BLOB_STORES: dict[Path, BlobStore] = {}


def _worker_blobs(root: Path) -> BlobStore:
    """A worker process's blob store, made once per process (the committing process uses the app's own)."""
    if root not in _BLOB_STORES:
        _BLOB_STORES[root] = BlobStore(root)
    return _BLOB_STORES[root]


@dataclass(slots=True)
class Pending:
    """A batch on its way through the parse workers."""

    batch: list[RawInput]
    known: set[str]
    results: list[Parsed | ParseFailure | None]
    sent: list[int]  # positions in the batch of the inputs handed to the parse workers
    claims: Claims | None = None  # how they are shared out between the workers and this process
    slot: int = -1
    future: Future[list[tuple[int, Parsed | ParseFailure]]] | None = None


class Intake:
    def __init__(self, db: Database, blobs: BlobStore, settings: Settings, *,
                 classifier: Classifier | None = None, responders: Iterable[Responder] = (),
                 clock: Clock = SYSTEM_CLOCK, casework: Casework | None = None) -> None:
        self.db = db
        self.blobs = blobs
        self.settings = settings
        self.classifier = classifier or DefaultDepartment(settings.intake.default_department)
        self.responders = list(responders)
        self.casework = casework  # deadlines and repeat complaints of new cases; set by build_app
        self.clock = clock
        self.zone = ZoneInfo(settings.store.timezone)
        self.case_no_regex = case_numbers.matcher(settings.store.case_number_pattern)
        self._pool: Executor | None = None
        self._pool_size = 0
        self._claims: Claims | None = None  # made with the pool
        self._pool_lock = threading.Lock()  # IDLE threads and scheduled jobs share one Intake
        self._commits: ThreadPoolExecutor | None = None  # see `Committing`; one thread, kept (a start costs a GIL wait)
        tune_gc()

    # -- public -----------------------------------------------------------------------------------
    def take(self, raw: RawInput, *, retry: bool = False) -> Outcome:
        """One input, one transaction. `retry`: the input is in quarantine and is being put back; on
        success its entry is released in the same transaction."""
        items = self._collect(self._submit([raw], workers=1))
        return next(iter(self._commit_batch(items, retry=retry)))[1]

    def take_many(self, raws: Iterable[RawInput], *, workers: int | None = None,
                  batch_size: int | None = None) -> Iterator[tuple[RawInput, Outcome]]:
        """Many inputs, parsed in parallel, committed in batches; yields after each batch is committed.
        Up to `BATCHES_AHEAD` batches are read and parsing while one is being committed, so that the parse
        workers still have work while this thread reads the source (an IMAP FETCH) or settles it (MOVE). A batch's
        commit (mostly waiting for the disk's sync) runs in a thread while the next batch is read and collected;
        its outcomes are yielded once it is on disk, before the next batch's rows are written."""
        size = batch_size or self.settings.intake.batch_size
        iterator = iter(raws)
        pending: deque[Pending] = deque()
        committing: Committing | None = None
        try:
            while True:
                if batch := list(islice(iterator, size)):
                    pending.append(self._submit(batch, workers))
                    if len(pending) <= BATCHES_AHEAD:
                        continue
                elif not pending and committing is None:
                    return
                items = self._collect(pending.popleft()) if pending else None
                if committing is not None:  # the batch before: its outcomes once it is on disk
                    yield from committing.outcomes()
                    committing = None
                if items is not None:
                    committing = Committing(*self._write_batch(items), self._committer())
        finally:
            if committing is not None:  # the caller stopped early: the commit ends, its outcomes are not handed on
                committing.abandon()

    def start_workers(self) -> list[Future[None]]:
        """Start the parse workers now, without waiting for them. A worker's start costs about 2 s of CPU here
        (imports); begun when the daemon starts, it overlaps with logging in to mailboxes instead of holding up
        the first batch. One warm-up per worker: the pool starts a process per task while none is idle. Returns
        their futures (none: parsing runs in this process), which callers need not wait for."""
        pool = self._executor(None)
        if pool is None:
            return []
        return [pool.submit(warm_up_worker, self.settings.limits) for _ in range(self._pool_size)]

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
                self._pool = None
            if self._commits is not None:
                self._commits.shutdown()
                self._commits = None

    # -- stages -----------------------------------------------------------------------------------
    def _submit(self, batch: list[RawInput], workers: int | None) -> Pending:
        known = self._known_digests([r.sha256 for r in batch])
        pool = self._executor(workers) if len(batch) > 1 else None
        pending = Pending(batch, known, [None] * len(batch), [])
        for i, raw in enumerate(batch):
            if raw.sha256 in known:
                continue  # held already: the transaction says so without parsing again
            if pool is not None and len(raw.data) <= IN_PROCESS_PARSE_BYTES:
                pending.sent.append(i)
            else:
                pending.results[i] = receive_and_parse(raw, self.settings.limits, self.blobs)
        if pool is not None and pending.sent and not self._send(pool, pending):
            for i in pending.sent:  # no slot free (many sources at once): this batch is parsed here
                pending.results[i] = receive_and_parse(batch[i], self.settings.limits, self.blobs)
        return pending

    def _send(self, pool: Executor, pending: Pending) -> bool:
        claims = self._claims
        slot = claims.open(len(pending.sent)) if claims is not None else None
        if claims is None or slot is None:
            return False
        pending.claims, pending.slot = claims, slot
        pending.future = pool.submit(parse_batch_in_worker, slot, [pending.batch[i] for i in pending.sent],
                                     self.settings.limits, self.blobs.root)
        pending.future.add_done_callback(lambda _: claims.close(slot))
        return True

    def _collect(self, pending: Pending) -> list[Parsed | ParseFailure | AlreadySeen]:
        """The batch's results. What no worker has begun (the workers are behind) is parsed here instead of
        waited for, from the back of the batch: this process would only wait, and the workers go on to the
        next batch."""
        results, future, claims = pending.results, pending.future, pending.claims
        if future is not None and claims is not None:
            while (j := claims.take_back(pending.slot)) is not None:
                i = pending.sent[j]
                results[i] = receive_and_parse(pending.batch[i], self.settings.limits, self.blobs)
            if not future.cancel():  # begun (or queued for a worker): it ends once the front meets the back
                self._take_results(pending, future)
        return [r if r is not None else AlreadySeen(pending.batch[i]) for i, r in enumerate(results)]

    def _take_results(self, pending: Pending, future: Future[list[tuple[int, Parsed | ParseFailure]]]) -> None:
        results = pending.results
        try:
            for j, result in future.result():
                i = pending.sent[j]
                result.raw = pending.batch[i]  # the worker sent back a copy without the bytes
                results[i] = result
        except BlobStoreError:
            raise  # the store cannot write (disk full): parsing here would fail the same way
        except Exception as exc:  # the worker died (killed, out of memory): parse here what it took
            left = [i for i in pending.sent if results[i] is None]
            logger.bind(source=pending.batch[left[0]].source if left else "").warning(
                "parse worker failed ({}); parsing {} inputs in process", exc, len(left))
            for i in left:
                results[i] = receive_and_parse(pending.batch[i], self.settings.limits, self.blobs)
            if isinstance(exc, BrokenProcessPool):
                self.close()  # a new pool for the next batch

    def _commit_batch(self, items: list[Parsed | ParseFailure | AlreadySeen], *,
                      retry: bool = False) -> Iterator[tuple[RawInput, Outcome]]:
        session, outcomes = self._write_batch(items, retry=retry)
        with session:
            commit(session)
        _log_outcomes(outcomes)
        yield from outcomes

    def _write_batch(self, items: list[Parsed | ParseFailure | AlreadySeen], *,
                     retry: bool = False) -> tuple[Session, list[tuple[RawInput, Outcome]]]:
        """The batch's rows, written and flushed in a transaction the caller commits."""
        now = self.clock.now()
        try:  # the common case: every input goes in, no savepoints needed
            return self._write_all(items, now, retry=retry, guarded=False)
        except _Unguarded:  # something failed: again, each input in its own savepoint
            return self._write_all(items, now, retry=retry, guarded=True)

    def _write_all(self, items: list[Parsed | ParseFailure | AlreadySeen], now: datetime, *, retry: bool,
                   guarded: bool) -> tuple[Session, list[tuple[RawInput, Outcome]]]:
        outcomes: list[tuple[RawInput, Outcome]] = []
        register: Register | None = None
        blobs_synced = self.blobs.sync_ahead()  # the workers' blobs of this batch, while its rows are made
        session = self.db.write_session()
        try:
            with _rolled_back_on_error(session):
                register = Register(session, buffered=True)
                self._prefetch(register, [item for item in items if isinstance(item, Parsed)], now)
                for item in items:
                    try:
                        outcome = self._commit_one(item, register, now, retry=retry, guarded=guarded)
                        if retry and outcome.case_no:
                            register.release(item.raw.sha256, outcome.case_no, now)
                    except _Unguarded:
                        raise
                    except Exception as exc:
                        # Without savepoints, an earlier input's rows may be written only now (when parking
                        # this one flushes): whatever fails, the batch is redone input by input.
                        if guarded:
                            raise
                        raise _Unguarded from exc
                    outcomes.append((item.raw, outcome))
                if not guarded:
                    try:
                        register.flush()
                        session.flush()  # ORM changes left (a responder's): refused here, not at the commit
                    except Exception as exc:
                        raise _Unguarded from exc
                blobs_synced()  # the files the rows point at are on disk before the rows are committed
        except _Unguarded:  # rolled back for certain, before any commit: the redo and the next cases use them
            if register is not None:
                register.give_back_numbers()
            raise
        return session, outcomes

    def _prefetch(self, register: Register, parsed: list[Parsed], now: datetime) -> None:
        """What every input of the batch will look up, in a few queries for all of them: Message-IDs for
        threading, the complainants' earlier cases, and whatever the responders prepare."""
        register.expected = len(parsed)
        register.prefetch_message_ids(
            mid for item in parsed
            for mid in (item.email.message_id, item.email.in_reply_to, *item.email.references) if mid)
        register.prefetch_earlier_cases(
            ((item.email.complainant.email, item.email.complainant.phone) for item in parsed),
            self._repeat_since(now))
        for responder in self.responders:
            prepare = getattr(responder, "prepare", None)
            if prepare is not None:
                prepare(register, parsed, now)

    def _repeat_since(self, now: datetime) -> datetime:
        return now - timedelta(days=self.settings.intake.repeat_window_days)

    def _commit_one(self, item: Parsed | ParseFailure | AlreadySeen, register: Register,
                    now: datetime, *, retry: bool = False, guarded: bool = True) -> Outcome:
        raw = item.raw
        if isinstance(item, AlreadySeen):
            seen = register.seen_input(raw.sha256)
            if seen is not None and not (retry and seen[0] == "quarantine"):
                return Outcome("duplicate", raw.source, raw.source_ref, raw.sha256, case_no=seen[1],
                               reason="already in quarantine" if seen[0] == "quarantine" else "already recorded")
            parsed = receive_and_parse(raw, self.settings.limits, self.blobs)  # gone since, or a retry
            return self._commit_one(parsed, register, now, retry=retry, guarded=guarded)
        # Not held when its batch was read; a concurrent twin is caught by the unique constraints below.
        if isinstance(item, ParseFailure):
            return self._park(register, raw, item.stage, item.kind, item.reason, item.traceback, now)
        if not guarded:
            try:
                recorded = self._stages(item, register, now, [""])
            except Exception as exc:
                raise _Unguarded from exc
            return self._recorded(item, register, recorded)
        stage = ["thread"]
        try:
            with register.scope(), register.session.begin_nested():
                recorded = self._stages(item, register, now, stage)
                register.flush()  # this input's buffered rows belong inside its savepoint
        except IntegrityError:
            seen = register.seen_input(raw.sha256)  # another worker committed the same input first
            if seen is not None:
                return Outcome("duplicate", raw.source, raw.source_ref, raw.sha256, case_no=seen[1],
                               reason="recorded concurrently")
            return self._park(register, raw, stage[0], "failed", "integrity error", tb.format_exc(), now)
        except Quarantine as q:
            return self._park(register, raw, stage[0], q.kind, q.reason, None, now)
        except (OperationalError, InterfaceError, BlobStoreError):
            raise  # the database or the blob store is down, busy or full: not this input's fault; its source keeps it
        except Exception as exc:
            return self._park(register, raw, stage[0], "failed", f"{type(exc).__name__}: {exc}", tb.format_exc(), now)
        return self._recorded(item, register, recorded)

    def _stages(self, item: Parsed, register: Register, now: datetime, stage: list[str]) -> Recorded:
        """thread → classify → record → respond, in the caller's transaction; `stage[0]` says where it is."""
        stage[0] = "thread"
        match = thread(item, register, self.case_no_regex)
        if match is not None:
            register.flush()  # what joins a case may read its events and messages: they must be written
        stage[0] = "classify"
        decision, opening = None, None
        if match is None:
            who = item.email.complainant
            earlier = register.earlier_cases(who.email, who.phone, self._repeat_since(now))
            item.repeat_complainant = bool(earlier)
            decision = self.classifier.classify(item)
            if self.casework is not None:  # 二次投诉 and deadlines (pure, from the config and the earlier cases)
                opening = self.casework.opening(item.email, decision, earlier, item.raw.channel, now)
        stage[0] = "record"
        recorded = record(item, match, decision, register=register, blobs=self.blobs,
                          case_number_pattern=self.settings.store.case_number_pattern,
                          now=now, local_now=now.astimezone(self.zone), opening=opening)
        if match is not None:
            register.flush()  # a department's command (e.g. #reply) reads the case's messages, this one included
        stage[0] = "respond"
        respond(ResponseContext(item, recorded, decision, register, now), self.responders)
        return recorded

    @staticmethod
    def _recorded(item: Parsed, register: Register, recorded: Recorded) -> Outcome:
        register.remember(item.email.message_id, recorded.case_id, recorded.case_no)
        status = "created" if recorded.created else "threaded"
        raw = item.raw
        return Outcome(status, raw.source, raw.source_ref, raw.sha256, case_no=recorded.case_no)

    def _park(self, register: Register, raw: RawInput, stage: str, kind: str, reason: str,
              trace: str | None, now: datetime) -> Outcome:
        self.blobs.put(raw.data, raw.sha256)
        register.park(sha256=raw.sha256, size=len(raw.data), source=raw.source, source_ref=raw.source_ref,
                      stage=stage, kind=kind, reason=reason, traceback=trace, at=now)
        return Outcome("quarantined", raw.source, raw.source_ref, raw.sha256, reason=reason, stage=stage)

    # -- helpers ----------------------------------------------------------------------------------
    def _known_digests(self, digests: list[str]) -> set[str]:
        """Which of these inputs the register holds already, on a case or parked in quarantine."""
        with self.db.read() as session:
            return set(Register(session).held_inputs(digests))

    def _committer(self) -> Executor:
        """The thread batches commit in. Shared by every caller of `take_many`: a commit never waits for another
        (each is submitted only once its transaction holds its rows), so one queue cannot deadlock them."""
        with self._pool_lock:
            if self._commits is None:
                self._commits = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commit")
            return self._commits

    def _executor(self, workers: int | None) -> Executor | None:
        count = self.settings.intake.parse_workers if workers is None else workers
        if count == 0:  # auto: one core commits, the others parse (-1: parse here, as `workers=1` does)
            import os

            count = -((os.cpu_count() or 1) - 1)
        if count in (0, 1):
            return None
        count = abs(count)
        with self._pool_lock:
            if self._pool is None:
                context = get_context("forkserver")
                self._pool_size = count
                self._claims = Claims(context)
                self._pool = ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=start_worker,
                                                 initargs=(self._claims,))
            return self._pool


class _Unguarded(Exception):
    """An input failed in the savepoint-free fast path: the batch is redone with a savepoint per input."""


@dataclass(slots=True)
class AlreadySeen:
    """An input whose bytes the register already held when its batch was read: not parsed again."""

    raw: RawInput


class Committing:
    """A batch whose rows are written and flushed, committing in the intake's commit thread: the commit is mostly a wait
    for the disk's sync (11–15% of intake's time on SQLite with `synchronous=FULL`), which the next batch's FETCH
    and parsing can use. Its outcomes are handed on only once the commit has returned."""

    def __init__(self, session: Session, outcomes: list[tuple[RawInput, Outcome]], thread: Executor) -> None:
        self._session = session
        self._outcomes = outcomes
        self._committed = thread.submit(commit, session)

    def outcomes(self) -> list[tuple[RawInput, Outcome]]:
        """Once committed: the outcomes, logged. A failed commit raises here, as it would have without the thread."""
        try:
            self._committed.result()
        finally:
            self._session.close()
        _log_outcomes(self._outcomes)
        return self._outcomes

    def abandon(self) -> None:
        """The caller stopped before taking the outcomes: the commit ends (or fails) all the same. The inputs are
        not settled with their source, which meets them again as duplicates, as after a crash."""
        wait([self._committed])
        self._session.close()


def commit(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise


@contextmanager
def _rolled_back_on_error(session: Session) -> Iterator[None]:
    """The transaction stays open on success (its caller commits it); on any error it is rolled back and closed."""
    try:
        yield
    except BaseException:
        session.rollback()
        session.close()
        raise


def _log_outcomes(outcomes: list[tuple[RawInput, Outcome]]) -> None:
    for raw, outcome in outcomes:
        _log_outcome(raw, outcome)


def _log_outcome(raw: RawInput, outcome: Outcome) -> None:
    if outcome.status == "quarantined":
        logger.bind(source=f"{raw.source} {raw.source_ref}".strip()).warning(
            "quarantined at {}: {}", outcome.stage, outcome.reason)
    elif outcome.status == "duplicate":
        logger.bind(source=f"{raw.source} {raw.source_ref}".strip()).debug("duplicate: {}", outcome.reason)
    else:
        logger.bind(case=outcome.case_no).info("{} from {}", outcome.status, raw.source)

