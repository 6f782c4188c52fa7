"""`ingestd case ACTION CASE_NO ...`: what the complaint desk (or a department without mail) does to a case.

The same rules as the e-mail commands (ingestd.casework.actions), with the desk's rights: it may reroute at
any time. Each action is one transaction; what it queues (notifications, progress notices, the formal
reply) is sent at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ingestd.casework.policy import DESK  # light; casework.actions loads the register, so only when a command runs
from ingestd.cli.context import state

if TYPE_CHECKING:
    from ingestd.casework.actions import Casework

app = typer.Typer(no_args_is_help=True, help="Act on a case: reroute, extend, reply, close, withdraw, visit, ...")
console = Console()

ActorOpt = Annotated[str, typer.Option("--as", help="Who acts: desk (default) or department:KEY.")]


def _act(case_no: str, action: Callable[[Casework, Any, Any, Any], Any], done: str) -> None:
    from jinja2 import TemplateError

    from ingestd.casework.actions import ActionError
    from ingestd.cli.cases import case_or_exit

    application = state.app()
    casework = application.casework
    assert casework is not None
    now = application.clock.now()
    try:
        with application.db.write() as session:
            case = case_or_exit(session, case_no)
            action(casework, session, case, now)
            summary = f"{case.case_no}: {done} (status {case.status})"
    except ActionError as exc:
        typer.echo(f"{case_no}: refused: {exc}", err=True)
        raise typer.Exit(2) from None
    except TemplateError as exc:  # the notice this action sends: a template the sandbox refused (nothing committed)
        from ingestd.cli.reply import template_refused

        typer.echo(f"{case_no}: {template_refused(exc)}", err=True)
        raise typer.Exit(1) from None
    if application.outbound is not None:
        application.outbound.drain()
    console.print(summary)


@app.command("reroute")
def reroute(case_no: str, department: str, reason: Annotated[str, typer.Argument(help="Why (required).")],
            actor: ActorOpt = DESK) -> None:
    """Hand the case to another department (a department: within actions.reroute_within of receiving it)."""
    _act(case_no, lambda cw, s, c, now: cw.reroute(s, c, department, reason, now, actor=actor),
         f"rerouted to {department}")


@app.command("extend")
def extend(case_no: str, days: int, reason: Annotated[str, typer.Argument(help="Why (required).")],
           actor: ActorOpt = DESK) -> None:
    """N more working days to resolve; the complainant gets a progress notice."""
    _act(case_no, lambda cw, s, c, now: cw.extend(s, c, days, reason, now, actor=actor),
         f"extended by {days} working day(s)")


@app.command("answer")
def answer(case_no: str, note: Annotated[str, typer.Argument()] = "", actor: ActorOpt = DESK) -> None:
    """Record the department's first answer (e.g. given by phone)."""
    _act(case_no, lambda cw, s, c, now: cw.answer(s, c, now, actor=actor, note=note), "first answer recorded")


@app.command("reply")
def reply(case_no: str, file: Annotated[Path, typer.Option("--file", exists=True, dir_okay=False,
                                                             help="The reply text (UTF-8).")],
          actor: ActorOpt = DESK) -> None:
    """The formal written reply (e-mail and/or PDF letter); the return visit becomes due."""
    text = file.read_text(encoding="utf-8")
    _act(case_no, lambda cw, s, c, now: cw.reply(s, c, text, now, actor=actor), "formal reply sent")


@app.command("ack")
def ack(case_no: str, how: Annotated[str, typer.Argument(help="How, e.g. 'phoned', 'receipt posted'.")],
        actor: ActorOpt = DESK) -> None:
    """Record that a letter's complainant was acknowledged another way."""
    _act(case_no, lambda cw, s, c, now: cw.acknowledge(s, c, now, actor=actor, how=how), "acknowledged")


@app.command("invalid")
def invalid(case_no: str, reason: str, actor: ActorOpt = DESK) -> None:
    """Not a complaint (spam, a newsletter, a misdirected letter)."""
    _act(case_no, lambda cw, s, c, now: cw.invalid(s, c, reason, now, actor=actor), "invalid")


@app.command("close")
def close(case_no: str, note: Annotated[str, typer.Argument()] = "", actor: ActorOpt = DESK) -> None:
    _act(case_no, lambda cw, s, c, now: cw.close(s, c, now, actor=actor, note=note), "closed")


@app.command("withdraw")
def withdraw(case_no: str, reason: Annotated[str, typer.Argument(help="The complainant's reason (required).")],
             actor: ActorOpt = "complainant") -> None:
    """撤诉: the complainant withdraws the complaint."""
    _act(case_no, lambda cw, s, c, now: cw.withdraw(s, c, reason, now, actor=actor), "withdrawn")


@app.command("visit")
def visit(case_no: str,
          satisfied: Annotated[bool, typer.Option("--satisfied/--unsatisfied", help="The complainant's verdict.")],
          note: Annotated[str, typer.Option("--note")] = "", actor: ActorOpt = DESK) -> None:
    """回访: record the return visit. Unsatisfied reopens the case and escalates it."""
    _act(case_no, lambda cw, s, c, now: cw.visit(s, c, satisfied, now, actor=actor, note=note),
         "visit recorded: " + ("satisfied" if satisfied else "unsatisfied, reopened and escalated"))


@app.command("grade")
def grade(case_no: str, new_grade: str, reason: str, actor: ActorOpt = DESK) -> None:
    """Change the grade; the deadlines follow."""
    _act(case_no, lambda cw, s, c, now: cw.regrade(s, c, new_grade, now, actor=actor, reason=reason),
         f"graded {new_grade}")


@app.command("due")
def due(case_no: str) -> None:
    """The case's deadlines and what it still owes."""
    from ingestd.casework.policy import open_deadlines
    from ingestd.cli.cases import case_or_exit

    application = state.app()
    zone = application.casework.calendar.zone if application.casework else None
    with application.db.read() as session:
        case = case_or_exit(session, case_no)
        owed = {kind for kind, _ in open_deadlines(case)}
        table = Table(title=f"{case.case_no}  {case.status}  grade {case.grade or '-'}  {case.department or '-'}")
        for column in ("deadline", "due", "done", "state"):
            table.add_column(column)
        now = application.clock.now()
        for kind, when, done_at in (("acknowledge", case.ack_due, case.acknowledged_at),
                                    ("first_answer", case.answer_due, case.answered_at),
                                    ("resolve", case.resolve_due, case.replied_at or case.closed_at),
                                    ("return_visit", case.visit_due, case.visited_at)):
            state_text = "owed" if kind in owed else ("done" if done_at else "-")
            if kind in owed and when is not None and when < now:
                state_text = "[red]overdue[/red]"
            table.add_row(kind, f"{when.astimezone(zone):%Y-%m-%d %H:%M}" if when else "-",
                          f"{done_at.astimezone(zone):%Y-%m-%d %H:%M}" if done_at else "-", state_text)
    console.print(table)
