"""The `ingestd` command line."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from loguru import logger
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ingestd.cli import case as case_cmd
from ingestd.cli import cases as cases_cmd
from ingestd.cli import health as health_cmd
from ingestd.cli import mailboxes as mailboxes_cmd
from ingestd.cli import outbox as outbox_cmd
from ingestd.cli import quarantine as quarantine_cmd
from ingestd.cli import reply as reply_cmd
from ingestd.cli import report as report_cmd
from ingestd.cli import route as route_cmd
from ingestd.cli.context import State, state
from ingestd.config import ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="ingestd: complaint intake from mailboxes, scan folders and files into a case register.")
app.add_typer(cases_cmd.app, name="cases")
app.add_typer(case_cmd.app, name="case")
app.add_typer(report_cmd.app, name="report")
app.command("health")(health_cmd.health)
app.command("sweep-blobs")(health_cmd.sweep_blobs)
app.add_typer(quarantine_cmd.app, name="quarantine")
app.add_typer(mailboxes_cmd.app, name="mailboxes")
app.command("route")(route_cmd.route)
app.add_typer(outbox_cmd.app, name="outbox")
app.command("reply")(reply_cmd.reply)
console = Console()


@app.callback()
def _global(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config file (default: $INGESTD_CONFIG, "
                                                "then ./config/ingestd.toml, then built-in defaults).")] = None,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log as JSON lines.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only.")] = False,
) -> None:
    state.config_path = config
    state.log_json = log_json
    state.log_level = "DEBUG" if verbose else "WARNING" if quiet else None


@app.command()
def run(once: Annotated[bool, typer.Option("--once", help="One pass over every source, then exit.")] = False) -> None:
    """Run the daemon: poll every configured source until SIGTERM."""
    from ingestd.daemon import run_forever, run_once

    application = state.app()
    try:
        if once:
            with mailboxes_cmd.BarProgress() as progress:
                counts = run_once(application, progress=progress)
            _print_counts(counts)
        else:
            run_forever(application)
    finally:
        application.close()


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help=".eml files, mbox files, Maildir folders, or folders of them; "
                                                     "or imap://NAME for a configured mailbox (taken once).")],
    workers: Annotated[int | None, typer.Option(help="Parser processes (default: one per core).")] = None,
) -> None:
    """Take messages from files (read-only: nothing is moved). Running it again adds nothing."""
    from ingestd.sources.files import count_inputs, read_inputs

    application = state.app()
    mailbox_names = [n for n in map(mailboxes_cmd.imap_name, paths) if n]
    if mailbox_names:
        try:
            if len(mailbox_names) != len(paths):
                raise typer.BadParameter("give either imap://NAME mailboxes or files, not both")
            counts, ok = mailboxes_cmd.ingest_mailboxes(application, mailbox_names)
        finally:
            application.close()
        _print_counts(counts)
        raise typer.Exit(0 if ok else 1)
    for p in paths:
        if not p.exists():
            raise typer.BadParameter(f"no such file or folder: {p}")
    total = count_inputs(paths)
    counts: Counter[str] = Counter()
    try:
        with _progress(total) as (progress, task):
            for _raw, outcome in application.intake.take_many(read_inputs(paths), workers=workers):
                counts[outcome.status] += 1
                progress.advance(task)
    finally:
        application.close()
    _print_counts(counts)


@app.command()
def deliver() -> None:
    """Take one message from standard input (for an MTA pipe). Exit 75 (tempfail) if it could not be stored."""
    from ingestd.sources.stdin import EX_TEMPFAIL, read_stdin

    raw = read_stdin()
    application = None
    try:
        application = state.app()
        outcome = application.intake.take(raw)
    except Exception as exc:  # the MTA keeps the message and retries
        logger.bind(source="stdin").error("could not store the message, asking the MTA to retry: {}", exc)
        raise typer.Exit(EX_TEMPFAIL) from None
    finally:
        if application is not None:
            _close_quietly(application)  # the exit status says whether the message was stored, nothing else
    console.print(f"{outcome.status} {outcome.case_no or ''} {outcome.reason or ''}".strip())


def _close_quietly(application: Any) -> None:
    try:
        application.close()
    except Exception as exc:
        logger.bind(source="stdin").warning("closing after delivery: {}: {}", type(exc).__name__, exc)


@app.command("check-config")
def check_config() -> None:
    """Validate the config (and everything it refers to); print `file:line: problem` and exit 2 on errors."""
    from ingestd.config.check import check

    problems = check(state.config_path)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise typer.Exit(2)
    typer.echo("config OK")


@app.command()
def demo() -> None:
    """Ingest the bundled sample complaints into ./var and show the register."""
    from ingestd.demo import run_demo

    run_demo(console)


def _print_counts(counts: Counter[str]) -> None:
    order = ["created", "threaded", "duplicate", "quarantined"]
    parts = [f"{k}: {counts.get(k, 0)}" for k in order]
    console.print(f"inputs: {sum(counts.values())}  " + "  ".join(parts))


class _progress:
    """A progress bar on a terminal; silent when output is not a terminal (logs tell the story there)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar = Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), disable=not sys.stderr.isatty() or total < 2)

    def __enter__(self):  # type: ignore[no-untyped-def]
        self.bar.__enter__()
        return self.bar, self.bar.add_task("ingest", total=self.total)

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)  # type: ignore[arg-type]


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        sys.exit(2)


__all__ = ["State", "app", "main"]
