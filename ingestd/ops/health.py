"""Is ingestd healthy, and what are its numbers: for `ingestd health` (an exit status for monitoring) and for the
optional HTTP endpoint (`/healthz`, Prometheus `/metrics`).

Everything is read from the register, so any worker (or a cron job) answers for the whole installation.
Statuses follow the monitoring-plugin convention: 0 ok, 1 warning, 2 critical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, text
from sqlmodel import col, select

from ingestd.casework.policy import FINAL_STATES
from ingestd.store.models import Case, Message, OutboxMessage, QuarantineEntry

OK, WARNING, CRITICAL = 0, 1, 2
NAMES = {OK: "ok", WARNING: "warning", CRITICAL: "critical"}
OUTBOX_LATE = timedelta(minutes=15)  # a queued message older than this: the sender is stuck or SMTP is down
OUTBOX_STUCK = timedelta(hours=2)


@dataclass(slots=True)
class Check:
    name: str
    status: int
    detail: str


@dataclass(slots=True)
class Health:
    checks: list[Check] = field(default_factory=list)
    metrics: dict[str, tuple[float, str, dict[str, str]]] = field(default_factory=dict)  # name → value, help, labels

    @property
    def status(self) -> int:
        return max((c.status for c in self.checks), default=OK)

    def as_dict(self) -> dict[str, Any]:
        return {"status": NAMES[self.status], "checks": [{"name": c.name, "status": NAMES[c.status],
                                                          "detail": c.detail} for c in self.checks]}


def collect(app: Any) -> Health:
    health = Health()
    now = app.clock.now()
    try:
        with app.db.read() as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            _register(session, health, now)
    except Exception as exc:  # the database is down: that is the answer
        health.checks.append(Check("database", CRITICAL, f"{type(exc).__name__}: {exc}"[:300]))
        return health
    health.checks.insert(0, Check("database", OK, app.db.dialect))
    _workers(app, health)
    return health


def _workers(app: Any, health: Health) -> None:
    """The live workers and which sources each holds (source leases, ingestd.workers): informational."""
    from ingestd.store import leases
    from ingestd.workers import utcnow

    try:
        with app.db.read() as session:
            rows = leases.current(session, utcnow())
    except Exception:  # a register from before the leases (not migrated yet): nothing to say
        return
    workers = leases.live_workers(rows)
    held: dict[str, list[str]] = {w: [] for w in workers}
    for row in rows:
        if not row.source_id.startswith((leases.PRESENCE, leases.JOB)):
            held.setdefault(row.holder, []).append(row.source_id)
    detail = "; ".join(f"{w}: {', '.join(s) or '-'}" for w, s in sorted(held.items())) if held else "none running"
    health.checks.append(Check("workers", OK, f"{len(workers)} running" + (f" ({detail})" if held else "")))
    health.metrics["ingestd_workers"] = (len(workers), "Workers renewing their leases (ingestd run)", {})
    health.metrics["ingestd_sources_leased"] = (sum(map(len, held.values())), "Sources held by a worker", {})


def _register(session: Any, health: Health, now: datetime) -> None:
    def scalar(query: Any) -> Any:
        return session.exec(query).one()

    received = scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    cases = scalar(select(func.count()).select_from(Case))
    parked = scalar(select(func.count()).select_from(QuarantineEntry).where(QuarantineEntry.status == "parked"))
    queued, oldest = session.exec(select(func.count(), func.min(OutboxMessage.created_at))
                                  .where(col(OutboxMessage.status).in_(("queued", "sending")))).one()
    failed = scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "failed"))
    open_cases = session.exec(select(Case.department, func.count()).where(col(Case.status).not_in(FINAL_STATES))
                              .group_by(Case.department)).all()
    overdue, overdue_since = session.exec(select(func.count(), func.min(Case.resolve_due)).where(
        col(Case.status).in_(("open", "answered")), Case.resolve_due < now)).one()
    age = (now - oldest).total_seconds() if oldest else 0.0
    if age > OUTBOX_STUCK.total_seconds():
        health.checks.append(Check("outbox", CRITICAL, f"{queued} queued, the oldest for {age / 3600:.1f} h"))
    elif age > OUTBOX_LATE.total_seconds():
        health.checks.append(Check("outbox", WARNING, f"{queued} queued, the oldest for {age / 60:.0f} min"))
    else:
        health.checks.append(Check("outbox", OK, f"{queued} queued, {failed} failed"))
    health.checks.append(Check("quarantine", OK, f"{parked} parked"))  # a business matter: counted, not alarmed
    metric = health.metrics
    metric["ingestd_messages_received"] = (received, "Messages taken into the register (inbound)", {})
    metric["ingestd_cases"] = (cases, "Cases in the register", {})
    metric["ingestd_quarantined"] = (parked, "Inputs parked in quarantine", {})
    metric["ingestd_outbox_backlog"] = (queued, "Outgoing messages waiting to be sent", {})
    metric["ingestd_outbox_oldest_seconds"] = (age, "Age of the oldest waiting outgoing message", {})
    metric["ingestd_outbox_failed"] = (failed, "Outgoing messages that failed for good", {})
    metric["ingestd_cases_overdue"] = (overdue, "Open cases past their resolve-by deadline", {})
    metric["ingestd_oldest_overdue_seconds"] = (
        (now - overdue_since).total_seconds() if overdue_since else 0.0,
        "How long the oldest overdue case has been past its resolve-by deadline", {})
    for department, count in open_cases:
        label = (department or "").replace("\\", "\\\\").replace('"', '\\"')
        metric[f'ingestd_queue_depth{{department="{label}"}}'] = (count, "Open cases per department queue",
                                                                  {"department": department or ""})


def prometheus(health: Health) -> str:
    """The Prometheus text exposition format (one HELP/TYPE per family)."""
    lines: list[str] = []
    seen: set[str] = set()
    for key, (value, help_text, _labels) in health.metrics.items():
        family = key.split("{", 1)[0]
        if family not in seen:
            seen.add(family)
            lines += [f"# HELP {family} {help_text}", f"# TYPE {family} gauge"]
        lines.append(f"{key} {value:g}")
    lines += ["# HELP ingestd_up 1 when the register answers", "# TYPE ingestd_up gauge",
              f"ingestd_up {int(not any(c.name == 'database' and c.status == CRITICAL for c in health.checks))}"]
    return "\n".join(lines) + "\n"
