"""Deadlines of a case from the policy in config: pure functions of the case's facts and the calendar.

Deadlines run from the moment ingestd received the complaint (not the Date header: an imported archive must not
be overdue on arrival) and are recomputed when the grade or the department changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ingestd.casework.calendar import WorkCalendar

DUE_FIELDS = {"acknowledge": "ack_due", "first_answer": "answer_due", "resolve": "resolve_due"}
OPEN_STATES = ("open", "answered")  # waiting for the department; "replied": waiting for the return visit
FINAL_STATES = ("closed", "withdrawn", "invalid")
DESK = "desk"  # the actor name of the complaint desk (the command line's default)


def deadlines_for(settings: Any, calendar: WorkCalendar, *, grade: str | None, channel: str | None,
                  department: str | None, start: datetime) -> dict[str, datetime]:
    """{"ack_due": ..., "answer_due": ..., "resolve_due": ...} for a case with these facts received at `start`."""
    spans = settings.deadlines.spans(grade=grade, channel=channel, department=department)
    return {column: calendar.add(start, spans[kind]) for kind, column in DUE_FIELDS.items()}


def visit_due_for(settings: Any, calendar: WorkCalendar, case: Any, replied_at: datetime) -> datetime:
    spans = settings.deadlines.spans(grade=case.grade, channel=case.channel, department=case.department)
    return calendar.add(replied_at, spans["return_visit"])


def open_deadlines(case: Any) -> list[tuple[str, datetime]]:
    """The deadlines the case still has to meet now, as (kind, due): what reminders and escalations watch."""
    if case.status in FINAL_STATES:
        return []
    found: list[tuple[str, datetime]] = []
    if case.status in OPEN_STATES:
        if case.ack_due and case.acknowledged_at is None:
            found.append(("acknowledge", case.ack_due))
        if case.answer_due and case.answered_at is None:
            found.append(("first_answer", case.answer_due))
        if case.resolve_due and case.replied_at is None:
            found.append(("resolve", case.resolve_due))
    elif case.status == "replied" and case.visit_due and case.visited_at is None:
        found.append(("return_visit", case.visit_due))
    return found
