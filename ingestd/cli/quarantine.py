"""`ingestd quarantine list|show|retry`: inputs that could not be taken, and putting them back."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import select

from ingestd.cli.context import state
from ingestd.pipeline.items import RawInput
from ingestd.store.models import QuarantineEntry

app = typer.Typer(no_args_is_help=True, help="Inputs that could not be taken: why, and putting them back.")
console = Console()


@app.command("list")
def list_entries(
    all_: Annotated[bool, typer.Option("--all", help="Include released entries.")] = False,
) -> None:
    application = state.app()
    with application.db.read() as session:
        query = select(QuarantineEntry).order_by(QuarantineEntry.id)
        if not all_:
            query = query.where(QuarantineEntry.status == "parked")
        rows = session.exec(query).all()
    table = Table(title=f"quarantine ({len(rows)})")
    for col in ("id", "kind", "stage", "tries", "last"):
        table.add_column(col, no_wrap=True)
    table.add_column("source", no_wrap=True, max_width=32, overflow="ellipsis")
    table.add_column("reason", overflow="fold", min_width=30)
    for e in rows:
        table.add_row(str(e.id), e.kind, e.stage, str(e.attempts), e.last_at.strftime("%m-%d %H:%M"),
                      "…" + e.source_ref[-31:] if len(e.source_ref) > 32 else e.source_ref or e.source, e.reason)
    console.print(table)


@app.command("show")
def show(entry_id: int, raw: Annotated[bool, typer.Option("--raw", help="Write the raw bytes to stdout.")] = False):  # type: ignore[no-untyped-def]
    application = state.app()
    with application.db.read() as session:
        entry = session.get(QuarantineEntry, entry_id)
    if entry is None:
        typer.echo(f"no quarantine entry {entry_id}", err=True)
        raise typer.Exit(1)
    if raw:
        import sys

        sys.stdout.buffer.write(application.blobs.read(entry.raw_sha256))
        return
    for label, value in [("id", entry.id), ("status", entry.status), ("kind", entry.kind), ("stage", entry.stage),
                         ("reason", entry.reason), ("attempts", entry.attempts), ("first", entry.first_at),
                         ("last", entry.last_at), ("source", entry.source), ("ref", entry.source_ref),
                         ("size", entry.size), ("sha256", entry.raw_sha256),
                         ("raw", application.blobs.path(entry.raw_sha256))]:
        console.print(f"[dim]{label:>9}[/dim]  {value}", markup=True, highlight=False)
    if entry.traceback:
        console.print("\n" + entry.traceback, markup=False)


@app.command("retry")
def retry(
    entry_ids: Annotated[list[int] | None, typer.Argument(help="Entries to put back.")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="Every parked entry of kind 'failed'.")] = False,
) -> None:
    """Run parked inputs through intake again (after a fix). Still-bad input goes back to quarantine."""
    application = state.app()
    with application.db.read() as session:
        query = select(QuarantineEntry).where(QuarantineEntry.status == "parked")
        if all_failed:
            query = query.where(QuarantineEntry.kind == "failed")
        elif entry_ids:
            query = query.where(QuarantineEntry.id.in_(entry_ids))  # type: ignore[union-attr]
        else:
            raise typer.BadParameter("give entry ids or --all-failed")
        entries = session.exec(query).all()
    for entry in entries:
        outcome = retry_entry(application, entry)
        console.print(f"{entry.id}: {outcome.status} {outcome.case_no or outcome.reason or ''}")


def retry_entry(application, entry: QuarantineEntry):  # type: ignore[no-untyped-def]
    """Take the parked bytes again; success releases the entry in the same transaction, a new failure
    parks it again with one more attempt."""
    data = application.blobs.read(entry.raw_sha256)
    if entry.source.startswith("scan:"):  # a scanned letter: read it again (OCR), as its scan folder would
        return _retry_letter(application, entry, data)
    raw = RawInput(data=data, source=entry.source, source_ref=entry.source_ref)
    return application.intake.take(raw, retry=True)


def _retry_letter(application, entry: QuarantineEntry, data: bytes):  # type: ignore[no-untyped-def]
    """With the settings of the scan folder it came from; if that folder is no longer configured, the defaults."""
    from ingestd.config.scans import ScanFolder
    from ingestd.sources.scans import LetterReader

    name = entry.source.split(":", 1)[1] or "retry"
    config = next((s for s in application.settings.scans if s.name == name), None) \
        or ScanFolder(name=name, path=application.settings.store.data_dir)
    reader = LetterReader(config)  # no `known` check: a parked scan is by definition not recorded yet
    try:
        filename = entry.source_ref.rsplit("/", 1)[-1] or "letter"
        raw = reader.letter(data, filename, source=entry.source, source_ref=entry.source_ref)
        return application.intake.take(raw, retry=True)
    finally:
        reader.close()
