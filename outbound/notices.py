"""Reminders, escalations and progress notices: one templated message about a case to one address, queued in
the caller's transaction under an idempotency key, so a notice goes out once however many workers (or
restarts) decide it is due: the second insert of the same key is refused by the database."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from ingestd.store.models import Case, CaseEvent
from outbound.compose import AUTO_GENERATED, Draft, idempotency_key, message_id_for
from outbound.outbox import enqueue
from outbound.templates import language_of, notice_context

if TYPE_CHECKING:
    from outbound.service import Outbound

NOTICES = ("remind", "escalate", "progress")


def queue_notice(outbound: Outbound, session: Session, case: Case, *, kind: str, purpose: str, to_addr: str,
                 to_name: str, deadline: str, due: datetime | None, now: datetime, language: str | None = None,
                 extra: dict[str, Any] | None = None) -> int | None:
    """Queue `kind` (remind | escalate | progress) about `case` to `to_addr`; the outbox id when queued now,
    None when this key was queued before. `purpose` makes the key: "to:DEPT:..." for department mail, so that
    a department's reply to it is recognised like a reply to its notification."""
    assert kind in NOTICES, kind
    config = outbound.config
    language = language_of(language or (case.language if kind == "progress" else config.notify_language))
    context = notice_context(case, config=config, zone=outbound.zone, language=language, deadline=deadline, due=due,
                             department_name=outbound.department_name(case.department or ""), extra=extra)
    key = idempotency_key(kind, case.case_no, purpose)
    from_addr = config.from_for((case.fields or {}).get("mailbox"))
    draft = Draft(
        kind=kind, case_no=case.case_no, from_addr=from_addr, from_name=outbound.from_name(language),
        to_addr=to_addr.lower(), to_name=to_name, subject=outbound.templates.subject(language, f"{kind}.subject.txt",
                                                                                     context),
        text=outbound.templates.render(language, f"{kind}.txt", context),
        message_id=message_id_for(key, config.id_domain), date=now, loop_id=from_addr, auto_submitted=AUTO_GENERATED,
    )
    outbox_id, queued = enqueue(session, outbound.blobs, key=key, draft=draft, case_id=case.id, now=now)
    if not queued:
        return None
    session.add(CaseEvent(case_id=case.id, at=now, kind=f"{kind}.queued", actor="casework", detail={
        "to": to_addr.lower(), "deadline": deadline, "outbox_id": outbox_id, "purpose": purpose}))
    return outbox_id
