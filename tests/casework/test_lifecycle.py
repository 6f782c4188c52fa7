"""A case's whole life on a fake clock, against a real SMTP peer: deadlines, reminders, escalation, department
commands by reply, extension, formal reply, return visit, withdrawal, repeat complaints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from ingestd.app import App
from ingestd.casework.reminders import sweep
from ingestd.clock import FakeClock
from ingestd.daemon import sweep_reminders
from tests.casework.conftest import local
from tests.mail import complaint
from tests.outbound.conftest import events, get_case, outbox, take
from tests.servers.smtp import SmtpServer

DELAY = complaint(subject="投诉：快递延误十天仍未送达", message_id="<late-1@example.com>")


def kinds_to(smtp: SmtpServer, address: str) -> list[str]:
    return [m.message["X-Ingestd-Kind"] for m in smtp.to(address)]


def notification(smtp: SmtpServer, inbox: str):  # type: ignore[no-untyped-def]
    (note,) = [m.message for m in smtp.to(inbox) if m.message["X-Ingestd-Kind"] == "notify"]
    return note


def reply_to(note, sender: str, body: str) -> bytes:  # type: ignore[no-untyped-def]
    return complaint(sender=sender, subject="Re: " + note["Subject"], body=body, in_reply_to=note["Message-ID"],
                     references=[note["Message-ID"]])


def test_deadlines_are_set_per_grade_and_promised_in_the_acknowledgement(
        make_life_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer) -> None:
    """Given complaints received Monday 09:30 (Shanghai), when taken, then an ordinary one is due for a first
    answer Wednesday and resolution Thursday (3 working days), a major one (a lawyer) resolution in 10 working
    days, and the acknowledgement promises the resolve-by date."""
    app = make_life_app(sqlite_url, smtp)
    ordinary = get_case(app, take(app, DELAY).case_no)
    assert ordinary.department == "logistics" and ordinary.grade == "一般"
    assert ordinary.answer_due == local("2026-11-04 18:00") and ordinary.resolve_due == local("2026-11-05 18:00")
    assert ordinary.acknowledged_at is not None
    major = get_case(app, take(app, complaint(subject="律师函：要求赔偿", sender="李 <li@example.com>",
                                              body="我的律师将起诉贵公司。")).case_no)
    assert major.grade == "重大" and major.resolve_due == local("2026-11-16 18:00")
    app.outbound.drain()
    (ack,) = [m.message for m in smtp.to("zhang.wei@example.com")]
    assert "2026年11月5日" in ack.get_body(("plain",)).get_content()


def test_reminders_then_escalations_go_out_once_each(make_life_app: Callable[..., App], sqlite_url: str,
                                                     smtp: SmtpServer, clock: FakeClock) -> None:
    """Given an ordinary case received Monday 09:30 and two workers sweeping, when time passes the 50% and 90%
    points of the first answer, then the department gets one reminder for each; when the deadline passes, its
    supervisor and the desk get one escalation, again one working day later, and nothing more once answered."""
    app = make_life_app(sqlite_url, smtp)
    other = make_life_app(sqlite_url, smtp)  # a second worker on the same register
    case_no = take(app, DELAY).case_no
    app.outbound.drain()
    for moment, expected in [
        ("2026-11-02 12:00", []),  # 2.5 of 26.5 working hours to the first answer (Wed 18:00): nothing yet
        ("2026-11-03 14:30", ["remind"]),  # past 50% of the first answer (Tue 13:45)
        ("2026-11-04 16:30", ["remind"] * 3),  # past 90% of the first answer (Wed 15:21), 50% of resolve (Wed 09:15)
    ]:
        clock.set(local(moment))
        for worker in (app, other, app):
            sweep_reminders(worker)
        app.outbound.drain()
        assert kinds_to(smtp, "logistics@org.example") == ["notify", *expected], moment
    reminders = [o.idempotency_key for o in outbox(app, kind="remind")]
    assert sorted(k.split(":")[4:6] for k in reminders) == [["first_answer", "50"], ["first_answer", "90"],
                                                             ["resolve", "50"]]
    clock.set(local("2026-11-04 18:30"))  # first answer overdue
    for worker in (app, other):
        sweep_reminders(worker)
    app.outbound.drain()
    assert kinds_to(smtp, "logistics-head@org.example") == ["escalate"]
    assert kinds_to(smtp, "desk@org.example") == ["escalate"]
    assert "overdue" in (get_case(app, case_no).flags or [])
    clock.set(local("2026-11-05 18:30"))  # a working day later (and resolve overdue too)
    sweep_reminders(app)
    app.outbound.drain()
    assert kinds_to(smtp, "logistics-head@org.example") == ["escalate"] * 3
    subjects = [m.message["Subject"] for m in smtp.to("logistics-head@org.example")]
    assert any("第2次" in s for s in subjects)
    assert [e.detail["round"] for e in events(app, case_no, "case.escalated")] == [1, 1, 2, 2, 1, 1]  # FA twice, resolve once; to supervisor and desk
    # the department answers and extends: escalations about the first answer stop; resolve moves
    note = notification(smtp, "logistics@org.example")
    take(app, reply_to(note, "Logistics <logistics@org.example>", "#extend 3 等待快递公司调查结果"))
    case = get_case(app, case_no)
    assert case.answered_at is None and case.resolve_due == local("2026-11-10 18:00")  # Thu + 3 working days
    take(app, reply_to(note, "Logistics <logistics@org.example>", "已联系快递公司，明天送达。"))
    case = get_case(app, case_no)
    assert case.status == "answered" and case.answered_at is not None
    app.outbound.drain()
    before = len(smtp.messages)
    clock.set(local("2026-11-06 10:00"))
    sweep_reminders(app)
    app.outbound.drain()
    # no more escalations; only a reminder at 50% of the time to the extended deadline (Thu 15:45 passed)
    assert [(m.message["X-Ingestd-Kind"], m.rcpt_tos) for m in smtp.messages[before:]] == [
        ("remind", ["logistics@org.example"])]
    progress = [m.message for m in smtp.to("zhang.wei@example.com") if m.message["X-Ingestd-Kind"] == "progress"]
    assert len(progress) == 1 and "2026年11月10日" in progress[0].get_body(("plain",)).get_content()


def test_reroute_by_reply_within_one_working_day_and_refused_after(
        make_life_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer, clock: FakeClock) -> None:
    """Given a case routed to logistics, when logistics replies `#reroute billing reason` the same day, then the
    case moves to billing, which is notified with new deadlines; when billing tries the same two working days
    later it is refused (only the desk may), and a command from an outsider is only a message."""
    app = make_life_app(sqlite_url, smtp)
    case_no = take(app, DELAY).case_no
    app.outbound.drain()
    note = notification(smtp, "logistics@org.example")
    clock.advance(timedelta(hours=3))
    take(app, reply_to(note, "Someone <someone@elsewhere.example>", "#reroute billing 我说的"))
    assert get_case(app, case_no).department == "logistics"
    take(app, reply_to(note, "Logistics <logistics@org.example>", "#reroute billing 这是扣费问题，不属于物流"))
    case = get_case(app, case_no)
    assert case.department == "billing" and case.routed_at == clock.now()
    app.outbound.drain()
    billing_note = notification(smtp, "billing@org.example")
    assert "转办" in billing_note["Subject"] or "rerouted" in billing_note["Subject"].lower()
    clock.set(local("2026-11-05 10:00"))
    take(app, reply_to(billing_note, "Billing <billing@org.example>", "#reroute logistics 也不是我们的"))
    assert get_case(app, case_no).department == "billing"
    (refused,) = events(app, case_no, "command.refused")
    assert "only the complaint desk" in refused.detail["reason"]
    late = take(app, reply_to(note, "Logistics <logistics@org.example>", "#close"))  # logistics no longer holds it
    assert late.status == "threaded" and get_case(app, case_no).status == "open"


def test_formal_reply_by_command_then_return_visit_unsatisfied_reopens(
        make_life_app: Callable[..., App], sqlite_url: str, smtp: SmtpServer, clock: FakeClock) -> None:
    """Given a case, when its department replies `#reply` with the text, then the complainant gets the formal
    reply and the return visit is due in 3 working days; when the complainant answers "不满意", the case is
    reopened with new deadlines and escalated to the supervisor and the desk; a later "满意" closes it."""
    app = make_life_app(sqlite_url, smtp)
    case_no = take(app, DELAY).case_no
    app.outbound.drain()
    note = notification(smtp, "logistics@org.example")
    clock.advance(timedelta(hours=5))
    take(app, reply_to(note, "Logistics <logistics@org.example>", "#reply\n张先生：\n\n经核查，包裹已于今日送达，运费已退还。"))
    case = get_case(app, case_no)
    assert case.status == "replied" and case.visit_due == local("2026-11-05 18:00")
    app.outbound.drain()
    (formal,) = [m.message for m in smtp.to("zhang.wei@example.com") if m.message["X-Ingestd-Kind"] == "reply"]
    assert "包裹已于今日送达" in formal.get_body(("plain",)).get_content()
    clock.advance(timedelta(days=1))
    take(app, complaint(subject="Re: " + formal["Subject"], body="不满意，运费根本没有退。",
                        in_reply_to=formal["Message-ID"]))
    case = get_case(app, case_no)
    assert (case.status, case.satisfaction) == ("open", "unsatisfied") and "reopened" in case.flags
    assert case.resolve_due is not None and case.resolve_due > clock.now()
    app.outbound.drain()
    assert kinds_to(smtp, "logistics-head@org.example") == ["escalate"]
    assert kinds_to(smtp, "desk@org.example") == ["escalate"]
    assert app.casework is not None  # the desk sends a second reply and records the second visit by phone
    with app.db.write() as session:
        from sqlmodel import select

        from ingestd.store.models import Case
        fresh = session.exec(select(Case).where(Case.case_no == case_no)).one()
        app.casework.reply(session, fresh, "运费已于今日退回您的账户。", clock.now(), actor="desk")
        app.casework.visit(session, fresh, True, clock.now(), actor="desk", note="电话回访：满意")
    case = get_case(app, case_no)
    assert (case.status, case.satisfaction, case.status_reason) == ("closed", "satisfied",
                                                                     "satisfied at the return visit")


def test_a_complainant_withdraws_by_reply(make_life_app: Callable[..., App], sqlite_url: str,
                                          smtp: SmtpServer) -> None:
    """Given an open case, when the complainant writes that they withdraw, then it is withdrawn with their words
    as the reason, and no reminder or escalation follows."""
    app = make_life_app(sqlite_url, smtp)
    case_no = take(app, DELAY).case_no
    take(app, complaint(subject=f"Re: [{case_no}] 投诉", body="我决定撤诉，包裹今天送到了。"))
    case = get_case(app, case_no)
    assert case.status == "withdrawn" and "撤诉" in (case.status_reason or "") and case.closed_at is not None
    assert sweep(app.casework, app.db, local("2026-11-20 10:00")) == {}


def test_repeat_complaint_links_flags_and_raises_the_grade(make_life_app: Callable[..., App], sqlite_url: str,
                                                           smtp: SmtpServer, clock: FakeClock) -> None:
    """Given a case, when the same complainant writes about the same matter a month later, then the new case is
    linked to it, flagged repeat, and a grade up (with its shorter deadlines); another matter is not a repeat,
    nor is the same matter after the 90-day window, nor an auto-reply that quotes it."""
    app = make_life_app(sqlite_url, smtp)
    first = take(app, DELAY).case_no
    clock.advance(timedelta(days=30))
    again = get_case(app, take(app, complaint(subject="再次投诉：快递还是没送到",
                                              body="运单 SF-1234567890 的包裹还是没有送到，快递延误一个多月了。")).case_no)
    assert again.repeat_of == get_case(app, first).id and "repeat" in again.flags
    assert again.grade == "重大" and again.fields["repeat"]["of"] == first
    other = get_case(app, take(app, complaint(subject="电饭煲质量问题", body="内胆涂层脱落，要求换货。")).case_no)
    assert other.repeat_of is None and "repeat" not in (other.flags or [])
    auto = get_case(app, take(app, complaint(subject="Automatic reply: 快递延误十天仍未送达",
                                             headers={"Auto-Submitted": "auto-replied"})).case_no)
    assert auto.repeat_of is None
    clock.advance(timedelta(days=91))
    late = get_case(app, take(app, complaint(subject="快递又延误了", body=f"运单 SF1234567890，{first} 那次的包裹。")).case_no)
    assert late.repeat_of is None
