"""`ingestd outbox list|send`: outgoing mail, what is waiting, what failed and why."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import select

from ingestd.cli.context import state
from ingestd.store.models import Case, OutboxMessage

app = typer.Typer(no_args_is_help=True, help="Outgoing mail: acknowledgements, notifications, replies.")
console = Console()
STATUSES = ("queued", "sending", "sent", "failed", "bounced")


@app.command("list")
def list_outbox(
    status: Annotated[list[str] | None, typer.Option("--status", "-s", help=f"Only these: {', '.join(STATUSES)}.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include sent messages.")] = False,
    case_no: Annotated[str | None, typer.Option("--case", help="Only this case's messages.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows (newest first).")] = 200,
) -> None:
    """Outgoing messages not yet delivered, and those that failed or bounced (with the reason)."""
    for s in status or []:
        if s not in STATUSES:
            raise typer.BadParameter(f"unknown status {s!r} (use {', '.join(STATUSES)})")
    application = state.app()
    try:
        with application.db.read() as session:
            query = select(OutboxMessage, Case.case_no).join(Case, OutboxMessage.case_id == Case.id, isouter=True)
            if status:
                query = query.where(OutboxMessage.status.in_(status))  # type: ignore[attr-defined]
            elif not all_:
                query = query.where(OutboxMessage.status != "sent")
            if case_no:
                query = query.where(Case.case_no == case_no)
            rows = session.exec(query.order_by(OutboxMessage.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    finally:
        application.close()
    table = Table(title=f"outbox ({len(rows)})")
    for col in ("id", "status", "kind", "case", "to", "tries", "next / sent"):
        table.add_column(col, no_wrap=True)
    table.add_column("last error", overflow="fold", min_width=30)
    for row, number in rows:
        when = row.sent_at if row.status == "sent" else row.next_attempt_at if row.status == "queued" else None
        table.add_row(str(row.id), row.status, row.kind, number or "", row.to_addr, str(row.attempts),
                      when.strftime("%m-%d %H:%M") if when else "", row.last_error or "")
    console.print(table)


@app.command("send")
def send() -> None:
    """Deliver everything that is due now, then exit (`ingestd run` does this every few seconds)."""
    application = state.app()
    try:
        assert application.outbound is not None
        counts = application.outbound.drain()
    finally:
        application.close()
    console.print("outbox: " + ("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "nothing due"))
