"""Working time as a complaint desk counts it: China's official holidays and make-up days, business hours."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingestd.casework.calendar import Span, WorkCalendar
from ingestd.config.casework import CalendarConfig, DeadlineConfig
from ingestd.config.check import check

REPO = Path(__file__).resolve().parents[2]

SH = ZoneInfo("Asia/Shanghai")
CN = WorkCalendar(SH)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize(("start", "span", "expected"), [
    # Wednesday afternoon before National Day (1-7 Oct 2026 off): 2 working days are 8 and 9 October
    ("2026-09-30 15:00", "2wd", "2026-10-09 18:00"),
    # Friday afternoon: Monday and Tuesday
    ("2026-11-20 16:00", "2wd", "2026-11-24 18:00"),
    # Friday 9 October 2026 + 1 working day is Saturday 10 October, a make-up working day (调休)
    ("2026-10-09 10:00", "1wd", "2026-10-10 18:00"),
    # a Sunday complaint: the count starts on Monday
    ("2026-11-22 11:00", "1wd", "2026-11-23 18:00"),
    # across New Year 2027 (a year chinese_calendar does not publish yet: statutory holidays still count)
    ("2026-12-31 15:00", "2wd", "2027-01-05 18:00"),
    # 8 working hours from Friday 15:00 (business hours 09:00-18:00): 3 h Friday + 5 h Monday
    ("2026-11-20 15:00", "8wh", "2026-11-23 14:00"),
    # clock hours ignore the calendar: a letter acknowledged within 24 h
    ("2026-11-21 10:00", "24h", "2026-11-22 10:00"),
])
def test_spans_land_where_a_person_expects(start: str, span: str, expected: str) -> None:
    assert CN.add(at(start), Span.parse(span)) == at(expected)


def test_working_hours_between_skip_nights_weekends_and_holidays() -> None:
    """Friday 17:00 to Monday 10:00 is 2 working hours; across the National Day week only the working days count."""
    assert CN.working_hours_between(at("2026-11-20 17:00"), at("2026-11-23 10:00")) == 2.0
    assert CN.working_hours_between(at("2026-09-30 15:00"), at("2026-10-08 12:00")) == 3.0 + 3.0
    assert CN.working_hours_between(at("2026-11-23 10:00"), at("2026-11-20 10:00")) == 0.0


def test_reminder_point_is_a_share_of_the_working_time() -> None:
    start, due = at("2026-11-20 15:00"), at("2026-11-24 18:00")  # 3 + 9 + 9 = 21 working hours
    assert CN.point_between(start, due, 0.5) == at("2026-11-23 16:30")


def test_config_dates_and_other_countries() -> None:
    """Given a company holiday and an extra working Sunday in config, and a calendar for Great Britain, then each
    is honoured."""
    calendar = CalendarConfig(holidays=[date(2026, 11, 24)], workdays=[date(2026, 11, 29)]).build("Asia/Shanghai")
    assert not calendar.is_workday(date(2026, 11, 24)) and calendar.is_workday(date(2026, 11, 29))
    gb = CalendarConfig(country="GB", hours="08:30-17:00").build("Europe/London")
    assert not gb.is_workday(date(2026, 12, 25)) and gb.is_workday(date(2026, 12, 24))
    assert gb.hours_per_day == 8.5
    plain = CalendarConfig(country=None, weekdays=[1, 2, 3, 4, 5, 6]).build("UTC")
    assert plain.is_workday(date(2026, 10, 1)) and plain.is_workday(date(2026, 11, 21))  # no holidays, Saturdays


@pytest.mark.parametrize("bad", ["2 days", "wd", "-1wd", "2x", ""])
def test_a_span_that_is_not_one_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a time span"):
        Span.parse(bad)


def test_policy_layers_grade_channel_and_department() -> None:
    """The shipped policy: the highest grade is answered in 2 and resolved in 10 working days; ordinary ones are
    resolved in 3, minor ones in 2; a letter is acknowledged within 24 hours; a department may set its own."""
    policy = DeadlineConfig.model_validate({"departments": {"legal": {"resolve": "15wd"}}})
    major = policy.spans(grade="重大", channel="email", department="logistics")
    assert (str(major["first_answer"]), str(major["resolve"]), str(major["acknowledge"])) == ("2wd", "10wd", "1wd")
    assert str(policy.spans(grade="一般", channel="email", department=None)["resolve"]) == "3wd"
    assert str(policy.spans(grade="轻微", channel="email", department=None)["resolve"]) == "2wd"
    assert str(policy.spans(grade="一般", channel="letter", department=None)["acknowledge"]) == "24h"
    assert str(policy.spans(grade="重大", channel="email", department="legal")["resolve"]) == "15wd"
    with pytest.raises(ValueError, match="missing: resolve"):
        DeadlineConfig.model_validate({"default": {"acknowledge": "1wd", "first_answer": "1wd",
                                                   "return_visit": "3wd"}})


def test_check_config_points_at_bad_policy_lines(tmp_path: Path) -> None:
    """Given a span that is not one, an unknown country, and a deadline for a grade the routing file lacks, when
    checked, then each is reported at its own line (the grade once the values load)."""
    shutil.copy(REPO / "config" / "routing.toml", tmp_path / "routing.toml")
    path = tmp_path / "ingestd.toml"
    path.write_text("\n".join([
        "[routing]",
        'file = "routing.toml"',
        "[calendar]",
        'country = "XX"',
        '[deadlines.grades."重大"]',
        'resolve = "10 days"',
        '[deadlines.grades."重要"]',
        'resolve = "10wd"',
    ]) + "\n", encoding="utf-8")
    problems = {p.line: p.message for p in check(path)}
    assert "unknown country code 'XX'" in problems[4]
    assert "'10 days' is not a time span" in problems[6]
    path.write_text(path.read_text(encoding="utf-8").replace('country = "XX"', 'country = "CN"')
                    .replace('"10 days"', '"10wd"'), encoding="utf-8")
    assert [(p.line, p.message.split(":")[0]) for p in check(path)] == [(7, "deadlines.grades.重要")]
