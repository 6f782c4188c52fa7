"""Acknowledgements to complainants, delivered to a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import insert

from ingestd.app import App
from ingestd.pipeline.items import RawInput
from ingestd.pipeline.respond import ResponseContext
from ingestd.store.models import OutboxMessage
from outbound.outbox import acks_since
from tests.mail import complaint
from tests.outbound.conftest import events, get_case, outbox, take
from tests.servers.smtp import SmtpServer

SENDERS = ["张伟 <zhang.wei@example.com>", "Li Na <li.na@example.org>", "王芳 <wang.fang@example.net>"]


def test_every_case_gets_exactly_one_acknowledgement(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                     smtp: SmtpServer) -> None:
    """Given three complaints from three people, when they are taken and the outbox drained, then each
    complainant has exactly one acknowledgement; when the same messages are taken again and the outbox
    drained again, then nothing more is sent."""
    app = make_outbound_app(sqlite_url, smtp)
    messages = [complaint(sender=s, message_id=f"<c{i}@example.com>") for i, s in enumerate(SENDERS)]
    outcomes = [take(app, m) for m in messages]
    assert [o.status for o in outcomes] == ["created"] * 3
    app.outbound.drain()
    acks = [m for m in smtp.messages if m.message["X-Ingestd-Kind"] == "ack"]
    assert sorted(a.rcpt_tos[0] for a in acks) == sorted(
        ["zhang.wei@example.com", "li.na@example.org", "wang.fang@example.net"])
    assert [take(app, m).status for m in messages] == ["duplicate"] * 3
    before = len(smtp.messages)
    assert app.outbound.drain().get("sent", 0) == 0
    assert len(smtp.messages) == before
    for outcome in outcomes:
        assert len(events(app, outcome.case_no, "ack.queued")) == 1
        assert len(events(app, outcome.case_no, "outbound.sent")) >= 1


def test_acknowledgement_says_case_answer_date_and_threads_back(make_outbound_app: Callable[..., App],
                                                                sqlite_url: str, smtp: SmtpServer) -> None:
    """Given a Chinese complaint on a Monday, when acknowledged, then the reply names the case number (in
    the subject too), what was received and the answer-by date two working days later, replies to the
    complaint (In-Reply-To/References), is marked Auto-Submitted: auto-replied; and the complainant's reply
    to it joins the case without a second acknowledgement."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = take(app, complaint(message_id="<orig-1@example.com>"))
    app.outbound.drain()
    (ack,) = smtp.to("zhang.wei@example.com")
    msg = ack.message
    assert outcome.case_no in msg["Subject"] and "投诉" in msg["Subject"]
    assert msg["In-Reply-To"] == "<orig-1@example.com>" and "<orig-1@example.com>" in msg["References"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Loop"] == "complaints@ingestd.example"
    assert ack.mail_from == "complaints@ingestd.example"
    text = msg.get_body(("plain",)).get_content()
    assert outcome.case_no in text and "快递延误" in text and "2026年11月5日" in text  # resolve-by: Mon + 3 working days
    html = msg.get_body(("html",)).get_content()
    assert outcome.case_no in html

    reply = complaint(subject="Re: " + str(msg["Subject"]), body="补充：快递单号 SF1234567890。",
                      in_reply_to=str(msg["Message-ID"]), references=[str(msg["Message-ID"])])
    second = take(app, reply)
    assert (second.status, second.case_no) == ("threaded", outcome.case_no)
    app.outbound.drain()
    assert len(smtp.to("zhang.wei@example.com")) == 1


def test_english_complaint_is_acknowledged_in_english(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                      smtp: SmtpServer) -> None:
    """Given an English complaint, when acknowledged, then the acknowledgement is in English."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = take(app, complaint(subject="Complaint: broken heater",
                                  body="The heater I bought on 1 October stopped working. I want a refund.\n"
                                       "Jane Doe, phone 13800138000\n",
                                  sender="Jane Doe <jane@example.com>"))
    app.outbound.drain()
    msg = smtp.to("jane@example.com")[0].message
    assert msg["Subject"].strip().startswith(f"[{outcome.case_no}] We have received your complaint")
    assert "You will have an answer by 5 November 2026"  # Mon + 3 working days in msg.get_body(("plain",)).get_content()


def test_the_daily_limit_per_sender(make_outbound_app: Callable[..., App], sqlite_url: str,
                                    smtp: SmtpServer) -> None:
    """Given a limit of two acknowledgements per sender per day, when one sender opens three cases, then two
    are acknowledged and the third case records the suppression with the reason."""
    app = make_outbound_app(sqlite_url, smtp, ack_limit_per_sender_per_day=2)
    outcomes = [take(app, complaint(subject=f"投诉{i}", message_id=make_msgid(domain="example.com")))
                for i in range(3)]
    app.outbound.drain()
    assert len(smtp.to("zhang.wei@example.com")) == 2
    (suppressed,) = events(app, outcomes[2].case_no, "ack.suppressed")
    assert "daily limit" in suppressed.detail["reason"]



class _FailAfterAck:
    """Fails the input with the given subject after the acknowledgement was queued for it."""

    name = "fail-after-ack"

    def __init__(self, subject: str) -> None:
        self.subject = subject

    def respond(self, ctx: ResponseContext) -> None:
        if ctx.parsed.email.subject == self.subject:
            raise RuntimeError("a later responder failed")


def test_an_acknowledgement_rolled_back_with_its_input_does_not_count_to_the_limit(
        make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer) -> None:
    """Given a limit of two a day and one batch of three complaints from one sender whose first fails after its
    acknowledgement was queued (so its case and acknowledgement are rolled back), when the batch is taken, then
    the other two are both acknowledged: the batch's count forgets the rolled-back one."""
    app = make_outbound_app(sqlite_url, smtp, ack_limit_per_sender_per_day=2)
    app.intake.responders.append(_FailAfterAck("投诉0"))
    batch = [RawInput(complaint(subject=f"投诉{i}", message_id=make_msgid(domain="example.com")), "test", str(i))
             for i in range(3)]
    outcomes = [o for _, o in app.intake.take_many(batch, workers=1)]
    assert [o.status for o in outcomes] == ["quarantined", "created", "created"]
    for outcome in outcomes[1:]:
        assert events(app, outcome.case_no, "ack.queued") and not events(app, outcome.case_no, "ack.suppressed")
    app.outbound.drain()
    assert len(smtp.to("zhang.wei@example.com")) == 2


RFC3834 = [
    ({"Auto-Submitted": "auto-replied"}, "zhang.wei@example.com", "Auto-Submitted: auto-replied"),
    ({"Auto-Submitted": "auto-generated"}, "zhang.wei@example.com", "Auto-Submitted: auto-generated"),
    ({"Precedence": "bulk"}, "zhang.wei@example.com", "Precedence: bulk"),
    ({"Precedence": "junk"}, "zhang.wei@example.com", "Precedence: junk"),
    ({"Precedence": "list"}, "zhang.wei@example.com", "Precedence: list"),
    ({"List-Id": "<complaints.lists.example.com>"}, "zhang.wei@example.com", "List-Id"),
    ({"Return-Path": "<>"}, "zhang.wei@example.com", "empty Return-Path"),
    ({}, "MAILER-DAEMON@mx.example.com", "system sender"),
    ({}, "postmaster@example.com", "system sender"),
    ({}, "noreply@shop.example.com", "system sender"),
    ({}, "no-reply@shop.example.com", "system sender"),
    ({"X-Auto-Response-Suppress": "All"}, "zhang.wei@example.com", "X-Auto-Response-Suppress"),
    ({"X-Loop": "complaints@ingestd.example"}, "zhang.wei@example.com", "X-Loop"),
    ({"X-Ingestd-Case": "TS-202611-00009"}, "zhang.wei@example.com", "ingestd mail"),
    ({}, "complaints@ingestd.example", "our own address"),
]


@pytest.mark.parametrize(("headers", "sender", "reason"), RFC3834, ids=[r[2] + ":" + r[1] for r in RFC3834])
def test_rfc3834_no_acknowledgement(make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer,
                                    headers: dict[str, str], sender: str, reason: str) -> None:
    """Given a message that is automatic, bulk, from a list, a system address or ourselves, when it opens a
    case, then no acknowledgement is sent and the case records the suppression with the reason."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = take(app, complaint(sender=sender, headers=headers))
    assert outcome.status == "created"
    app.outbound.drain()
    assert [m for m in smtp.messages if m.message["X-Ingestd-Kind"] == "ack"] == []
    (suppressed,) = events(app, outcome.case_no, "ack.suppressed")
    assert reason in suppressed.detail["reason"]
    assert outbox(app, kind="ack") == []


def test_auto_submitted_no_is_acknowledged(make_outbound_app: Callable[..., App], sqlite_url: str,
                                           smtp: SmtpServer) -> None:
    """Given `Auto-Submitted: no` (a person wrote it), when it opens a case, then it is acknowledged."""
    app = make_outbound_app(sqlite_url, smtp)
    take(app, complaint(headers={"Auto-Submitted": "no"}))
    app.outbound.drain()
    assert len(smtp.to("zhang.wei@example.com")) == 1


@pytest.mark.parametrize("results", [
    "mx.ingestd.example; dmarc=fail (p=reject) header.from=example.com; spf=pass",
    "mx.ingestd.example; spf=fail smtp.mailfrom=example.com; dkim=none",
])
def test_failed_authentication_flags_the_case_instead(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                      smtp: SmtpServer, results: str) -> None:
    """Given Authentication-Results saying DMARC or SPF failed, when the message opens a case, then no
    acknowledgement goes to the (possibly forged) sender and the case is flagged auth_failed."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = take(app, complaint(headers={"Authentication-Results": results}))
    app.outbound.drain()
    assert smtp.to("zhang.wei@example.com") == []
    assert "auth_failed" in get_case(app, outcome.case_no).flags
    (suppressed,) = events(app, outcome.case_no, "ack.suppressed")
    assert "authentication failed" in suppressed.detail["reason"]


def test_an_old_message_from_an_archive_import_is_not_acknowledged(
        make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer) -> None:
    """Given a message dated two months before it is taken (an archive being imported), when it opens a case,
    then no acknowledgement goes out and the case says why."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = take(app, complaint(date=datetime(2026, 9, 1, 9, 0, tzinfo=UTC)))
    app.outbound.drain()
    assert smtp.to("zhang.wei@example.com") == []
    (suppressed,) = events(app, outcome.case_no, "ack.suppressed")
    assert "more than 30 days ago" in suppressed.detail["reason"]


def _queued_acks(app: App, start: int, n: int, at: datetime) -> None:
    rows = [{"idempotency_key": f"ack:C{i}:received", "kind": "ack", "status": "sent", "next_attempt_at": at,
             "message_id": f"ack-{i}@ingestd.example", "from_addr": "desk@ingestd.example",
             "to_addr": f"sender{i}@example.com", "raw_sha256": "0" * 64, "created_at": at}
            for i in range(start, start + n)]
    with app.db.write() as session:
        session.execute(insert(OutboxMessage), rows)


def _steps_to_count(app: App, senders: set[str], since: datetime) -> tuple[dict[str, int], int]:
    """acks_since's answer, and how many SQLite VM steps (in hundreds) the query took."""
    with app.db.read() as session:
        sqlite = session.connection().connection.driver_connection
        steps = [0]

        def tick() -> int:
            steps[0] += 1
            return 0

        sqlite.set_progress_handler(tick, 100)
        try:
            return acks_since(session, senders, since), steps[0]
        finally:
            sqlite.set_progress_handler(None, 100)


def test_the_daily_count_reads_the_batchs_senders_not_the_whole_outbox(
        make_outbound_app: Callable[..., App], sqlite_url: str) -> None:
    """Given an outbox of 500 acknowledgements sent today, when a batch's 50 senders (two of them acknowledged
    already) are counted, then the counts are right; given then 5,000 more acknowledgements to other people,
    the same count takes about the same work (SQLite VM steps), not ten times as much: it is answered from
    an index, not by reading every acknowledgement of the day."""
    app = make_outbound_app(sqlite_url, None)
    today = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    _queued_acks(app, 0, 500, today)
    senders = {f"sender{i}@example.com" for i in (3, 400)} | {f"new{i}@example.com" for i in range(48)}
    counts, small = _steps_to_count(app, senders, datetime(2026, 11, 24, tzinfo=UTC))
    assert counts == {s: int(s.startswith("sender")) for s in senders}
    _queued_acks(app, 500, 5000, today)
    again, large = _steps_to_count(app, senders, datetime(2026, 11, 24, tzinfo=UTC))
    assert again == counts
    assert large < 1.5 * small + 5, (small, large)


def test_an_acknowledgement_subject_template_of_several_lines_gives_one_short_subject_line(
        make_outbound_app: Callable[..., App], sqlite_url: str, tmp_path: Path) -> None:
    """Given an admin's acknowledgement subject template that spreads over lines and runs long, when a complaint
    is acknowledged, then the queued message's subject is one line of at most 200 characters, starting with
    what the template starts with, and its text and HTML are rendered from the same context."""
    import json
    import shutil

    from outbound.templates import BUNDLED

    templates = tmp_path / "templates"
    shutil.copytree(BUNDLED, templates)
    (templates / "zh" / "ack.subject.txt").write_text("受理通知\n{{ case.case_no }}\n" + "长" * 300 + "\n",
                                                       encoding="utf-8")
    app = make_outbound_app(sqlite_url, None, templates_dir=str(templates))
    outcome = take(app, complaint())
    (row,) = outbox(app, kind="ack")
    draft = json.loads(row.draft or "")  # the stored draft (see outbound.compose.draft_json)
    assert "\n" not in draft["subject"] and len(draft["subject"]) <= 200
    assert draft["subject"].startswith(f"受理通知 {outcome.case_no} 长")
    assert outcome.case_no in draft["text"] and outcome.case_no in draft["html"]
