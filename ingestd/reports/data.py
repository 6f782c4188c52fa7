"""The register, read for a report: case facts without personal data."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from ingestd.casework.policy import FINAL_STATES
from ingestd.reports.figures import CaseFacts
from ingestd.store.models import Case, CaseEvent


def facts(case: Case) -> CaseFacts:
    resolved = case.replied_at or (case.closed_at if case.status in FINAL_STATES else None)
    return CaseFacts(
        case_no=case.case_no, channel=case.channel, status=case.status, department=case.department,
        category=case.category, grade=case.grade, flags=tuple(case.flags or ()),
        rules=tuple(hit.get("rule", "") for hit in case.rule_hits or () if hit.get("rule")),
        received_at=case.received_at, ack_due=case.ack_due, acknowledged_at=case.acknowledged_at,
        answer_due=case.answer_due, answered_at=case.answered_at, resolve_due=case.resolve_due,
        resolved_at=resolved, visited_at=case.visited_at, satisfaction=case.satisfaction,
    )


def received_between(session: Session, start: datetime, end: datetime) -> list[CaseFacts]:
    rows = session.exec(select(Case).where(Case.received_at >= start, Case.received_at < end)
                        .order_by(Case.id)).all()
    return [facts(c) for c in rows]


def visits_between(session: Session, start: datetime, end: datetime) -> list[str]:
    """Return visits recorded in the window, "satisfied" or "unsatisfied" each, from the case events (a reopened
    case keeps its unsatisfied visit in the record)."""
    rows = session.exec(select(CaseEvent).where(CaseEvent.kind == "case.visited", CaseEvent.at >= start,
                                                CaseEvent.at < end)).all()
    return ["satisfied" if (e.detail or {}).get("satisfied") else "unsatisfied" for e in rows]
