"""Department notifications, department replies, bounces, and two instances that write to each other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlmodel import func, select

from ingestd.app import App
from ingestd.pipeline.items import RawInput
from ingestd.store.models import Case, QuarantineEntry
from tests.mail import complaint
from tests.outbound.conftest import events, outbox, take
from tests.servers.smtp import SmtpServer


def dsn(original_message_id: str, *, recipient: str = "zhang.wei@example.com", in_reply_to: bool = False) -> bytes:
    """A delivery status notification (multipart/report) as Postfix writes it."""
    parent = f"In-Reply-To: {original_message_id}\r\n" if in_reply_to else ""
    return (
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\n"
        "To: complaints@ingestd.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
        "Message-ID: <dsn-1@mx.example.com>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        f"{parent}"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n'
        "\r\n"
        "--BOUND\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.example.com.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        "--BOUND\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--BOUND\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        "From: complaints@ingestd.example\r\n"
        f"To: {recipient}\r\n"
        f"Message-ID: {original_message_id}\r\n"
        "Subject: ack\r\n\r\n"
        "--BOUND--\r\n"
    ).encode()


def count_cases(app: App) -> int:
    with app.db.read() as session:
        return int(session.exec(select(func.count()).select_from(Case)).one())


def test_routed_case_goes_to_the_department_with_its_attachments(
        make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer) -> None:
    """Given a complaint with a small and a large attachment, when routed (to triage), then the department
    inbox gets the case summary, complainant contact, grade and answer-by date, the small attachment, and
    a note instead of the large one."""
    app = make_outbound_app(sqlite_url, smtp, notify_attachment_max_bytes=1000)
    outcome = take(app, complaint(attachments=[("照片.jpg", "image/jpeg", b"\xff\xd8\xff" + b"x" * 100),
                                               ("video.mp4", "video/mp4", b"\x00" * 5000)]))
    app.outbound.drain()
    (note,) = smtp.to("triage@dept.example")
    msg = note.message
    assert outcome.case_no in msg["Subject"] and msg["Auto-Submitted"] == "auto-generated"
    text = msg.get_body(("plain",)).get_content()
    for expected in (outcome.case_no, "张伟", "zhang.wei@example.com", "+8613800138000", "2026年11月5日",
                     "快递", "video.mp4", "未随本邮件发送"):
        assert expected in text, expected
    names = [p.get_filename() for p in msg.iter_attachments()]
    assert names == ["照片.jpg"]
    (notified,) = events(app, outcome.case_no, "department.notified")
    assert notified.detail["department"] == "triage" and notified.detail["attachments_left_out"] == ["video.mp4"]


def test_department_reply_is_recorded_as_its_response(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                      smtp: SmtpServer) -> None:
    """Given a department notification, when the department's supervisor replies to it, then the reply joins
    the case as the department's response; a reply from anyone else is only a message on the case."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = take(app, complaint())
    app.outbound.drain()
    note = smtp.to("triage@dept.example")[0].message
    other = take(app, complaint(sender="Someone <someone@elsewhere.example>", subject="Re: " + note["Subject"],
                                body="我也想说两句。", in_reply_to=note["Message-ID"]))
    assert (other.status, other.case_no) == ("threaded", outcome.case_no)
    assert events(app, outcome.case_no, "department.responded") == []
    answer = take(app, complaint(sender="Lead <triage-lead@dept.example>", subject="Re: " + note["Subject"],
                                 body="已联系快递公司，明天送达。", in_reply_to=note["Message-ID"],
                                 references=[note["Message-ID"]]))
    assert (answer.status, answer.case_no) == ("threaded", outcome.case_no)
    (responded,) = events(app, outcome.case_no, "department.responded")
    assert responded.detail["department"] == "triage" and responded.detail["sender"] == "triage-lead@dept.example"
    app.outbound.drain()
    assert len(smtp.to("zhang.wei@example.com")) == 1  # nobody is acknowledged for a threaded message


def test_bounce_replying_to_our_message_is_recorded_on_its_case(
        make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer) -> None:
    """Given an acknowledgement that was sent, when a delivery report for it comes back (naming it in
    In-Reply-To), then it joins the case, the case records `outbound.bounced`, the outbox row is marked
    bounced, and no case is opened and nothing is sent."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = take(app, complaint())
    app.outbound.drain()
    ack = smtp.to("zhang.wei@example.com")[0].message
    sent = len(smtp.messages)
    bounce = take(app, dsn(ack["Message-ID"], in_reply_to=True))
    assert (bounce.status, bounce.case_no) == ("threaded", outcome.case_no)
    (bounced,) = events(app, outcome.case_no, "outbound.bounced")
    assert bounced.detail["outbox_kind"] == "ack" and "5.1.1" in bounced.detail["diagnostic"]
    assert outbox(app, kind="ack")[0].status == "bounced"
    assert count_cases(app) == 1
    app.outbound.drain()
    assert len(smtp.messages) == sent


def test_bounce_naming_our_message_only_in_the_report_joins_its_case(
        make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer) -> None:
    """Given an acknowledgement that was sent, when a delivery report names it only in its returned headers
    (as Postfix does), then it joins the case and is recorded as bounced."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = take(app, complaint())
    app.outbound.drain()
    ack = smtp.to("zhang.wei@example.com")[0].message
    bounce = take(app, dsn(ack["Message-ID"]))
    assert (bounce.status, bounce.case_no) == ("threaded", outcome.case_no)
    assert len(events(app, outcome.case_no, "outbound.bounced")) == 1


def test_bounce_for_an_unknown_message_opens_no_case(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                     smtp: SmtpServer) -> None:
    """Given a delivery report about a message we never sent (backscatter), when taken, then no case is
    opened: it is parked in quarantine with the reason, and nothing is sent."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = app.intake.take(RawInput(data=dsn("<forged-1@spammer.example>"), source="test"))
    assert outcome.status == "quarantined" and outcome.reason == "bounce for unknown message"
    assert count_cases(app) == 0
    with app.db.read() as session:
        (entry,) = session.exec(select(QuarantineEntry)).all()
    assert entry.reason == "bounce for unknown message"
    assert app.outbound.drain() == {}


def test_two_instances_writing_to_each_other_do_not_loop(make_outbound_app: Callable[..., App], tmp_path: Path) -> None:
    """Given two ingestd instances, each the other's complainant and department inbox, when one complaint
    arrives at A and each instance's outgoing .eml files are fed into the other's intake for five rounds,
    then the exchange stops after a bounded number of messages (automatic mail is never answered)."""
    a = make_outbound_app(f"sqlite:///{tmp_path}/a.db", None, data_dir=tmp_path / "a",
                          default_from="intake@a.example", departments={"triage": "intake@b.example"})
    b = make_outbound_app(f"sqlite:///{tmp_path}/b.db", None, data_dir=tmp_path / "b",
                          default_from="intake@b.example", departments={"triage": "intake@a.example"})
    take(a, complaint(sender="B Robot <intake@b.example>", to="intake@a.example"))
    fed: dict[str, set[Path]] = {"a": set(), "b": set()}
    exchanged = []
    for _round in range(5):
        moved = 0
        for src, dst, name in ((a, b, "a"), (b, a, "b")):
            src.outbound.drain()
            for eml in sorted((tmp_path / name / "outbox").glob("*.eml")):
                if eml not in fed[name]:
                    fed[name].add(eml)
                    take(dst, eml.read_bytes(), ref=str(eml))
                    moved += 1
        exchanged.append(moved)
    assert exchanged[0] <= 2 and exchanged[-1] == 0 and sum(exchanged) <= 3
    assert count_cases(a) + count_cases(b) <= 3


def test_reroute_notifies_the_new_department_with_the_stored_attachments(
        make_outbound_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer) -> None:
    """Given a routed case with an attachment, when it is rerouted (notify_department in the rerouting
    transaction), then the new department's inbox gets the case marked as rerouted, with the attachment read
    back from the blob store; a second reroute is a second notification, not a duplicate key."""
    from ingestd.store.register import Register
    from outbound.responders import notify_department

    app = make_outbound_app(sqlite_url, smtp, departments={"triage": "triage@dept.example",
                                                           "billing": "billing@dept.example"})
    outcome = take(app, complaint(attachments=[("账单.pdf", "application/pdf", b"%PDF-1.4 bill")]))
    with app.db.write() as session:
        case = session.exec(select(Case).where(Case.case_no == outcome.case_no)).one()
        for _ in range(2):
            notify_department(app.outbound, session, case.id, "billing", app.clock.now(), reason="rerouted",
                              register=Register(session))
    app.outbound.drain()
    notes = smtp.to("billing@dept.example")
    assert len(notes) == 2 and "转办" in notes[0].message["Subject"]
    (att,) = list(notes[0].message.iter_attachments())
    assert att.get_filename() == "账单.pdf" and att.get_content() == b"%PDF-1.4 bill"
    assert len(events(app, outcome.case_no, "department.notified")) == 3
