"""`ingestd run`: poll every source on its own schedule until told to stop.

APScheduler runs one job per source with a stable id (`poll:folder:drop`), never two at once for the
same source. A failing source logs one line and tries again at its next turn; the others go on.
SIGTERM/SIGINT finish the input in hand, commit, release this worker's leases, and exit.

Several workers may share one register (ingestd.workers): each takes only from the sources whose lease it
holds, and a source it takes over is polled at once. The jobs every worker has but one should do (the monthly
report, the blob sweep) go to whichever worker claims them first; reminders and the outbox are shared safely by
all (unique idempotency keys, claims with SKIP LOCKED).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import partial
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from loguru import logger

from ingestd.app import App
from ingestd.pipeline.items import RawInput
from ingestd.sources.dropfolder import DropFolderSource
from ingestd.sources.imap import Progress
from ingestd.sources.imap_idle import start_idle_watchers
from ingestd.workers import LeaseKeeper, SourceGate

REPORT_CLAIM_SECONDS = 12 * 3600  # one worker makes the monthly report; the others' cron runs find it claimed
BLOB_SWEEP_CLAIM_SECONDS = 3 * 3600


def poll_drop_folder(app: App, source: DropFolderSource,
                     progress: Callable[[int], None] | None = None, *, gate: SourceGate | None = None) -> Counter[str]:
    """Take the folder's settled files. With a `gate`, only while this worker holds the folder's lease: a lease
    lost mid-pass stops reading the folder; the batches already read (the one in hand and up to
    `runner.BATCHES_AHEAD` more) are still committed and settled. Another worker taking the same file meanwhile
    is harmless: the register's unique keys make it one case."""
    counts: Counter[str] = Counter()
    if gate is not None and not gate.held():
        return counts
    with gate.working() if gate is not None else contextlib.nullcontext():
        for raw, outcome in app.intake.take_many(_while_held(gate, source.inputs())):
            source.settle(raw, outcome)
            counts[outcome.status] += 1
            if progress:
                progress(1)
    return counts


def _while_held(gate: SourceGate | None, inputs: Iterator[RawInput]) -> Iterator[RawInput]:
    for raw in inputs:
        if gate is not None and not gate.held():
            return
        yield raw


def source_ids(app: App) -> list[str]:
    """Every source a worker may lease: drop folders, scan folders, and each watched folder of each mailbox."""
    return [*(s.source_id for s in [*app.drop_folders, *app.scans]),
            *(sync.source_id for mailbox in app.mailboxes for sync in mailbox.folders)]


def start_keeper(app: App, on_acquired: Callable[[str], None] | None = None) -> LeaseKeeper:
    """This worker's leases: the first round now, renewals in a thread; each IMAP folder asks its gate."""
    keeper = LeaseKeeper(app.db, app.settings.workers, source_ids(app),
                         lock_dir=app.settings.store.data_dir / "workers", on_acquired=on_acquired)
    app.keeper = keeper
    for mailbox in app.mailboxes:
        for sync in mailbox.folders:
            sync.lease = keeper.gate(sync.source_id)
    keeper.start()
    return keeper


def stop_keeper(app: App, keeper: LeaseKeeper) -> None:
    """Give the leases back and let the folders be taken from directly again (`take_once` outside `run`)."""
    keeper.stop()
    for mailbox in app.mailboxes:
        for sync in mailbox.folders:
            sync.lease = None
    app.keeper = None


def sweep_reminders(app: App) -> Counter[str]:
    """Reminders before deadlines, escalations after them (ingestd.casework.reminders), queued in the outbox."""
    from ingestd.casework.reminders import sweep

    assert app.casework is not None
    return sweep(app.casework, app.db, app.clock.now())


def sweep_orphan_blobs(app: App) -> Counter[str]:
    """Blob files left by a crash between writing them and the commit (older than an hour)."""
    from ingestd.ops.sweep import sweep_blobs

    removed = len(sweep_blobs(app.db, app.blobs))
    return Counter(removed=removed) if removed else Counter()


def run_once(app: App, *, progress: Progress | None = None) -> Counter[str]:
    """One pass over every source whose lease this worker gets (all of them, unless other workers run), then
    release the leases and return (for cron-style use and for tests)."""
    total: Counter[str] = Counter()
    keeper = start_keeper(app) if source_ids(app) else None
    try:
        for source in [*app.drop_folders, *app.scans]:
            total += poll_drop_folder(app, source, gate=keeper.gate(source.source_id) if keeper else None)
        for mailbox in app.mailboxes:  # every folder, once; a faulty one logs a line and the others go on
            total += mailbox.take_once(app.intake, progress=progress)
    finally:
        if keeper is not None:
            stop_keeper(app, keeper)
    if app.casework is not None:  # reminders and escalations due now
        _guarded("reminders", sweep_reminders, app)()
    if app.outbound is not None:  # what this pass queued (acknowledgements, notifications) goes out now
        _guarded("outbox", app.outbound.drain)()
    return total


def run_forever(app: App, *, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    scheduler = BackgroundScheduler(timezone=app.settings.store.timezone,
                                    job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    keeper = start_keeper(app, on_acquired=lambda source_id: _poll_now(scheduler, source_id))
    for source in [*app.drop_folders, *app.scans]:
        poll = partial(poll_drop_folder, gate=keeper.gate(source.source_id))
        scheduler.add_job(_guarded(source.source_id, poll, app, source), "interval",
                          seconds=source.config.poll_seconds, id=f"poll:{source.source_id}",
                          next_run_time=app.clock.now())
    if source_ids(app):  # a worker with nothing to take (it sends, reminds, reports) needs no parse workers
        _start_parse_workers(app)
    for scan in app.scans:  # load the OCR models now: a broken engine shows at start, not at the first letter
        _guarded(scan.source_id, scan.start)()
    if app.router is not None:
        scheduler.add_job(_guarded("routing", app.router.check), "interval",
                          seconds=app.settings.routing.reload_seconds, id="reload:routing")
    if app.casework is not None and app.settings.reminders.enabled:
        scheduler.add_job(_guarded("reminders", sweep_reminders, app), "interval",
                          seconds=app.settings.reminders.check_seconds, id="sweep:reminders",
                          next_run_time=app.clock.now())
    scheduler.add_job(_guarded("blobs", _claimed(keeper, "sweep:blobs", BLOB_SWEEP_CLAIM_SECONDS,
                                                 sweep_orphan_blobs), app), "interval", hours=6, id="sweep:blobs",
                      next_run_time=app.clock.now())
    if app.settings.reports.monthly:  # last month's report, on the configured day (default the 1st, 08:00)
        from ingestd.reports.monthly import scheduled

        scheduler.add_job(_guarded("reports", _claimed(keeper, "report:monthly", REPORT_CLAIM_SECONDS, scheduled),
                                   app), "cron", day=app.settings.reports.day, hour=app.settings.reports.hour,
                          id="report:monthly")
    if app.outbound is not None:
        scheduler.add_job(_guarded("outbox", app.outbound.drain), "interval",
                          seconds=app.settings.outbound.send_interval_seconds, id="send:outbox",
                          next_run_time=app.clock.now())
    for mailbox in app.mailboxes:
        for sync in mailbox.folders:
            scheduler.add_job(sync.scheduled_pass, "interval", args=(app.intake, stop),
                              seconds=sync.config.poll_seconds, id=f"poll:{sync.source_id}",
                              next_run_time=sync.first_poll_at(app.clock.now()))
    _install_signal_handlers(stop)
    http = None
    if app.settings.ops.listen:
        from ingestd.ops.http import serve

        http = serve(app, app.settings.ops.listen)
    scheduler.start()
    watchers = start_idle_watchers(app.mailboxes, app.intake, stop)
    logger.info("ingestd running as worker {}: {} drop folder(s), {} scan folder(s), {} mailbox(es); holding {}",
                keeper.worker_id, len(app.drop_folders), len(app.scans), len(app.mailboxes),
                ", ".join(keeper.held()) or "no source yet")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        logger.info("stopping: finishing the input in hand")
        stop.set()
        for watcher in watchers:
            watcher.join(timeout=30)
        scheduler.shutdown(wait=True)
        stop_keeper(app, keeper)  # after the last pass: the other workers take over at once
        if http is not None:
            http.shutdown()
        logger.info("stopped")


def _poll_now(scheduler: BackgroundScheduler, source_id: str) -> None:
    """A source this worker has just taken over is polled now, not at the end of its interval."""
    with contextlib.suppress(JobLookupError):
        scheduler.modify_job(f"poll:{source_id}", next_run_time=datetime.now(UTC))


def _claimed(keeper: LeaseKeeper, name: str, seconds: float, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, run only by the worker that claims the job (each worker's scheduler fires it)."""
    def job(*args: Any) -> Any:
        if not keeper.claim_job(name, seconds):
            logger.bind(source=name).debug("claimed by another worker")
            return None
        return fn(*args)

    return job


def _start_parse_workers(app: App) -> None:
    """Parse workers start with the daemon, not when the first batch waits for them (about 2 s here)."""
    try:
        for warm_up in app.intake.start_workers():
            warm_up.add_done_callback(_report_failed_warm_up)
    except Exception as exc:  # parsing then starts them itself, or runs in this process
        logger.bind(source="intake").warning("parse workers did not start: {}: {}", type(exc).__name__, exc)


def _report_failed_warm_up(warm_up: Future[None]) -> None:
    exc = None if warm_up.cancelled() else warm_up.exception()
    if exc is not None:  # the first batch falls back to parsing in this process, and says so too
        logger.bind(source="intake").warning("a parse worker failed to start: {}: {}", type(exc).__name__, exc)


def _guarded(source_id: str, fn: Callable[..., Any], *args: Any) -> Callable[[], None]:
    def job() -> None:
        try:
            counts = fn(*args)
            if isinstance(counts, Mapping) and counts:  # a pass's counts; other jobs return a flag, or nothing
                logger.bind(source=source_id).info("pass: {}", dict(counts))
        except Exception as exc:
            logger.bind(source=source_id).error("pass failed, will retry: {}: {}", type(exc).__name__, exc)

    return job


def _install_signal_handlers(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
