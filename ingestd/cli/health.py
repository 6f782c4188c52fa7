"""`ingestd health [--json] [--metrics]`: exit status 0 ok, 1 warning, 2 critical (monitoring-plugin style)."""

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
    result = collect(application)
    if metrics:
        typer.echo(prometheus(result), nl=False)
    elif as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        for check in result.checks:
            typer.echo(f"{NAMES[check.status]:8} {check.name:11} {check.detail}")
        typer.echo(f"ingestd {NAMES[result.status]}")
    raise typer.Exit(result.status)
