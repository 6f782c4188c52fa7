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
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

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
PARSE_CHUNK = 10  # inputs per worker task
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


def parse_chunk_in_worker(raws: list[RawInput], limits: LimitsConfig,
                          blob_root: Path) -> list[Parsed | ParseFailure]:
    """Several inputs per task: measured on 2 cores, with one task per input a worker took 2.7× as long per input
    as parsing in the committing process; with ten per task, 1.4×, and the two processes then overlap."""
    return [parse_in_worker(raw, limits, blob_root) for raw in raws]


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
    futures: dict[tuple[int, ...], Future[list[Parsed | ParseFailure]]]  # batch positions → their chunk


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
        self._pool_lock = threading.Lock()  # IDLE threads and scheduled jobs share one Intake
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
        workers still have work while this thread reads the source (an IMAP FETCH) or settles it (MOVE)."""
        size = batch_size or self.settings.intake.batch_size
        iterator = iter(raws)
        pending: deque[Pending] = deque()
        while batch := list(islice(iterator, size)):
            pending.append(self._submit(batch, workers))
            if len(pending) > BATCHES_AHEAD:
                yield from self._commit_batch(self._collect(pending.popleft()))
        while pending:
            yield from self._commit_batch(self._collect(pending.popleft()))

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

    # -- stages -----------------------------------------------------------------------------------
    def _submit(self, batch: list[RawInput], workers: int | None) -> Pending:
        known = self._known_digests([r.sha256 for r in batch])
        pool = self._executor(workers) if len(batch) > 1 else None
        pending = Pending(batch, known, [None] * len(batch), {})
        chunk: list[int] = []
        for i, raw in enumerate(batch):
            if raw.sha256 in known:
                continue  # held already: the transaction says so without parsing again
            if pool is not None and len(raw.data) <= IN_PROCESS_PARSE_BYTES:
                chunk.append(i)
                if len(chunk) == PARSE_CHUNK:
                    self._send_chunk(pool, pending, chunk)
                    chunk = []
            else:
                pending.results[i] = receive_and_parse(raw, self.settings.limits, self.blobs)
        if pool is not None and chunk:
            self._send_chunk(pool, pending, chunk)
        return pending

    def _send_chunk(self, pool: Executor, pending: Pending, positions: list[int]) -> None:
        raws = [pending.batch[i] for i in positions]
        pending.futures[tuple(positions)] = pool.submit(parse_chunk_in_worker, raws, self.settings.limits,
                                                        self.blobs.root)

    def _collect(self, pending: Pending) -> list[Parsed | ParseFailure | AlreadySeen]:
        """The batch's results. Its chunks that no worker has begun (the workers are behind) are parsed here
        instead of waited for: this process would only wait, and the workers go on to the next batch."""
        results = pending.results
        for positions, fut in reversed(pending.futures.items()):
            if fut.cancel():
                for i in positions:
                    results[i] = receive_and_parse(pending.batch[i], self.settings.limits, self.blobs)
        for positions, fut in pending.futures.items():
            if fut.cancelled():
                continue
            try:
                for i, result in zip(positions, fut.result(), strict=True):
                    result.raw = pending.batch[i]  # the worker sent back a copy without the bytes
                    results[i] = result
            except BlobStoreError:
                raise  # the store cannot write (disk full): parsing here would fail the same way
            except Exception as exc:  # the worker died (killed, out of memory): parse here instead
                logger.bind(source=pending.batch[positions[0]].source).warning(
                    "parse worker failed ({}); parsing {} inputs in process", exc, len(positions))
                for i in positions:
                    results[i] = receive_and_parse(pending.batch[i], self.settings.limits, self.blobs)
                if isinstance(exc, BrokenProcessPool):
                    self.close()  # a new pool for the next batch
        return [r if r is not None else AlreadySeen(pending.batch[i]) for i, r in enumerate(results)]

    def _commit_batch(self, items: list[Parsed | ParseFailure | AlreadySeen], *,
                      retry: bool = False) -> Iterator[tuple[RawInput, Outcome]]:
        now = self.clock.now()
        try:  # the common case: every input goes in, no savepoints needed
            outcomes = self._commit_all(items, now, retry=retry, guarded=False)
        except _Unguarded:  # something failed: again, each input in its own savepoint
            outcomes = self._commit_all(items, now, retry=retry, guarded=True)
        for raw, outcome in outcomes:
            _log_outcome(raw, outcome)
        yield from outcomes

    def _commit_all(self, items: list[Parsed | ParseFailure | AlreadySeen], now: datetime, *, retry: bool,
                    guarded: bool) -> list[tuple[RawInput, Outcome]]:
        outcomes: list[tuple[RawInput, Outcome]] = []
        register: Register | None = None
        blobs_synced = self.blobs.sync_ahead()  # the workers' blobs of this batch, while its rows are made
        try:
            with self.db.write() as session:
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
        return outcomes

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
                self._pool_size = count
                self._pool = ProcessPoolExecutor(max_workers=count, mp_context=get_context("forkserver"),
                                                 initializer=tune_gc)
            return self._pool


class _Unguarded(Exception):
    """An input failed in the savepoint-free fast path: the batch is redone with a savepoint per input."""


@dataclass(slots=True)
class AlreadySeen:
    """An input whose bytes the register already held when its batch was read: not parsed again."""

    raw: RawInput


def _log_outcome(raw: RawInput, outcome: Outcome) -> None:
    if outcome.status == "quarantined":
        logger.bind(source=f"{raw.source} {raw.source_ref}".strip()).warning(
            "quarantined at {}: {}", outcome.stage, outcome.reason)
    elif outcome.status == "duplicate":
        logger.bind(source=f"{raw.source} {raw.source_ref}".strip()).debug("duplicate: {}", outcome.reason)
    else:
        logger.bind(case=outcome.case_no).info("{} from {}", outcome.status, raw.source)

