"""The scheduled sweep: reminders before a deadline, escalations after it.

Every `reminders.check_seconds` `ingestd run` looks at the cases still owing something (`policy.open_deadlines`)
and works out, as a pure function of the case, the calendar and the clock, which notices are due now:

- before the deadline, a reminder to the holder at each configured point (50% and 90% of the working time by
  default; only the latest point passed, so a daemon that was down does not send a stale 50% after the 90%);
- after it, an escalation to the department's supervisor and to the complaint desk, repeated every
  `escalate_every` until the case moves (the case is flagged `overdue`).

Each notice has an idempotency key built from the case, the deadline, the point or round and the due time
(an extension makes new keys), and goes into the outbox in its own transaction: a notice is queued once,
whatever the number of workers or restarts, because the database refuses the second insert of a key.

Several workers sweep at once without getting in each other's way: on PostgreSQL each case is locked with
`SELECT ... FOR UPDATE SKIP LOCKED` before its notices are queued, so a case another worker (or intake) is
working on is skipped (it is looked at again next sweep) instead of waited for, and the worker that gets the lock
sees the other's committed notices (`enqueue` finds the key) instead of failing on it. SQLite has one writer at
a time, so there the write transaction alone serialises the sweepers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from ingestd.casework.calendar import Span, WorkCalendar
from ingestd.casework.policy import FINAL_STATES, open_deadlines
from ingestd.store.models import Case, CaseEvent, OutboxMessage
from outbound.compose import idempotency_key

if TYPE_CHECKING:
    from ingestd.casework.actions import Casework
    from ingestd.store.db import Database

DESK_DEADLINES = ("acknowledge", "return_visit")  # the complaint desk's own steps: its reminders go to the desk


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # remind | escalate
    deadline: str
    due: datetime
    purpose: str
    to: str  # "holder" (the department inbox, or the desk for its own steps) | "supervisor" | "desk"
    extra: dict[str, Any] = field(default_factory=dict)
    overdue: bool = False  # an escalation because a deadline passed (flags the case `overdue`)


def notices_due(case: Any, now: datetime, calendar: WorkCalendar, *, points: list[float],
                escalate_every: Span) -> list[Notice]:
    """What should have gone out about `case` by `now`. Pure."""
    found: list[Notice] = []
    holder = case.department or "desk"
    for deadline, due in open_deadlines(case):
        stamp = int(due.timestamp())
        if now < due:
            start = case.replied_at if deadline == "return_visit" else (case.routed_at or case.received_at)
            passed = [p for p in points if calendar.point_between(start, due, p) <= now]
            if passed:
                share = round(max(passed) * 100)
                left = calendar.working_hours_between(now, due)
                found.append(Notice("remind", deadline, due, f"to:{holder}:{deadline}:{share}:{stamp}", "holder",
                                    {"share": share, "left": f"{left:.1f}"}))
            continue
        rounds, moment = 1, calendar.add(due, escalate_every)
        while moment <= now and rounds < 1000:
            rounds, moment = rounds + 1, calendar.add(moment, escalate_every)
        extra = {"overdue": f"{calendar.working_hours_between(due, now):.1f}", "round": rounds, "reason": ""}
        if deadline not in DESK_DEADLINES:
            found.append(Notice("escalate", deadline, due, f"to:{holder}:{deadline}:over{rounds}:{stamp}",
                                "supervisor", extra, overdue=True))
        found.append(Notice("escalate", deadline, due, f"desk:{deadline}:over{rounds}:{stamp}", "desk", extra,
                            overdue=True))
    return found


def sweep(casework: Casework, db: Database, now: datetime) -> Counter[str]:
    """Queue every notice due now; one transaction per case. Returns counts by kind."""
    if casework.outbound is None or not casework.settings.reminders.enabled:
        return Counter()
    config = casework.settings.reminders
    every = Span.parse(config.escalate_every)
    counts: Counter[str] = Counter()
    with db.read() as session:
        cases = session.exec(select(Case).where(col(Case.status).not_in(FINAL_STATES),
                                                (col(Case.resolve_due).is_not(None))
                                                | (col(Case.visit_due).is_not(None)))).all()
        plans = {c.id: notices_due(c, now, casework.calendar, points=config.points, escalate_every=every)
                 for c in cases}
        wanted = {idempotency_key(n.kind, c.case_no, n.purpose) for c in cases for n in plans[c.id]}
        sent = set(session.exec(select(OutboxMessage.idempotency_key)
                                .where(col(OutboxMessage.idempotency_key).in_(wanted))).all()) if wanted else set()
    for case in cases:
        todo = [n for n in plans[case.id] if idempotency_key(n.kind, case.case_no, n.purpose) not in sent]
        if not todo:
            continue
        try:
            with db.write() as session:
                fresh = _claim(session, db, case.id)
                if fresh is None:
                    counts["skipped"] += 1  # locked by another worker's sweep or by intake: next sweep
                    continue
                if fresh.status in FINAL_STATES:
                    continue
                for notice in todo:
                    if _queue(casework, session, fresh, notice, now):
                        counts[notice.kind] += 1
        except IntegrityError:  # another worker queued the same notice first: it goes out once, from there
            counts["raced"] += 1
            logger.bind(case=case.case_no).debug("reminder queued by another worker")
    return counts


def _claim(session: Session, db: Database, case_id: int | None) -> Case | None:
    """The case, locked for this transaction; None when another transaction holds it (PostgreSQL) or it is gone."""
    if db.dialect != "postgresql":
        return session.get(Case, case_id)
    return session.exec(select(Case).where(Case.id == case_id).with_for_update(skip_locked=True)).first()


def escalate_now(casework: Casework, session: Session, case: Case, now: datetime, *, deadline: str, reason: str,
                 purpose: str) -> int:
    """An escalation that does not wait for a deadline (a reopened case), in the caller's transaction."""
    extra = {"overdue": "0.0", "round": 1, "reason": reason}
    due = case.resolve_due or now
    queued = 0
    for to, key in (("supervisor", f"to:{case.department}:{purpose}"), ("desk", f"desk:{purpose}")):
        queued += _queue(casework, session, case, Notice("escalate", deadline, due, key, to, extra), now)
    return queued


def _queue(casework: Casework, session: Session, case: Case, notice: Notice, now: datetime) -> bool:
    from outbound.notices import queue_notice

    outbound = casework.outbound
    assert outbound is not None
    address = _address(casework, case, notice.to, notice.deadline)
    if address is None:
        session.add(CaseEvent(case_id=case.id, at=now, kind=f"{notice.kind}.skipped", actor="casework",
                              detail={"deadline": notice.deadline, "to": notice.to, "reason": "no address known"}))
        return False
    if notice.overdue and "overdue" not in (case.flags or []):
        case.flags = [*(case.flags or []), "overdue"]
        session.add(case)
    extra = {**notice.extra, "holder": _inbox(outbound, case.department or "") or case.department or "-"}
    outbox_id = queue_notice(outbound, session, case, kind=notice.kind, purpose=notice.purpose, to_addr=address,
                             to_name=notice.to, deadline=notice.deadline, due=notice.due, now=now, extra=extra)
    if outbox_id is not None and notice.kind == "escalate":
        session.add(CaseEvent(case_id=case.id, at=now, kind="case.escalated", actor="casework", detail={
            "deadline": notice.deadline, "to": address, "round": notice.extra.get("round"),
            "reason": notice.extra.get("reason", "")}))
    return outbox_id is not None


def _address(casework: Casework, case: Case, to: str, deadline: str) -> str | None:
    outbound = casework.outbound
    assert outbound is not None
    desk = casework.settings.reminders.desk or _inbox(outbound, casework.settings.intake.default_department) \
        or outbound.config.default_from
    if to == "desk" or (to == "holder" and deadline in DESK_DEADLINES):
        return desk
    found = outbound.directory(case.department or "")
    if not found:
        return desk if to == "supervisor" else None
    inbox, supervisor = found
    return inbox if to == "holder" else (supervisor or desk)


def _inbox(outbound: Any, department: str) -> str | None:
    found = outbound.directory(department)
    return found[0] if found else None
