"""`[calendar]`, `[deadlines]`, `[reminders]`, `[repeats]`, `[actions]` of ingestd.toml: a case's life in time.

The shipped defaults follow common complaint regulations: a written complaint is acknowledged within 24 hours;
the highest grade is answered in 2 working days and resolved in 10; ordinary complaints are resolved in 3
working days, minor ones in 2; the return visit (回访) is due 3 working days after the formal reply.
"""

from __future__ import annotations

from datetime import date, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from ingestd.casework.calendar import Span, WorkCalendar, known_country
from ingestd.config.model_base import Strict

DEADLINE_KINDS = ("acknowledge", "first_answer", "resolve", "return_visit")


class CalendarConfig(Strict):
    country: str | None = "CN"  # official holidays and make-up days; "" or none: weekdays only
    hours: str = "09:00-18:00"  # business hours on a working day (working hours count inside them)
    weekdays: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])  # Monday = 1 ... Sunday = 7
    holidays: list[date] = Field(default_factory=list)  # extra days off (a company holiday)
    workdays: list[date] = Field(default_factory=list)  # extra working days

    @field_validator("country")
    @classmethod
    def _country_known(cls, value: str | None) -> str | None:
        if value and not known_country(value):
            raise ValueError(f"unknown country code {value!r} (ISO 3166 alpha-2, e.g. CN, GB, DE)")
        return value.upper() if value else None

    @field_validator("hours")
    @classmethod
    def _hours_ok(cls, value: str) -> str:
        start, end = _hours(value)
        if end <= start:
            raise ValueError(f"business hours {value!r}: the end must be after the start")
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays_ok(cls, value: list[int]) -> list[int]:
        if not value or any(d < 1 or d > 7 for d in value):
            raise ValueError("weekdays are numbers 1 (Monday) to 7 (Sunday), at least one")
        return value

    def build(self, timezone: str) -> WorkCalendar:
        return _calendar(timezone, self.country, tuple(self.weekdays), self.hours, tuple(self.holidays),
                         tuple(self.workdays))


@lru_cache(maxsize=64)
def _calendar(timezone: str, country: str | None, weekdays: tuple[int, ...], hours: str, holidays: tuple[date, ...],
              workdays: tuple[date, ...]) -> WorkCalendar:
    """One calendar per distinct setting: each new case asks for it, and its cached working days (see
    `calendar._working_day_after`) belong to the value, so an equal calendar built again finds them."""
    start, end = _hours(hours)
    return WorkCalendar(zone=ZoneInfo(timezone), country=country, weekdays=frozenset(d - 1 for d in weekdays),
                        day_start=start, day_end=end, holidays=frozenset(holidays), workdays=frozenset(workdays))


def _hours(value: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError as exc:
        raise ValueError(f"business hours {value!r}: write e.g. '09:00-18:00'") from exc
    return start, end


class Deadlines(Strict):
    """Spans from receipt (return visit: from the formal reply). A missing one is inherited (see `DeadlineConfig`)."""

    acknowledge: str | None = None
    first_answer: str | None = None
    resolve: str | None = None
    return_visit: str | None = None

    @field_validator("acknowledge", "first_answer", "resolve", "return_visit")
    @classmethod
    def _span_ok(cls, value: str | None) -> str | None:
        if value is not None:
            Span.parse(value)
        return value

    def given(self) -> dict[str, str]:
        return {k: v for k in DEADLINE_KINDS if (v := getattr(self, k)) is not None}


class DeadlineConfig(Strict):
    """Layered, most specific last: `default`, then the case's grade, its channel, its department."""

    default: Deadlines = Deadlines(acknowledge="1wd", first_answer="2wd", resolve="3wd", return_visit="3wd")
    grades: dict[str, Deadlines] = Field(default_factory=lambda: {
        "重大": Deadlines(first_answer="2wd", resolve="10wd"),
        "一般": Deadlines(first_answer="2wd", resolve="3wd"),
        "轻微": Deadlines(first_answer="1wd", resolve="2wd"),
    })
    channels: dict[str, Deadlines] = Field(default_factory=lambda: {"letter": Deadlines(acknowledge="24h")})
    departments: dict[str, Deadlines] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_complete(self) -> DeadlineConfig:
        missing = [k for k in DEADLINE_KINDS if getattr(self.default, k) is None]
        if missing:
            raise ValueError(f"deadlines.default must give every deadline; missing: {', '.join(missing)}")
        return self

    def spans(self, *, grade: str | None, channel: str | None, department: str | None) -> dict[str, Span]:
        return dict(_merged_spans(self.default, self.grades.get(grade or ""), self.channels.get(channel or ""),
                                  self.departments.get(department or "")))


@lru_cache(maxsize=256)
def _merged_spans(*layers: Deadlines | None) -> tuple[tuple[str, Span], ...]:
    """The layers merged, most specific last, and parsed: once per combination, not per case. Keyed by the
    layers' values (frozen models), so an edited config never finds an old answer."""
    merged: dict[str, str] = {}
    for layer in layers:
        if layer is not None:
            merged.update(layer.given())
    return tuple((k, Span.parse(v)) for k, v in merged.items())


class ReminderConfig(Strict):
    enabled: bool = True
    check_seconds: float = Field(default=60.0, gt=0)  # how often `ingestd run` looks for reminders due
    points: list[float] = Field(default_factory=lambda: [0.5, 0.9])  # of the time to a deadline
    escalate_every: str = "1wd"  # an overdue case is escalated again at this interval until it moves
    desk: str | None = None  # the complaint desk's address for escalations (default: outbound.default_from)
    progress_notice: bool = True  # tell the complainant when a deadline is extended

    @field_validator("points")
    @classmethod
    def _points_ok(cls, value: list[float]) -> list[float]:
        if any(p <= 0 or p >= 1 for p in value):
            raise ValueError("reminder points are fractions between 0 and 1 (e.g. 0.5, 0.9)")
        return sorted(set(value))

    @field_validator("escalate_every")
    @classmethod
    def _span_ok(cls, value: str) -> str:
        Span.parse(value)
        return value


class RepeatConfig(Strict):
    """二次投诉: the same complainant about the same matter again within `intake.repeat_window_days`."""

    similarity: float = Field(default=0.2, ge=0, le=1)  # at or over this, the matter is the same
    raise_grades: int = Field(default=1, ge=0)  # how many grades up a repeat goes (never past the highest)


class ActionConfig(Strict):
    reroute_within: str = "1wd"  # a department may hand a case back ("not ours") within this of receiving it

    @field_validator("reroute_within")
    @classmethod
    def _span_ok(cls, value: str) -> str:
        Span.parse(value)
        return value
