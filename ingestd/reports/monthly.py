"""The monthly report as a job: build it, write its files, and e-mail it to the recipients through the outbox
(one message per recipient and month, under an idempotency key, so a rerun or a second worker sends nothing
twice)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from loguru import logger

from ingestd.reports.figures import previous_month
from ingestd.reports.render import Report, build_report, write_report
from outbound.compose import AUTO_GENERATED, Draft, OutAttachment, idempotency_key, message_id_for
from outbound.outbox import enqueue


def make_monthly(app: Any, month: str, *, out_dir: Path | None = None, pdf: bool | None = None,
                 send: bool = False) -> tuple[Report, list[Path]]:
    settings = app.settings
    report = build_report(app.db, settings.work_calendar(), month, app.clock.now())
    folder = out_dir or settings.reports.folder(Path(settings.store.data_dir))
    paths = write_report(report, folder, pdf=settings.reports.pdf if pdf is None else pdf)
    logger.bind(source="reports").info("monthly report {}: {} complaints, {} file(s) in {}", month,
                                       report.current.total, len(paths), folder)
    if send and settings.reports.recipients and app.outbound is not None:
        queue_report(app, report, paths)
    return report, paths


def scheduled(app: Any) -> None:
    """The scheduler's job: last month's report, written and sent."""
    today = app.clock.now().astimezone(app.settings.work_calendar().zone).date()
    make_monthly(app, previous_month(today), send=True)
    app.outbound.drain() if app.outbound is not None else None


def queue_report(app: Any, report: Report, paths: list[Path]) -> int:
    outbound = app.outbound
    config = outbound.config
    now = app.clock.now()
    files = [OutAttachment(p.name, "text/html" if p.suffix == ".html" else
                           "application/pdf" if p.suffix == ".pdf" else "text/csv", p.read_bytes()) for p in paths]
    current = report.current
    text = (f"Complaint report for {report.month}: {current.total} complaints received.\n"
            f"Resolved in time: {_share(current.resolve.share)}; overdue at month end: {len(current.overdue)}.\n\n"
            "The full report (HTML, with charts) and its tables (CSV) are attached.\n")
    queued = 0
    with app.db.write() as session:
        for recipient in app.settings.reports.recipients:
            key = idempotency_key("report", "monthly", f"{report.month}:{recipient.lower()}")
            draft = Draft(kind="report", case_no=f"report {report.month}", from_addr=config.default_from,
                          from_name=outbound.from_name("en"), to_addr=recipient.lower(),
                          subject=f"Complaint report {report.month}", text=text, attachments=files,
                          message_id=message_id_for(key, config.id_domain), date=now, loop_id=config.default_from,
                          auto_submitted=AUTO_GENERATED)
            queued += enqueue(session, outbound.blobs, key=key, draft=draft, case_id=None, now=now)[1]
    return queued


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def month_of(text: str | None, now: datetime, zone: Any) -> str:
    """`--month 2026-10`, or last month."""
    if text:
        datetime.strptime(text, "%Y-%m")  # raises ValueError for anything else
        return text
    return previous_month(now.astimezone(zone).date())
