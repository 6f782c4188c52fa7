"""`ingestd demo`: the bundled sample complaints, through the real pipeline, into ./var.

No servers needed. Running it again adds nothing (intake is idempotent) and shows the same register.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import select

from ingestd import logs
from ingestd.app import build_app
from ingestd.cli.cases import cases_table, list_rows
from ingestd.cli.context import state
from ingestd.config import LoadedConfig
from ingestd.config.scans import SCAN_SUFFIXES, ScanFolder
from ingestd.sources.files import read_inputs
from ingestd.sources.ocr_worker import OcrUnavailable
from ingestd.sources.scans import LetterReader
from ingestd.store.models import QuarantineEntry

SAMPLES = Path(__file__).parent / "samples" / "mail"
LETTERS = Path(__file__).parent / "samples" / "letters"  # scanned letters, read by OCR like a scan folder
EXAMPLE_ROUTING = Path(__file__).resolve().parents[1] / "config" / "routing.toml"


def run_demo(console: Console) -> None:
    loaded = state.config()
    if state.log_level is None:  # the table is the demo's output; per-input log lines only with -v
        logs.setup("WARNING", json_lines=state.log_json)
    if loaded.settings.routing.file is None and EXAMPLE_ROUTING.exists():  # no config here: use the example
        routing = loaded.settings.routing.model_copy(update={"file": EXAMPLE_ROUTING})
        loaded = LoadedConfig(loaded.settings.model_copy(update={"routing": routing}), loaded.path)
    if loaded.settings.outbound.smtp is not None:  # the demo never sends real mail: .eml files only
        outbound = loaded.settings.outbound.model_copy(update={"smtp": None})
        loaded = LoadedConfig(loaded.settings.model_copy(update={"outbound": outbound}), loaded.path)
    application = build_app(loaded)
    settings = application.settings
    console.print(f"[bold]ingestd demo[/bold]: {len(list(SAMPLES.glob('*.eml')))} sample messages from {SAMPLES}")
    console.print(f"register: {settings.store.database_url}   files: {settings.store.data_dir}/\n")
    counts: Counter[str] = Counter()
    try:
        for _raw, outcome in application.intake.take_many(read_inputs([SAMPLES], source="demo")):
            counts[outcome.status] += 1
        _take_letters(application, console, counts)
        with application.db.read() as session:
            console.print(cases_table(list_rows(session), title="case register"))
            parked = session.exec(select(QuarantineEntry).where(QuarantineEntry.status == "parked")).all()
        if parked:
            table = Table(title="quarantine")
            for col in ("id", "source", "stage", "reason"):
                table.add_column(col, overflow="fold", max_width=60)
            for e in parked:
                table.add_row(str(e.id), Path(e.source_ref).name, e.stage, e.reason)
            console.print(table)
        _demo_outbound(application, console)
        _demo_report(application, console)
    finally:
        application.close()
    summary = "  ".join(f"{k}: {counts.get(k, 0)}" for k in ("created", "threaded", "duplicate", "quarantined"))
    console.print(f"\nthis run: {summary}")
    console.print("next: [bold]ingestd cases show CASE_NO[/bold], [bold]ingestd quarantine list[/bold], "
                  "[bold]ingestd cases export --format jsonl[/bold], [bold]ingestd outbox list --all[/bold], "
                  "[bold]ingestd reply CASE_NO --file reply.txt[/bold], [bold]ingestd case due CASE_NO[/bold], "
                  "[bold]ingestd report monthly[/bold]")


DEMO_REPLY = ("经核查，您反映的问题已转交相关部门处理，相关部门已与商家沟通。\n\n"
              "商家同意在七个工作日内为您办理退换货，并承担往返运费。如有其他问题，请随时与我们联系。")


def _demo_outbound(application, console: Console) -> None:  # type: ignore[no-untyped-def]
    """Send what intake queued (acknowledgements, notifications) to ./var/outbox/ as .eml files, and write
    one formal reply (e-mail and PDF letter) for the first case."""
    from sqlmodel import func

    from ingestd.store.models import Case, OutboxMessage

    outbound = application.outbound
    if outbound is None or not outbound.config.enabled:
        return
    with application.db.read() as session:
        first = session.exec(select(Case.case_no).order_by(Case.id)).first()
    reply = outbound.reply(first, DEMO_REPLY, actor="demo", letter=True) if first else None
    outbound.drain()
    with application.db.read() as session:
        rows = session.exec(select(OutboxMessage.kind, func.count()).group_by(OutboxMessage.kind)).all()
    summary = ", ".join(f"{kind}: {n}" for kind, n in sorted(rows)) or "none"
    console.print(f"\noutgoing mail ({summary}) as .eml files in [bold]{outbound.outbox_dir}/[/bold]")
    if reply is not None and reply.letter is not None:
        console.print(f"formal reply to {reply.case_no}: e-mail in the outbox, letter [bold]{reply.letter}[/bold]")


def _demo_report(application, console: Console) -> None:  # type: ignore[no-untyped-def]
    """This month's statistics for the demo's cases (a real run makes last month's on the 1st)."""
    from ingestd.reports.monthly import make_monthly
    now = application.clock.now().astimezone(application.settings.work_calendar().zone)
    report, paths = make_monthly(application, f"{now:%Y-%m}")
    console.print(f"monthly report {report.month} ({report.current.total} complaints): [bold]{paths[0]}[/bold] "
                  f"and {len(paths) - 1} CSV file(s)")


def _take_letters(application, console: Console, counts: Counter[str]) -> None:  # type: ignore[no-untyped-def]
    """The sample scanned letters through the scan-folder path (OCR worker, channel letter); files stay put."""
    scans = sorted(p for p in LETTERS.glob("*") if p.suffix.lower() in SCAN_SUFFIXES)
    if not scans:
        return
    console.print(f"{len(scans)} sample scanned letters from {LETTERS} (OCR, a few seconds each the first time)\n")
    config = application.settings.scans[0] if application.settings.scans else ScanFolder(name="demo", path=LETTERS)
    reader = LetterReader(config, known=application.intake._known_digests)
    try:
        raws = (reader.letter(p.read_bytes(), p.name, source=f"scan:{config.name}",
                                source_ref=str(p)) for p in scans)
        for _raw, outcome in application.intake.take_many(raws):
            counts[outcome.status] += 1
    except OcrUnavailable as exc:
        console.print(f"[yellow]scanned letters skipped: {exc}[/yellow]")
    finally:
        reader.close()
