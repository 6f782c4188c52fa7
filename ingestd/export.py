"""A case as one JSON-ready dict: the shape of `cases export --format jsonl` and `cases show --json`.

Fields are only ever added here, never removed: other systems read this export.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from ingestd.store.models import Attachment, Case, CaseEvent, Message


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


LIFE_TIMES = ("routed_at", "ack_due", "acknowledged_at", "answer_due", "answered_at", "resolve_due", "replied_at",
              "visit_due", "visited_at", "closed_at")  # the case's life in time (ingestd.casework)


def case_to_dict(session: Session, case: Case) -> dict[str, Any]:
    messages = session.exec(select(Message).where(Message.case_id == case.id).order_by(Message.id)).all()
    attachments = session.exec(
        select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)).all()
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    repeat_of = session.get(Case, case.repeat_of).case_no if case.repeat_of else None
    return {
        "case_no": case.case_no,
        "channel": case.channel,
        "status": case.status,
        "complainant": {
            "name": case.complainant_name,
            "email": case.complainant_email,
            "phone": case.complainant_phone,
            "phones": case.complainant_phones or [],
            "address": case.complainant_address,
            "anonymous": case.anonymous,
        },
        "subject": case.subject,
        "description": case.description,
        "demands": case.demands,
        "language": case.language,
        "received_at": _iso(case.received_at),
        "source": case.source,
        "department": case.department,
        "category": case.category,
        "grade": case.grade,
        "repeat_of": repeat_of,
        **{name: _iso(getattr(case, name)) for name in LIFE_TIMES},
        "satisfaction": case.satisfaction,
        "status_reason": case.status_reason,
        "extensions": case.extensions,
        "flags": list(case.flags or []),
        "rule_hits": list(case.rule_hits or []),
        "fields": dict(case.fields or {}),
        "messages": [
            {
                "direction": m.direction,
                "message_id": m.message_id,
                "in_reply_to": m.in_reply_to,
                "references": list(m.references or []),
                "subject": m.subject,
                "from": m.from_addr,
                "to": list(m.to_addrs or []),
                "cc": list(m.cc_addrs or []),
                "date": _iso(m.date),
                "source": m.source,
                "source_ref": m.source_ref,
                "sha256": m.raw_sha256,
            }
            for m in messages
        ],
        "attachments": [
            {"filename": a.filename, "original_name": a.original_name, "content_type": a.content_type,
             "size": a.size, "sha256": a.sha256}
            for a in attachments
        ],
        "events": [{"at": _iso(e.at), "kind": e.kind, "actor": e.actor, "detail": e.detail or {}} for e in events],
    }
