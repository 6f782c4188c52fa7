"""The figures of a monthly complaint report: a pure function of the month's case snapshots and the calendar.

Every regulation asks the same questions each month: how many complaints, of what kind, against which
department; were they acknowledged, answered and resolved in time; how long did handling take (in working
hours); which are overdue and who holds them; how many came back (二次投诉); were people satisfied at the
return visit; which routing rules fired most. Cases are identified by case number only: no personal data.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ingestd.casework.calendar import WorkCalendar
from ingestd.casework.policy import FINAL_STATES


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What a report may know of a case (no name, address, e-mail or phone)."""

    case_no: str
    channel: str
    status: str
    department: str | None
    category: str | None
    grade: str | None
    flags: tuple[str, ...]
    rules: tuple[str, ...]
    received_at: datetime
    ack_due: datetime | None = None
    acknowledged_at: datetime | None = None
    answer_due: datetime | None = None
    answered_at: datetime | None = None
    resolve_due: datetime | None = None
    resolved_at: datetime | None = None  # formal reply sent, or closed/withdrawn/invalid
    visited_at: datetime | None = None
    satisfaction: str | None = None


@dataclass(frozen=True, slots=True)
class Timeliness:
    on_time: int
    late: int
    pending: int  # not done yet and not yet due at the report's moment

    @property
    def share(self) -> float | None:
        decided = self.on_time + self.late
        return self.on_time / decided if decided else None


@dataclass(slots=True)
class MonthFigures:
    month: str  # "2026-10"
    total: int
    by_channel: Counter[str]
    by_category: Counter[str]
    by_grade: Counter[str]
    by_department: Counter[str]
    by_status: Counter[str]
    acknowledge: Timeliness
    first_answer: Timeliness
    resolve: Timeliness
    handling_hours: list[float]  # working hours from receipt to resolution, resolved cases
    repeats: int
    visits: Counter[str]  # satisfied / unsatisfied, visits recorded in the month
    rules: Counter[str]
    overdue: list[dict[str, Any]] = field(default_factory=list)  # case_no, department, deadline, due, hours

    @property
    def median_hours(self) -> float | None:
        return statistics.median(self.handling_hours) if self.handling_hours else None

    @property
    def p90_hours(self) -> float | None:
        if not self.handling_hours:
            return None
        ordered = sorted(self.handling_hours)
        return ordered[math.ceil(0.9 * len(ordered)) - 1]  # nearest rank

    @property
    def repeat_rate(self) -> float | None:
        return self.repeats / self.total if self.total else None

    @property
    def satisfaction_rate(self) -> float | None:
        done = self.visits["satisfied"] + self.visits["unsatisfied"]
        return self.visits["satisfied"] / done if done else None

    def headline(self) -> dict[str, tuple[float | int | None, str]]:
        """The figures compared month to month: name → (value, unit), unit "n", "share" or "hours"."""
        return {
            "complaints": (self.total, "n"),
            "acknowledged in time": (self.acknowledge.share, "share"),
            "first answer in time": (self.first_answer.share, "share"),
            "resolved in time": (self.resolve.share, "share"),
            "median handling (working h)": (self.median_hours, "hours"),
            "p90 handling (working h)": (self.p90_hours, "hours"),
            "repeat rate": (self.repeat_rate, "share"),
            "satisfied at return visit": (self.satisfaction_rate, "share"),
            "overdue at month end": (len(self.overdue), "n"),
        }


def month_figures(month: str, cases: list[CaseFacts], visits: list[str], calendar: WorkCalendar,
                  as_of: datetime) -> MonthFigures:
    """`cases`: received in the month; `visits`: the return visits recorded in the month ("satisfied" or
    "unsatisfied" each); `as_of`: the moment
    the report speaks for (the end of the month, or now for the current month)."""
    resolved = [c for c in cases if c.resolved_at is not None]
    return MonthFigures(
        month=month,
        total=len(cases),
        by_channel=Counter(c.channel for c in cases),
        by_category=Counter(c.category or "(none)" for c in cases),
        by_grade=Counter(c.grade or "(none)" for c in cases),
        by_department=Counter(c.department or "(none)" for c in cases),
        by_status=Counter(c.status for c in cases),
        acknowledge=_timeliness(((c.ack_due, c.acknowledged_at) for c in cases), as_of),
        first_answer=_timeliness(((c.answer_due, c.answered_at) for c in cases), as_of),
        resolve=_timeliness(((c.resolve_due, c.resolved_at) for c in cases), as_of),
        handling_hours=[round(calendar.working_hours_between(c.received_at, c.resolved_at), 2)  # type: ignore[arg-type]
                        for c in resolved],
        repeats=sum(1 for c in cases if "repeat" in c.flags),
        visits=Counter(visits),
        rules=Counter(rule for c in cases for rule in c.rules),
        overdue=_overdue(cases, calendar, as_of),
    )


def _timeliness(pairs: Any, as_of: datetime) -> Timeliness:
    on_time = late = pending = 0
    for due, done in pairs:
        if due is None:
            continue
        if done is not None:
            on_time, late = (on_time + 1, late) if done <= due else (on_time, late + 1)
        elif due < as_of:
            late += 1
        else:
            pending += 1
    return Timeliness(on_time, late, pending)


def _overdue(cases: list[CaseFacts], calendar: WorkCalendar, as_of: datetime) -> list[dict[str, Any]]:
    found = []
    for case in cases:
        if case.status in FINAL_STATES:
            continue
        for deadline, due, done in (("acknowledge", case.ack_due, case.acknowledged_at),
                                    ("first_answer", case.answer_due, case.answered_at),
                                    ("resolve", case.resolve_due, case.resolved_at)):
            if due is not None and done is None and due < as_of:
                found.append({"case_no": case.case_no, "department": case.department or "(none)",
                              "deadline": deadline, "due": due.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M"),
                              "overdue_hours": round(calendar.working_hours_between(due, as_of), 1)})
    return sorted(found, key=lambda row: (-row["overdue_hours"], row["case_no"]))


def month_bounds(month: str, calendar: WorkCalendar) -> tuple[datetime, datetime]:
    """Local midnight on the first of `month` and of the next month."""
    year, number = (int(part) for part in month.split("-"))
    start = datetime(year, number, 1, tzinfo=calendar.zone)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=calendar.zone)
    return start, end


def shift_month(month: str, months: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def previous_month(today: date) -> str:
    return shift_month(f"{today.year:04d}-{today.month:02d}", -1)
