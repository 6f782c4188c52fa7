"""Pure parts of outbound mail: the answer-by date, message building, loop decisions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from ingestd.app import App
from outbound.compose import message_id_for
from outbound.deadlines import answer_by
from outbound.loops import ack_decision
from parsers.model import Complainant, ParsedEmail


@pytest.mark.parametrize(("now", "days", "expected"), [
    (datetime(2026, 11, 2, 1, 0, tzinfo=UTC), 2, date(2026, 11, 4)),  # Monday → Wednesday
    (datetime(2026, 11, 6, 1, 0, tzinfo=UTC), 2, date(2026, 11, 10)),  # Friday → Tuesday
    (datetime(2026, 11, 7, 1, 0, tzinfo=UTC), 1, date(2026, 11, 9)),  # Saturday → Monday
    (datetime(2026, 11, 6, 17, 0, tzinfo=UTC), 1, date(2026, 11, 9)),  # Friday 17:00 UTC is Saturday in Shanghai
])
def test_answer_by_counts_working_days_in_local_time(now: datetime, days: int, expected: date) -> None:
    """Given a receipt time, when the answer-by date is computed, then it is N weekdays later, local time."""
    assert answer_by(None, now, working_days=days, zone="Asia/Shanghai") == expected


@pytest.mark.parametrize(("now", "days", "expected"), [
    (datetime(2026, 9, 30, 2, 0, tzinfo=UTC), 1, date(2026, 10, 8)),  # before the National Day week
    (datetime(2026, 10, 9, 2, 0, tzinfo=UTC), 1, date(2026, 10, 10)),  # Saturday 10 October is a make-up working day
    (datetime(2026, 10, 9, 2, 0, tzinfo=UTC), 2, date(2026, 10, 12)),
])
def test_answer_by_skips_public_holidays_and_counts_make_up_days_by_the_calendar(now: datetime, days: int,
                                                                                 expected: date) -> None:
    """Given the register's working calendar (China's official schedule), when a case without a deadline of
    its own is promised an answer, then holidays are not counted and make-up working days are."""
    from zoneinfo import ZoneInfo

    from ingestd.casework.calendar import WorkCalendar

    calendar = WorkCalendar(ZoneInfo("Asia/Shanghai"))
    assert answer_by(None, now, working_days=days, zone="Asia/Shanghai", calendar=calendar) == expected


def test_message_ids_are_stable_per_idempotency_key() -> None:
    """Given the same idempotency key twice, then the Message-ID is the same; another key, another id."""
    assert message_id_for("ack:TS-1:opened", "x.example") == message_id_for("ack:TS-1:opened", "x.example")
    assert message_id_for("ack:TS-1:opened", "x.example") != message_id_for("ack:TS-2:opened", "x.example")


def _email(**headers: str) -> ParsedEmail:
    return ParsedEmail(message_id="m@example.com", in_reply_to=None, references=[], subject="s", from_name=None,
                       from_addr="p@example.com", to=[], cc=[], date=None, body_text="", description="",
                       language="zh", complainant=Complainant(email="p@example.com"), headers=headers)


def test_loop_decision_is_a_pure_function() -> None:
    own = {"desk@ingestd.example"}
    assert ack_decision(_email(), "p@example.com", own_addresses=own).ok
    assert not ack_decision(_email(**{"auto-submitted": "auto-generated"}), "p@example.com", own_addresses=own)
    assert ack_decision(_email(**{"auto-submitted": "no"}), "p@example.com", own_addresses=own).ok
    assert ack_decision(_email(**{"x-auto-response-suppress": "DR, NDR"}), "p@example.com", own_addresses=own).ok
    assert not ack_decision(_email(**{"x-auto-response-suppress": "OOF, AutoReply"}), "p@example.com",
                            own_addresses=own)
    verdict = ack_decision(_email(**{"authentication-results": "mx; dmarc=fail"}), "p@example.com", own_addresses=own)
    assert not verdict and verdict.auth_failed
    assert not ack_decision(_email(), None, own_addresses=own)
    assert not ack_decision(_email(), "p@example.com", own_addresses=own, sent_today=3, daily_limit=3)


def test_the_outbound_promise_without_a_deadline_follows_the_configured_calendar(
        make_outbound_app: Callable[..., App], sqlite_url: str) -> None:
    """Given a register whose calendar lists an extra day off, when a case without a resolve-by deadline is
    promised an answer, then that day is not counted."""
    from types import SimpleNamespace

    app = make_outbound_app(sqlite_url, None, sections={"calendar": {"holidays": ["2026-11-25"]}})
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday in Shanghai
    assert app.outbound.answer_by(SimpleNamespace(resolve_due=None), now) == date(2026, 11, 26)
