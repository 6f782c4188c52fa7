"""What people do to a case after intake, each in the caller's transaction, each logged as a case event.

Departments reroute, answer, reply, extend, declare invalid and close; the complaint desk acknowledges a
letter and records the return visit (回访); complainants withdraw (撤诉). The same functions serve the
command line (`ingestd case ...`) and replies by e-mail (`casework.responders`), so both follow one set of
rules: an extension needs a reason, a department hands a case back only within `actions.reroute_within`
of receiving it (after that only the desk may), a closed case takes no more actions but a return visit that
finds the complainant unsatisfied reopens it and escalates.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from ingestd.casework.calendar import Span, WorkCalendar
from ingestd.casework.policy import DESK, FINAL_STATES, deadlines_for, visit_due_for
from ingestd.casework.repeats import Earlier, find_repeat, raised_grade, references_in
from ingestd.store.models import Case, CaseEvent

if TYPE_CHECKING:
    from outbound.service import Outbound

class ActionError(ValueError):
    """An action the rules refuse; the message says why (shown to the CLI user, or logged on the case)."""


class Casework:
    def __init__(self, settings: Any, outbound: Outbound | None = None, *, grades: Any = None,
                 departments: Any = None) -> None:
        self.settings = settings
        self.outbound = outbound
        self._grades = grades  # () -> the routing file's grades, highest first (follows reloads)
        self._departments = departments  # () -> the routing file's department keys

    @cached_property
    def calendar(self) -> WorkCalendar:
        return self.settings.work_calendar()

    def grades(self) -> list[str]:
        return list(self._grades()) if self._grades else []

    def known_department(self, key: str) -> bool:
        return key in (self._departments() if self._departments else [key])

    # -- a new case -------------------------------------------------------------------------------------
    def opening(self, email: Any, decision: Any, earlier: list[tuple[int, str, str, str]], channel: str,
                now: datetime) -> dict[str, Any]:
        """What casework adds to a new case, from the classified input and the complainant's recent cases:
        二次投诉 (the same matter again: linked, flagged `repeat`, a grade up, which may change its deadlines)
        and its deadlines. Changes `decision` (grade, flags); returns the extra case columns. Mail written by
        a machine (an auto-reply quoting the complaint) is never a repeat complaint."""
        from outbound.loops import machine_reason

        columns: dict[str, Any] = {"routed_at": now}
        candidates = [Earlier(i, n, s, d, references_in(f"{s}\n{d}")) for i, n, s, d in earlier]
        machine = channel == "email" and machine_reason(email, self.settings.outbound.ours)
        match = None if machine else find_repeat(email.subject or "", email.description or email.body_text,
                                                 candidates, self.settings.repeats.similarity)
        if match is not None:
            before = decision.grade
            decision.grade = raised_grade(decision.grade, self.grades(), self.settings.repeats.raise_grades)
            decision.flags = list(dict.fromkeys([*decision.flags, "repeat"]))
            columns["repeat_of"] = match.case_id
            columns["repeat"] = {"of": match.case_no, "score": match.score, "why": match.why,
                                 "grade_before": before, "grade": decision.grade}
        columns.update(self.deadlines(grade=decision.grade, channel=channel, department=decision.department,
                                      start=now))
        return columns

    # -- deadlines --------------------------------------------------------------------------------------
    def deadlines(self, *, grade: str | None, channel: str | None, department: str | None,
                  start: datetime) -> dict[str, datetime]:
        return deadlines_for(self.settings, self.calendar, grade=grade, channel=channel, department=department,
                             start=start)

    def recompute(self, session: Session, case: Case, now: datetime, *, why: str) -> None:
        """Deadlines again from the case's facts (grade or department changed), from its receipt, keeping
        any extension granted; logged when they move."""
        before = (case.ack_due, case.answer_due, case.resolve_due)
        due = self.deadlines(grade=case.grade, channel=case.channel, department=case.department,
                             start=case.received_at)
        granted = (case.fields or {}).get("extended_days", 0)
        if granted:
            due["resolve_due"] = self.calendar.add_working_days(due["resolve_due"], granted)
        case.ack_due, case.answer_due, case.resolve_due = due["ack_due"], due["answer_due"], due["resolve_due"]
        if before != (case.ack_due, case.answer_due, case.resolve_due):
            _log(session, case, now, "deadlines.recomputed", "casework", why=why,
                 **{k: v.isoformat() for k, v in due.items()})

    # -- department actions -----------------------------------------------------------------------------
    def reroute(self, session: Session, case: Case, department: str, reason: str, now: datetime, *,
                actor: str) -> None:
        """Hand the case to another department ("not ours"). A department may do this within
        `actions.reroute_within` of receiving the case; the desk at any time."""
        _open(case)
        if not self.known_department(department):
            raise ActionError(f"no department {department!r} in the routing file")
        if department == case.department:
            raise ActionError(f"{case.case_no} is with {department} already")
        if not reason:
            raise ActionError("a reroute needs a reason")
        if actor != DESK:
            received = case.routed_at or case.received_at
            limit = self.calendar.add(received, Span.parse(self.settings.actions.reroute_within))
            if now > limit:
                raise ActionError(f"{case.case_no} was received by {case.department} more than "
                                  f"{self.settings.actions.reroute_within} ago: only the complaint desk can reroute it")
        before = case.department
        case.department, case.routed_at, case.updated_at = department, now, now
        self.recompute(session, case, now, why="rerouted")
        session.add(case)
        _log(session, case, now, "case.rerouted", actor, before={"department": before},
             after={"department": department}, reason=reason)
        if self.outbound is not None:
            from outbound.responders import notify_department

            session.flush()
            notify_department(self.outbound, session, case.id, department, now, reason="rerouted")  # type: ignore[arg-type]

    def answer(self, session: Session, case: Case, now: datetime, *, actor: str, note: str = "") -> None:
        """The department's first answer (a reply to the notification counts): the first-answer deadline is met."""
        if case.answered_at is None and case.status not in FINAL_STATES:
            case.answered_at, case.updated_at = now, now
            if case.status == "open":
                case.status = "answered"
            session.add(case)
            _log(session, case, now, "case.answered", actor, note=note[:500])

    def reply(self, session: Session, case: Case, text: str, now: datetime, *, actor: str) -> Any:
        """The formal written reply (e-mail and/or PDF letter), in this transaction."""
        _open(case, allow=("replied",))
        if not text.strip():
            raise ActionError("the reply text is empty")
        if self.outbound is None:
            raise ActionError("outbound mail is disabled ([outbound] enabled = false)")
        from outbound.replies import queue_reply

        self.answer(session, case, now, actor=actor, note="formal reply")
        return queue_reply(self.outbound, session, case, text, actor=actor, letter=False, now=now)

    def replied(self, session: Session, case: Case, now: datetime) -> None:
        """Called in the transaction that sent the formal reply: resolved in time or not, the return visit is due."""
        case.replied_at = case.replied_at or now
        case.answered_at = case.answered_at or now
        if case.status in ("open", "answered"):
            case.status = "replied"
        case.visit_due = visit_due_for(self.settings, self.calendar, case, now)
        case.updated_at = now
        session.add(case)
        _log(session, case, now, "case.replied", "casework", visit_due=case.visit_due.isoformat())

    def extend(self, session: Session, case: Case, days: int, reason: str, now: datetime, *, actor: str) -> None:
        """More working days to resolve, with a reason; the complainant is told (a progress notice)."""
        _open(case)
        if days < 1:
            raise ActionError("an extension is at least 1 working day")
        if not reason.strip():
            raise ActionError("an extension needs a reason")
        base = case.resolve_due or now
        case.resolve_due = self.calendar.add_working_days(base, days)
        case.extensions += 1
        case.fields = {**(case.fields or {}), "extended_days": (case.fields or {}).get("extended_days", 0) + days}
        case.updated_at = now
        session.add(case)
        _log(session, case, now, "case.extended", actor, days=days, reason=reason,
             before=base.isoformat(), after=case.resolve_due.isoformat())
        if self.outbound is not None and self.settings.reminders.progress_notice and case.complainant_email:
            from outbound.notices import queue_notice

            session.flush()
            queue_notice(self.outbound, session, case, kind="progress", purpose=f"extended:{case.extensions}",
                         to_addr=case.complainant_email, to_name=case.complainant_name or "", deadline="resolve",
                         due=case.resolve_due, now=now, extra={"days": days, "reason": reason})

    def invalid(self, session: Session, case: Case, reason: str, now: datetime, *, actor: str) -> None:
        _open(case)
        if not reason.strip():
            raise ActionError("declaring a case invalid needs a reason")
        self._finish(session, case, "invalid", reason, now, actor=actor)

    def close(self, session: Session, case: Case, now: datetime, *, actor: str, note: str = "") -> None:
        _open(case, allow=("replied",))
        self._finish(session, case, "closed", note, now, actor=actor)

    def withdraw(self, session: Session, case: Case, reason: str, now: datetime, *, actor: str) -> None:
        """撤诉: the complainant withdraws; the reason (their words) is kept."""
        _open(case, allow=("replied",))
        if not reason.strip():
            raise ActionError("a withdrawal needs a reason")
        self._finish(session, case, "withdrawn", reason, now, actor=actor)

    def acknowledge(self, session: Session, case: Case, now: datetime, *, actor: str, how: str) -> None:
        """Acknowledged outside e-mail (a letter's complainant phoned, a receipt posted): the deadline is met."""
        if case.acknowledged_at is None:
            case.acknowledged_at, case.updated_at = now, now
            session.add(case)
            _log(session, case, now, "case.acknowledged", actor, how=how)

    def visit(self, session: Session, case: Case, satisfied: bool, now: datetime, *, actor: str,
              note: str = "") -> None:
        """回访: the result of the return visit. Satisfied closes the case; unsatisfied reopens and escalates."""
        if case.status not in ("replied", "closed"):
            raise ActionError(f"{case.case_no} has no formal reply yet (status {case.status}): nothing to visit")
        case.visited_at, case.updated_at = now, now
        case.satisfaction = "satisfied" if satisfied else "unsatisfied"
        session.add(case)
        _log(session, case, now, "case.visited", actor, satisfied=satisfied, note=note[:1000])
        if satisfied:
            if case.status != "closed":
                self._finish(session, case, "closed", "satisfied at the return visit", now, actor=actor)
            return
        self.reopen(session, case, now, actor=actor, reason=f"unsatisfied at the return visit: {note}".strip(": "))

    def reopen(self, session: Session, case: Case, now: datetime, *, actor: str, reason: str) -> None:
        """Back to the department with new deadlines from now, flagged and escalated to its supervisor."""
        due = self.deadlines(grade=case.grade, channel=case.channel, department=case.department, start=now)
        case.status, case.closed_at, case.replied_at, case.answered_at = "open", None, None, None
        case.visit_due, case.visited_at = None, None
        case.answer_due, case.resolve_due = due["answer_due"], due["resolve_due"]
        case.flags = list(dict.fromkeys([*(case.flags or []), "reopened", "escalated"]))
        case.updated_at = now
        session.add(case)
        _log(session, case, now, "case.reopened", actor, reason=reason, resolve_due=case.resolve_due.isoformat())
        if self.outbound is not None:
            from ingestd.casework.reminders import escalate_now

            session.flush()
            escalate_now(self, session, case, now, deadline="resolve", reason=reason,
                         purpose=f"reopened:{int(now.timestamp())}")

    def regrade(self, session: Session, case: Case, grade: str, now: datetime, *, actor: str, reason: str) -> None:
        if grade not in self.grades():
            raise ActionError(f"no grade {grade!r} in the routing file ({', '.join(self.grades())})")
        before = case.grade
        case.grade, case.updated_at = grade, now
        self.recompute(session, case, now, why=f"grade {before} → {grade}")
        session.add(case)
        _log(session, case, now, "case.regraded", actor, before=before, after=grade, reason=reason)

    def _finish(self, session: Session, case: Case, status: str, reason: str, now: datetime, *, actor: str) -> None:
        before = case.status
        case.status, case.status_reason, case.closed_at, case.updated_at = status, reason or None, now, now
        session.add(case)
        _log(session, case, now, f"case.{status}", actor, before=before, reason=reason)


def _open(case: Case, *, allow: tuple[str, ...] = ()) -> None:
    if case.status in FINAL_STATES and case.status not in allow:
        raise ActionError(f"{case.case_no} is {case.status}")


def _log(session: Session, case: Case, now: datetime, kind: str, actor: str, **detail: Any) -> None:
    session.add(CaseEvent(case_id=case.id, at=now, kind=kind, actor=actor, detail=detail))
