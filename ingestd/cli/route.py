"""`ingestd route --explain FILE|CASE_NO` and `ingestd route --replay --since DATE [--apply]`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import or_, select

from ingestd.casework.policy import FINAL_STATES
from ingestd.casework.repeats import raised_grade
from ingestd.cli.cases import case_or_exit
from ingestd.cli.context import state
from ingestd.config.loader import ConfigError
from ingestd.routing.engine import Facts, Router
from ingestd.routing.explain import show
from ingestd.routing.loader import load_router
from ingestd.routing.text import fold
from ingestd.store.models import Attachment, Case, Message
from ingestd.store.register import Register
from outbound.responders import notify_department

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
        console.print("(a file is explained as a first-time complainant: the register is not looked at)",
                      style="dim")
        return
    application = state.app()
    with application.db.read() as session:
        case = case_or_exit(session, target, f"{target}: neither a file nor a case number")
        decision = router.decide(facts_of(session, case, application.settings.intake.repeat_window_days))
    show(console, decision, subject=case.subject, description=case.description,
         title=f"{case.case_no} (stored: {case.department} / {case.grade})")


def facts_of(session, case: Case, repeat_window_days: int = 90) -> Facts:  # type: ignore[no-untyped-def]
    """What routing saw, rebuilt from a stored case: its first inbound message, its attachments, and whether
    the complainant had an earlier case in the repeat window when this one came in (the question intake
    asked before classifying it)."""
    first = session.exec(select(Message).where(Message.case_id == case.id, Message.direction == "in")
                         .order_by(Message.id)).first()
    names = session.exec(select(Attachment.filename).where(Attachment.case_id == case.id)).all()
    fields = case.fields or {}
    return Facts(subject=fold(case.subject), description=fold(case.description), attachments=fold("\n".join(names)),
                 sender=(first.from_addr or "") if first else "", mailbox=fields.get("mailbox") or "",
                 source=case.source, channel=case.channel, repeat=_was_repeat(session, case, repeat_window_days))


def _was_repeat(session, case: Case, window_days: int) -> bool:  # type: ignore[no-untyped-def]
    conditions = [c for c in (Case.complainant_email == case.complainant_email if case.complainant_email else None,
                              Case.complainant_phone == case.complainant_phone if case.complainant_phone else None)
                  if c is not None]
    if not conditions:
        return False
    since = case.received_at - timedelta(days=window_days)
    return session.exec(select(Case.id).where(or_(*conditions), Case.id < case.id, Case.received_at >= since)
                        .limit(1)).first() is not None


def _rule_flags(rule_hits: list[dict] | None) -> set[str]:  # type: ignore[type-arg]
    return {f for hit in rule_hits or [] for f in hit.get("flags", [])}


def _replay(router: Router, since: datetime, apply: bool) -> None:
    application = state.app()
    window = application.settings.intake.repeat_window_days
    now = application.clock.now()
    changes = []
    notified = 0
    with application.db.write() as session:
        cases = session.exec(select(Case).where(Case.received_at >= since).order_by(Case.id)).all()
        register = Register(session)
        for case in cases:
            decision = router.decide(facts_of(session, case, window))
            if case.repeat_of is not None and "repeat" in (case.flags or []):  # 二次投诉 stays a grade up
                decision.grade = raised_grade(decision.grade, router.routing.grades,
                                              application.settings.repeats.raise_grades)
            before = (case.department, case.category, case.grade)
            after = (decision.department, decision.category, decision.grade)
            old_flags, new_flags = _rule_flags(case.rule_hits), set(decision.flags)
            if before == after and old_flags == new_flags:
                continue
            flag_change = " ".join([*(f"+{f}" for f in sorted(new_flags - old_flags)),
                                    *(f"-{f}" for f in sorted(old_flags - new_flags))])
            changes.append((case.case_no, before, after, flag_change, decision.decided_by))
            if apply:
                case.department, case.category, case.grade = after
                case.rule_hits, case.updated_at = decision.rule_hits, now
                # flags the old rules set and the new ones do not are dropped; flags from elsewhere stay
                kept = [f for f in case.flags or [] if f not in old_flags or f in new_flags]
                case.flags = list(dict.fromkeys([*kept, *decision.flags]))
                if application.casework is not None:  # deadlines follow the new grade and department
                    application.casework.recompute(session, case, now, why="route --replay")
                session.add(case)
                register.log_event(case.id, "case.rerouted", now, actor="route --replay",
                                   before=dict(zip(("department", "category", "grade"), before, strict=True)),
                                   after=dict(zip(("department", "category", "grade"), after, strict=True)),
                                   flags=flag_change, rule=decision.decided_by)
                if before[0] != after[0] and application.outbound is not None and case.status not in FINAL_STATES:
                    notified += notify_department(application.outbound, session, case.id, after[0], now,
                                                  reason="rerouted", register=register) is not None
        if not apply:
            session.rollback()
    verb = "changed" if apply else "would change"
    table = Table(title=f"{len(changes)} of {len(cases)} cases {verb} (since {since:%Y-%m-%d})")
    for col in ("case", "department", "category", "grade", "flags", "decided by"):
        table.add_column(col)
    for case_no, before, after, flag_change, rule in changes:
        cells = [f"{b or '-'} → {a or '-'}" if b != a else (a or "-") for b, a in zip(before, after, strict=True)]
        table.add_row(case_no, *cells, flag_change, rule)
    console.print(table)
    if changes and not apply:
        console.print("nothing was changed; run again with --apply to store these decisions")
    if notified and application.outbound is not None:  # the new departments hear of their cases now
        application.outbound.drain()
        console.print(f"{notified} department notification(s) sent for rerouted cases")


def _parse_date(value: str | None) -> datetime:
    if not value:
        raise typer.BadParameter("--replay needs --since DATE (e.g. 2026-11-01)")
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"--since: {exc}") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
