"""Replies that move a case, handled inside the intake transaction of the reply itself.

- A department's reply to our mail about a case (recognised by `outbound.responders.DepartmentReplyResponder`):
  a command on its first line (`#reroute DEPT reason`, `#reply`, `#extend N reason`, `#invalid reason`,
  `#close`) is carried out; anything else is the department's answer. Only the department that holds the case
  may act; a refused command is logged on the case with the reason and the reply stays a plain response.
- A complainant's reply: a withdrawal (撤诉) withdraws the case with their words as the reason; after the formal
  reply, "satisfied" / "not satisfied" is the return visit's result.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from ingestd.casework.actions import ActionError, Casework
from ingestd.casework.commands import (
    CommandError,
    extend_args,
    parse_command,
    reroute_args,
    satisfaction_in,
    withdrawal_reason,
)
from ingestd.pipeline.respond import ResponseContext
from ingestd.store.models import Case, CaseEvent


def department_reply(casework: Casework, ctx: ResponseContext, department: str, sender: str) -> None:
    session = ctx.register.session
    case = session.get(Case, ctx.recorded.case_id)
    assert case is not None
    email = ctx.parsed.email
    text = email.description or email.body_text
    command = parse_command(text)
    actor = f"department:{department}"
    if department != case.department:
        _refused(ctx, case, command.name if command else "answer", actor,
                 f"{department} no longer holds this case (now {case.department})")
        return
    try:
        if command is None:
            casework.answer(session, case, ctx.now, actor=actor, note=text[:500])
        elif command.name == "reroute":
            target, reason = reroute_args(command.args)
            casework.reroute(session, case, target, reason, ctx.now, actor=actor)
        elif command.name == "reply":
            casework.reply(session, case, command.body, ctx.now, actor=actor)
        elif command.name == "extend":
            days, reason = extend_args(command.args)
            casework.extend(session, case, days, reason, ctx.now, actor=actor)
        elif command.name == "invalid":
            casework.invalid(session, case, command.args, ctx.now, actor=actor)
        elif command.name == "close":
            casework.close(session, case, ctx.now, actor=actor, note=command.args)
    except (ActionError, CommandError) as exc:
        _refused(ctx, case, command.name if command else "answer", actor, str(exc))
        return
    if command is not None:
        logger.bind(case=case.case_no).info("#{} by {}", command.name, department)


def _refused(ctx: ResponseContext, case: Case, command: str, actor: str, reason: str) -> None:
    ctx.register.session.add(CaseEvent(case_id=case.id, at=ctx.now, kind="command.refused", actor=actor,
                                       detail={"command": command, "reason": reason}))
    logger.bind(case=case.case_no).warning("#{} refused: {}", command, reason)


class ComplainantReplyResponder:
    """Withdrawal and return-visit answers in the complainant's own replies."""

    name = "casework.complainant_replies"

    def __init__(self, casework: Casework) -> None:
        self.casework = casework

    def respond(self, ctx: ResponseContext) -> None:
        email = ctx.parsed.email
        if ctx.recorded.created or email.is_bounce or not email.from_addr:
            return
        session = ctx.register.session
        case = session.get(Case, ctx.recorded.case_id)
        if case is None or not _from_complainant(case, email.from_addr):
            return
        text = email.description or email.body_text
        actor = "complainant"
        try:
            reason = withdrawal_reason(text)
            if reason is not None:
                self.casework.withdraw(session, case, reason, ctx.now, actor=actor)
                return
            if case.status == "replied" and case.visited_at is None:
                verdict = satisfaction_in(text)
                if verdict is not None:
                    self.casework.visit(session, case, verdict == "satisfied", ctx.now, actor=actor, note=text[:500])
        except ActionError as exc:
            _refused(ctx, case, "withdraw", actor, str(exc))


def _from_complainant(case: Case, sender: str) -> bool:
    return bool(case.complainant_email) and sender.lower() == (case.complainant_email or "").lower()


def responders(casework: Casework) -> list[Any]:
    return [ComplainantReplyResponder(casework)]
