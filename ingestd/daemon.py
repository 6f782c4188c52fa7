"""`ingestd run`: poll every source on its own schedule until told to stop.

APScheduler runs one job per source with a stable id (`poll:folder:drop`), never two at once for the
same source. A failing source logs one line and tries again at its next turn; the others go on.
SIGTERM/SIGINT finish the input in hand, commit, and exit.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from loguru import logger

from ingestd.app import App
from ingestd.sources.dropfolder import DropFolderSource
from ingestd.sources.imap import Progress
from ingestd.sources.imap_idle import start_idle_watchers


def poll_drop_folder(app: App, source: DropFolderSource,
                     progress: Callable[[int], None] | None = None) -> Counter[str]:
    counts: Counter[str] = Counter()
    for raw, outcome in app.intake.take_many(source.inputs()):
        source.settle(raw, outcome)
        counts[outcome.status] += 1
        if progress:
            progress(1)
    return counts


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
    """One pass over every source, then return (for cron-style use and for tests)."""
    total: Counter[str] = Counter()
    for source in [*app.drop_folders, *app.scans]:
        total += poll_drop_folder(app, source)
    for mailbox in app.mailboxes:  # every folder, once; a faulty one logs a line and the others go on
        total += mailbox.take_once(app.intake, progress=progress)
    if app.casework is not None:  # reminders and escalations due now
        _guarded("reminders", sweep_reminders, app)()
    if app.outbound is not None:  # what this pass queued (acknowledgements, notifications) goes out now
        _guarded("outbox", app.outbound.drain)()
    return total


def run_forever(app: App, *, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    scheduler = BackgroundScheduler(timezone=app.settings.store.timezone,
                                    job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    for source in [*app.drop_folders, *app.scans]:
        scheduler.add_job(_guarded(source.source_id, poll_drop_folder, app, source), "interval",
                          seconds=source.config.poll_seconds, id=f"poll:{source.source_id}",
                          next_run_time=app.clock.now())
    for scan in app.scans:  # load the OCR models now: a broken engine shows at start, not at the first letter
        _guarded(scan.source_id, scan.start)()
    if app.router is not None:
        scheduler.add_job(_guarded("routing", app.router.check), "interval",
                          seconds=app.settings.routing.reload_seconds, id="reload:routing")
    if app.casework is not None and app.settings.reminders.enabled:
        scheduler.add_job(_guarded("reminders", sweep_reminders, app), "interval",
                          seconds=app.settings.reminders.check_seconds, id="sweep:reminders",
                          next_run_time=app.clock.now())
    scheduler.add_job(_guarded("blobs", sweep_orphan_blobs, app), "interval", hours=6, id="sweep:blobs",
                      next_run_time=app.clock.now())
    if app.settings.reports.monthly:  # last month's report, on the configured day (default the 1st, 08:00)
        from ingestd.reports.monthly import scheduled

        scheduler.add_job(_guarded("reports", scheduled, app), "cron", day=app.settings.reports.day,
                          hour=app.settings.reports.hour, id="report:monthly")
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
    logger.info("ingestd running: {} drop folder(s), {} scan folder(s), {} mailbox(es)", len(app.drop_folders),
                len(app.scans), len(app.mailboxes))
    try:
        while not stop.wait(0.5):
            pass
    finally:
        logger.info("stopping: finishing the input in hand")
        stop.set()
        for watcher in watchers:
            watcher.join(timeout=30)
        scheduler.shutdown(wait=True)
        if http is not None:
            http.shutdown()
        logger.info("stopped")


def _guarded(source_id: str, fn: Callable[..., Any], *args: Any) -> Callable[[], None]:
    def job() -> None:
        try:
            counts = fn(*args)
            if counts:
                logger.bind(source=source_id).info("pass: {}", dict(counts))
        except Exception as exc:
            logger.bind(source=source_id).error("pass failed, will retry: {}: {}", type(exc).__name__, exc)

    return job


def _install_signal_handlers(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
