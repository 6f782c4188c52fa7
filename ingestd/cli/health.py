"""`ingestd health [--json] [--metrics]` (exit status 0 ok, 1 warning, 2 critical, monitoring-plugin style) and
`ingestd sweep-blobs`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ingestd.cli.context import state


def health(
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    metrics: Annotated[bool, typer.Option("--metrics", help="Print the Prometheus metrics instead.")] = False,
) -> None:
    """Check the register, the outbox and the quarantine; exit 0 (ok), 1 (warning) or 2 (critical)."""
    from ingestd.ops.health import NAMES, collect, prometheus

    application = state.app(migrate=False)  # a register that is down is an answer, not a crash
    try:
        result = collect(application)
    finally:
        application.close()
    if metrics:
        typer.echo(prometheus(result), nl=False)
    elif as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        for check in result.checks:
            typer.echo(f"{NAMES[check.status]:8} {check.name:11} {check.detail}")
        typer.echo(f"ingestd {NAMES[result.status]}")
    raise typer.Exit(result.status)


def sweep_blobs(
    min_age: Annotated[float, typer.Option("--min-age-seconds", help="Keep blobs younger than this (a "
                                           "transaction in flight may own them).")] = 3600.0,
) -> None:
    """Remove blob files no row refers to (left by a crash between writing them and the commit)."""
    from ingestd.ops.sweep import sweep_blobs as sweep

    application = state.app()
    try:
        removed = sweep(application.db, application.blobs, min_age_seconds=min_age)
    finally:
        application.close()
    typer.echo(f"removed {len(removed)} orphaned blob file(s)")
