"""`ingestd cases list|show|export|original`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from sqlmodel import select

from ingestd.cli.context import state
from ingestd.export import case_to_dict
from ingestd.store.blobs import BlobDamaged
from ingestd.store.models import Case, Message
from ingestd.store.originals import read_original

app = typer.Typer(no_args_is_help=True, help="Look at the case register.")
console = Console()


def cases_table(rows: list[tuple[Case, int]], title: str = "cases") -> Table:
    table = Table(title=title, show_lines=False, pad_edge=False, box=box.SIMPLE_HEAD)
    table.add_column("case", no_wrap=True, min_width=15)
    table.add_column("via", no_wrap=True, min_width=6)
    table.add_column("received", no_wrap=True, min_width=11)
    table.add_column("complainant", no_wrap=True, min_width=8, max_width=16, overflow="ellipsis")
    table.add_column("subject", no_wrap=True, max_width=30, overflow="ellipsis")
    table.add_column("department", no_wrap=True, min_width=10, max_width=16, overflow="ellipsis")
    table.add_column("grade", no_wrap=True, min_width=5, max_width=8, overflow="ellipsis")
    table.add_column("status", no_wrap=True, min_width=6)
    table.add_column("msgs", no_wrap=True, justify="right", min_width=4)
    for case, msgs in rows:
        who = case.complainant_name or case.complainant_email or ("(anonymous)" if case.anonymous else "")
        table.add_row(case.case_no, case.channel,
                      case.received_at.strftime("%m-%d %H:%M"), who, case.subject[:120], case.department or "",
                      case.grade or "", case.status, str(msgs))
    return table


def list_rows(session, limit: int | None = None, status: str | None = None):  # type: ignore[no-untyped-def]
    from sqlalchemy import func

    counts = select(Message.case_id, func.count().label("n")).group_by(Message.case_id).subquery()
    query = select(Case, counts.c.n).join(counts, counts.c.case_id == Case.id, isouter=True).order_by(Case.id)
    if status:
        query = query.where(Case.status == status)
    if limit:
        query = query.limit(limit)
    return [(c, n or 0) for c, n in session.exec(query).all()]


@app.command("list")
def list_cases(
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    status: Annotated[str | None, typer.Option(help="Only cases with this status.")] = None,
) -> None:
    """A table of cases, oldest first."""
    application = state.app()
    with application.db.read() as session:
        console.print(cases_table(list_rows(session, limit, status)))


def case_or_exit(session, case_no: str, missing: str | None = None) -> Case:  # type: ignore[no-untyped-def]
    """The case with this number, or a message on stderr and exit status 1."""
    case = session.exec(select(Case).where(Case.case_no == case_no)).first()
    if case is None:
        typer.echo(missing or f"no case {case_no}", err=True)
        raise typer.Exit(1)
    return case


@app.command("show")
def show(case_no: str, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Everything about one case: register entry, messages, attachments, history."""
    application = state.app()
    with application.db.read() as session:
        data = case_to_dict(session, case_or_exit(session, case_no))
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _print_case(data)


def _print_case(d: dict) -> None:  # type: ignore[type-arg]
    c = d["complainant"]
    console.rule(f"[bold]{d['case_no']}[/bold]  {d['status']}")
    grid = Table.grid(padding=(0, 2))
    for label, value in [
        ("channel", d["channel"]), ("received", d["received_at"]), ("source", d["source"]),
        ("complainant", c["name"] or ("(anonymous)" if c["anonymous"] else "")), ("email", c["email"]),
        ("phone", ", ".join(c["phones"])), ("address", c["address"]), ("department", d["department"]),
        ("category", d["category"]), ("grade", d["grade"]), ("flags", ", ".join(d["flags"])),
        ("repeat of", d["repeat_of"]), ("subject", d["subject"]), ("demands", d["demands"]),
    ]:
        if value:
            grid.add_row(f"[dim]{label}[/dim]", str(value))
    console.print(grid)
    console.print("\n[bold]description[/bold]")
    console.print(d["description"], markup=False)
    if d["rule_hits"]:
        console.print("\n[bold]why it went there[/bold] (rules that fired, in order)")
        for hit in d["rule_hits"]:
            matched = "; ".join(f"{field}: {', '.join(words)}" for field, words in hit.get("matched", {}).items())
            actions = ", ".join(f"{k}={hit[k]}" for k in ("department", "category", "grade") if hit.get(k))
            flags = f" flags={','.join(hit['flags'])}" if hit.get("flags") else ""
            console.print(f"  {hit.get('rule')} (weight {hit.get('weight', 0):g}) → {actions}{flags}  [{matched}]",
                          markup=False)
    console.print("\n[bold]messages[/bold]")
    for m in d["messages"]:
        console.print(f"  {m['direction']:3} {m['date'] or '':25} {m['from'] or '':30} {m['subject']}", markup=False)
    if d["attachments"]:
        console.print("\n[bold]attachments[/bold]")
        for a in d["attachments"]:
            console.print(f"  {a['filename']}  {a['content_type']}  {a['size']:,} bytes  {a['sha256'][:12]}",
                          markup=False)
    console.print("\n[bold]history[/bold]")
    for e in d["events"]:
        console.print(f"  {e['at']}  {e['kind']:20} {e['actor']:20} {json.dumps(e['detail'], ensure_ascii=False)}",
                      markup=False)


@app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", help="Only jsonl for now.")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of standard output.")] = None,
) -> None:
    """One JSON object per case, one per line."""
    if fmt != "jsonl":
        raise typer.BadParameter("only --format jsonl is supported")
    application = state.app()
    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        with application.db.read() as session:
            for case in session.exec(select(Case).order_by(Case.id)).yield_per(200):
                stream.write(json.dumps(case_to_dict(session, case), ensure_ascii=False) + "\n")
    finally:
        if out:
            stream.close()


@app.command("original")
def original(
    case_no: str,
    message: Annotated[int, typer.Option("--message", "-m", min=1, help=(
        "Which of the complainant's messages, in the order received (1: the one that opened the case)."))] = 1,
    out: Annotated[Path | None, typer.Option("--out", "-o", dir_okay=False,
                                             help="Write here instead of standard output.")] = None,
) -> None:
    """A message of the complainant's exactly as it came in (an e-mail's .eml, a letter's scan), checked against
    the SHA-256 taken at intake: what a dispute about what was said rests on, and what a mail program opens."""
    application = state.app()
    with application.db.read() as session:
        case = case_or_exit(session, case_no)
        digests = list(session.exec(
            select(Message.raw_sha256).where(Message.case_id == case.id, Message.direction == "in",
                                             Message.raw_sha256.is_not(None))  # type: ignore[union-attr]
            .order_by(Message.created_at, Message.id)))  # type: ignore[arg-type]
        if message > len(digests):
            typer.echo(f"{case_no} has {len(digests)} message(s) from the complainant; there is no message {message}",
                       err=True)
            raise typer.Exit(1)
        digest = digests[message - 1]
        assert digest is not None
        try:
            data, _ = read_original(session, application.blobs, digest)
        except FileNotFoundError:
            typer.echo(f"the original of {case_no} message {message} is missing: neither the register nor "
                       f"{application.blobs.path(digest)} holds it", err=True)
            raise typer.Exit(1) from None
        except BlobDamaged as exc:
            typer.echo(f"the stored original of {case_no} message {message} does not match the SHA-256 taken at "
                       f"intake ({digest}): it is damaged ({exc})", err=True)
            raise typer.Exit(1) from None
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    out.write_bytes(data)
    typer.echo(f"wrote {len(data):,} bytes to {out}")
