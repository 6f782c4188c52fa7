"""The date by which a complainant is promised an answer, when the case has no resolve-by deadline of its
own (casework's policy per grade sets one; see ingestd.casework).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ingestd.casework.calendar import WorkCalendar


def answer_by(case: Any, now: datetime, *, working_days: int = 2, zone: ZoneInfo | str = "Asia/Shanghai",
              calendar: WorkCalendar | None = None) -> date:
    """`working_days` working days after the local date of `now`: by `calendar` (public holidays, make-up
    working days, the config's own dates), else Monday to Friday. `case` is not looked at: without a
    deadline of its own, every case gets the same promise."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    day = now.astimezone(tz).date()
    next_day = calendar.next_workday if calendar is not None else _next_weekday
    for _ in range(working_days):
        day = next_day(day)
    return day


def _next_weekday(day: date) -> date:
    """The first Monday-to-Friday day after `day`."""
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def format_date(value: date, language: str) -> str:
    if language == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
