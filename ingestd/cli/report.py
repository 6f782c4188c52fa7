"""`ingestd report monthly [--month 2026-10] [--out DIR] [--pdf] [--send]`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ingestd.cli.context import state

app = typer.Typer(no_args_is_help=True, help="Complaint statistics.")
console = Console()


@app.command("monthly")
def monthly(
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM (default: last month).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder (default: reports.out_dir or var/reports).")] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also a PDF of the report.")] = False,
    send: Annotated[bool, typer.Option("--send", help="E-mail it to reports.recipients (via the outbox).")] = False,
) -> None:
    """The monthly report: counts by channel, category, grade and department; timeliness; handling time;
    overdue cases; repeats; return-visit satisfaction; the rules that fired most; beside the previous month
    and the same month last year. Case numbers only: no personal data."""
    from ingestd.reports.monthly import make_monthly, month_of

    application = state.app()
    try:
        which = month_of(month, application.clock.now(), application.settings.work_calendar().zone)
    except ValueError:
        raise typer.BadParameter(f"--month {month!r}: write it as YYYY-MM, e.g. 2026-10") from None
    report, paths = make_monthly(application, which, out_dir=out, pdf=pdf or None, send=send)
    if send and application.outbound is not None:
        application.outbound.drain()
    console.print(f"report {which}: {report.current.total} complaints; written:")
    for path in paths:
        console.print(f"  {path}")
