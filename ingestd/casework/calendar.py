"""Working time: which days are working days, and where "N working days" or "N working hours" lands.

Complaint rules count time in working days ("answer within 2 working days"), so a case received on the
Friday afternoon before a public holiday is due when a person at the desk expects it, not on a Sunday.
China's official schedule (holidays and the weekend make-up working days, 调休) comes from the
`chinese_calendar` package; years it does not know yet fall back to the statutory holidays that the
`holidays` package computes; other countries use `holidays`. Dates listed in config win over both.

Pure: no I/O, no clock; every function takes the moments it works on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

SPAN_UNITS = {"wd": "working days", "wh": "working hours", "h": "hours"}


@dataclass(frozen=True)
class Span:
    """A length of time as a rule states it: 2 working days (`2wd`), 8 working hours (`8wh`), 24 hours (`24h`)."""

    amount: float
    unit: str  # wd | wh | h

    @classmethod
    def parse(cls, text: str) -> Span:
        value = text.strip().lower()
        for unit in ("wd", "wh", "h"):  # longest suffix first: "wh" and "wd" end like "h"/"d"
            if value.endswith(unit):
                number = value[: -len(unit)].strip()
                try:
                    amount = float(number)
                except ValueError:
                    break
                if amount < 0:
                    break
                return cls(amount, unit)
        raise ValueError(f"{text!r} is not a time span: write e.g. '2wd' (working days), '8wh' (working hours) "
                         "or '24h' (hours)")

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit}"


@dataclass(frozen=True)
class WorkCalendar:
    zone: ZoneInfo
    country: str | None = "CN"  # None: weekdays only (and the dates below)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    day_start: time = time(9, 0)
    day_end: time = time(18, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)  # extra days off (config)
    workdays: frozenset[date] = field(default_factory=frozenset)  # extra working days (config)

    # -- days ---------------------------------------------------------------------------------------
    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        if self.country == "CN":
            return _china_workday(day, self.weekdays)
        if self.country:
            return day.weekday() in self.weekdays and day not in _country_holidays(self.country, day.year)
        return day.weekday() in self.weekdays

    def next_workday(self, day: date) -> date:
        """The first working day after `day`."""
        day += timedelta(days=1)
        for _ in range(400):  # a year without a working day is a configuration error, not a loop
            if self.is_workday(day):
                return day
            day += timedelta(days=1)
        raise ValueError(f"no working day within 400 days after {day}")

    @property
    def hours_per_day(self) -> float:
        return (datetime.combine(date.min, self.day_end) - datetime.combine(date.min, self.day_start)).seconds / 3600

    # -- moments ------------------------------------------------------------------------------------
    def add(self, start: datetime, span: Span) -> datetime:
        if span.unit == "h":
            return start + timedelta(hours=span.amount)
        if span.unit == "wd":
            return self.add_working_days(start, span.amount)
        return self.add_working_hours(start, span.amount)

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """The close of business on the N-th working day after the day of `start` (local time): what a desk
        means by "within 2 working days". A fraction counts as working hours of one more day."""
        whole = int(days)
        end = datetime.combine(_working_day_after(self, start.astimezone(self.zone).date(), whole), self.day_end,
                               self.zone)
        extra = days - whole
        return self.add_working_hours(end, extra * self.hours_per_day) if extra else end

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """`start` plus N hours counted only inside business hours on working days."""
        left = timedelta(hours=hours)
        cursor = start.astimezone(self.zone)
        for _ in range(2000):
            opens, closes = self._business_hours(cursor.date())
            if opens is None or cursor >= closes:
                cursor = datetime.combine(self.next_workday(cursor.date()), self.day_start, self.zone)
                continue
            cursor = max(cursor, opens)
            if cursor + left <= closes:
                return cursor + left
            left -= closes - cursor
            cursor = closes
        raise ValueError(f"{hours} working hours is too long")

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Business hours on working days between two moments (0 when end is not after start): handling time
        as the monthly statistics count it."""
        if end <= start:
            return 0.0
        total = timedelta()
        day, last = start.astimezone(self.zone).date(), end.astimezone(self.zone).date()
        while day <= last:
            opens, closes = self._business_hours(day)
            if opens is not None:
                lo, hi = max(opens, start), min(closes, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 3600

    def point_between(self, start: datetime, due: datetime, fraction: float) -> datetime:
        """The moment `fraction` of the working time from `start` to `due` has gone (reminders at 50%, 90%)."""
        hours = self.working_hours_between(start, due)
        if hours <= 0:
            return start + (due - start) * fraction if due > start else due
        return self.add_working_hours(start, hours * fraction)

    def _business_hours(self, day: date) -> tuple[datetime, datetime] | tuple[None, None]:
        if not self.is_workday(day):
            return None, None
        return datetime.combine(day, self.day_start, self.zone), datetime.combine(day, self.day_end, self.zone)


@lru_cache(maxsize=4096)
def _working_day_after(calendar: WorkCalendar, day: date, whole: int) -> date:
    """The `whole`-th working day after `day` (0: `day` itself if it works, else the next). Cached: every case of
    a day has its deadlines counted from the same few dates, and a calendar is a value that never changes."""
    for _ in range(whole):
        day = calendar.next_workday(day)
    if whole == 0:  # "0 working days": the end of today's (or the next) working day
        day = day if calendar.is_workday(day) else calendar.next_workday(day)
    return day


@lru_cache(maxsize=4096)
def _china_workday(day: date, weekdays: frozenset[int]) -> bool:
    """Cached: chinese_calendar checks each date against its whole table (a third of the intake's deadline
    arithmetic, measured), and a day's answer never changes within a process."""
    import chinese_calendar  # here, not at the top: the command line starts without it

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the package has not published yet: statutory holidays, no make-up days
        return day.weekday() in weekdays and day not in _country_holidays("CN", day.year)


@lru_cache(maxsize=64)
def _country_holidays(country: str, year: int) -> Any:
    import holidays  # ~1 s to import: only when a calendar needs it

    return holidays.country_holidays(country, years=year)


def known_country(country: str) -> bool:
    """For config validation: does the `holidays` package know this country code?"""
    if country.upper() == "CN":  # the default, answered without importing `holidays`
        return True
    import holidays

    return country.upper() in holidays.list_supported_countries()
