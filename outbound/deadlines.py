"""The date by which a complainant is promised an answer.

One function, `answer_by`, so that the deadline rules (per grade, holidays) can replace it later
without touching the templates or the responders.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def answer_by(case: Any, now: datetime, *, working_days: int = 2, zone: ZoneInfo | str = "Asia/Shanghai") -> date:
    """`working_days` working days (Monday to Friday) after the local date of `now`. `case` (its grade,
    category) is not looked at yet: the promise is the same for every case until deadlines are graded."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    day = now.astimezone(tz).date()
    left = working_days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def format_date(value: date, language: str) -> str:
    if language == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
