"""`ingestd route --explain FILE|CASE_NO` and `ingestd route --replay --since DATE [--apply]`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import select

from ingestd.cli.cases import case_or_exit
from ingestd.cli.context import state
from ingestd.config.loader import ConfigError
from ingestd.routing.engine import Facts, Router
from ingestd.routing.explain import show
from ingestd.routing.loader import load_router
from ingestd.routing.text import fold
from ingestd.store.models import Attachment, Case, Message
from ingestd.store.register import Register

console = Console()


def route(
    explain: Annotated[str | None, typer.Option("--explain", help="An .eml file or a case number.")] = None,
    replay: Annotated[bool, typer.Option("--replay", help="Re-evaluate stored cases against the current rules.")] = False,
    since: Annotated[str | None, typer.Option("--since", help="With --replay: cases received on or after this date.")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="With --replay: store the new decisions (logged as events).")] = False,
) -> None:
    """Try routing rules: explain one decision, or replay stored cases. Nothing is stored without --apply."""
    if bool(explain) == bool(replay):
        raise typer.BadParameter("give --explain FILE|CASE_NO or --replay --since DATE")
    router = _router()
    if explain:
        _explain(router, explain)
    else:
        _replay(router, _parse_date(since), apply)


def _router() -> Router:
    settings = state.config().settings
    if settings.routing.file is None:
        typer.echo("no routing file configured ([routing] file = ...)", err=True)
        raise typer.Exit(2)
    try:
        return load_router(settings.routing.file)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None


def _explain(router: Router, target: str) -> None:
    path = Path(target)
    if path.is_file():
        from ingestd.pipeline.items import Parsed, RawInput
        from ingestd.pipeline.runner import receive_and_parse

        parsed = receive_and_parse(RawInput(data=path.read_bytes(), source="explain", source_ref=str(path)),
                                   state.config().settings.limits)
        if not isinstance(parsed, Parsed):
            typer.echo(f"{path}: would be quarantined: {parsed.reason}", err=True)
            raise typer.Exit(1)
        decision = router.classify(parsed)
        show(console, decision, subject=parsed.email.subject, title=str(path),
             description=parsed.email.description or parsed.email.body_text)
        return
    application = state.app()
    with application.db.read() as session:
        case = case_or_exit(session, target, f"{target}: neither a file nor a case number")
        decision = router.decide(facts_of(session, case))
    show(console, decision, subject=case.subject, description=case.description,
         title=f"{case.case_no} (stored: {case.department} / {case.grade})")


def facts_of(session, case: Case) -> Facts:  # type: ignore[no-untyped-def]
    """What routing sees, rebuilt from a stored case (its first inbound message and attachments)."""
    first = session.exec(select(Message).where(Message.case_id == case.id, Message.direction == "in")
                         .order_by(Message.id)).first()
    names = session.exec(select(Attachment.filename).where(Attachment.case_id == case.id)).all()
    fields = case.fields or {}
    return Facts(subject=fold(case.subject), description=fold(case.description), attachments=fold("\n".join(names)),
                 sender=(first.from_addr or "") if first else "", mailbox=fields.get("mailbox") or "",
                 source=case.source, channel=case.channel, repeat="repeat" in (case.flags or []))


def _replay(router: Router, since: datetime, apply: bool) -> None:
    application = state.app()
    now = application.clock.now()
    changes = []
    with application.db.write() as session:
        cases = session.exec(select(Case).where(Case.received_at >= since).order_by(Case.id)).all()
        register = Register(session)
        for case in cases:
            decision = router.decide(facts_of(session, case))
            before = (case.department, case.category, case.grade)
            after = (decision.department, decision.category, decision.grade)
            if before == after:
                continue
            changes.append((case.case_no, before, after, decision.decided_by))
            if apply:
                case.department, case.category, case.grade = after
                case.rule_hits, case.updated_at = decision.rule_hits, now
                case.flags = list(dict.fromkeys([*(case.flags or []), *decision.flags]))
                session.add(case)
                register.log_event(case.id, "case.rerouted", now, actor="route --replay",
                                   before=dict(zip(("department", "category", "grade"), before, strict=True)),
                                   after=dict(zip(("department", "category", "grade"), after, strict=True)),
                                   rule=decision.decided_by)
        if not apply:
            session.rollback()
    table = Table(title=f"{len(changes)} of {len(cases)} cases would change" if not apply
                  else f"{len(changes)} of {len(cases)} cases changed")
    for col in ("case", "department", "category", "grade", "by rule"):
        table.add_column(col)
    for case_no, before, after, rule in changes:
        table.add_row(case_no, *(f"{b or '-'} → {a or '-'}" if b != a else (a or "-") for b, a in zip(before, after,
                                                                                                       strict=True)), rule)
    console.print(table)
    if changes and not apply:
        console.print("nothing was changed; run again with --apply to store these decisions")


def _parse_date(value: str | None) -> datetime:
    if not value:
        raise typer.BadParameter("--replay needs --since DATE (e.g. 2026-11-01)")
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"--since: {exc}") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
