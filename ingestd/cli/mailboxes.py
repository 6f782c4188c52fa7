"""`ingestd mailboxes check`: log in to every configured mailbox and say what a pass would take."""

from __future__ import annotations

from collections import Counter

import typer
from rich.console import Console
from rich.table import Table

from ingestd.cli.context import state

app = typer.Typer(no_args_is_help=True, help="IMAP mailboxes from the config.")
WATCHED_CAPS = ("IDLE", "MOVE", "UIDPLUS")


@app.command()
def check() -> None:
    """Log in to each mailbox; report capabilities (IDLE, MOVE, UIDPLUS), folder counts and what would be
    taken. Read-only: nothing is fetched, flagged or moved. Exit 1 if any mailbox or folder fails."""
    from ingestd.sources.imap import MailboxSource
    from ingestd.store.db import Database

    settings = state.config().settings
    console = Console()
    if not settings.mailboxes:
        console.print("no mailboxes configured")
        return
    db = Database(settings.store.database_url)
    db.migrate()
    failed = False
    try:
        for mb in settings.mailboxes:
            report = MailboxSource(mb, db).check()
            where = f"{mb.username} @ {mb.host}:{mb.effective_port} ({mb.tls})"
            if report.fault is not None:
                failed = True
                console.print(f"[bold]{mb.name}[/]  {where}  [red]FAILED[/]: {report.fault.message}")
                continue
            caps = "  ".join(f"{c} {'yes' if c in report.capabilities else 'no'}" for c in WATCHED_CAPS)
            console.print(f"[bold]{mb.name}[/]  {where}  [green]login OK[/]  {caps}  after: {_after(mb)}")
            table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
            for col in ("folder", "messages", "unseen", "uidvalidity", "would take", "note"):
                table.add_column(col, justify="right" if col in ("messages", "unseen", "would take") else "left")
            for f in report.folders:
                if not f.exists:
                    failed = True
                    table.add_row(f.folder, "-", "-", "-", "-", f"[red]{f.note}[/]")
                else:
                    table.add_row(f.folder, str(f.messages), str(f.unseen), str(f.uidvalidity), str(f.would_take),
                                  f.note)
            console.print(table)
    finally:
        db.dispose()
    if failed:
        raise typer.Exit(1)


def _after(mb: object) -> str:
    after = getattr(mb, "after", "")
    return f"move to {mb.move_to}" if after == "move" else after  # type: ignore[attr-defined]


def imap_name(arg: object) -> str | None:
    """`imap://desk` → `desk` (also after Path() has folded the slashes: `imap:/desk`); else None."""
    text = str(arg)
    if not text.lower().startswith("imap:"):
        return None
    return text[5:].lstrip("/").rstrip("/") or None


class BarProgress:
    """A rich progress bar fed by IMAP passes, whose total grows as folders are searched. Silent when
    stderr is not a terminal (the source logs its progress there)."""

    def __init__(self, label: str = "taking") -> None:
        import sys

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), disable=not sys.stderr.isatty())
        self.task = self.bar.add_task(label, total=0)
        self.total = 0

    def add_total(self, n: int) -> None:
        self.total += n
        self.bar.update(self.task, total=self.total)

    def advance(self, n: int = 1) -> None:
        self.bar.advance(self.task, n)

    def __enter__(self) -> BarProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]


def ingest_mailboxes(application: object, names: list[str]) -> tuple[Counter[str], bool]:
    """`ingestd ingest imap://NAME`: one pass over the named configured mailboxes, with a progress bar.
    Returns the counts and whether every folder was taken without a fault."""
    from ingestd.app import App

    assert isinstance(application, App)
    known = {m.name: m for m in application.mailboxes}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise typer.BadParameter(f"no mailbox named {', '.join(unknown)} in the config "
                                 f"(configured: {', '.join(known) or 'none'})")
    counts: Counter[str] = Counter()
    with BarProgress() as progress:
        for name in names:
            counts += known[name].take_once(application.intake, progress=progress)
    faults = [f for n in names for f in known[n].faults]
    for fault in faults:
        typer.echo(f"error: {fault.message}", err=True)
    return counts, not faults
