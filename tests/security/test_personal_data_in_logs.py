"""Personal data in logs: complainants' e-mail addresses and phone numbers never reach a log line at the
default settings (`logging.mask_personal_data = true`).

The attack (or the accident): logs are read by more people, kept longer and shipped further than the register,
so anything that writes a complainant's contact into a log line leaks it: the intake's lines, quarantine
reasons (which quote attachment names), a scanned letter's file name, the outbox's failures and retries
(which name the recipient, and quote the SMTP server's answer that names it again). What is checked: a
realistic run, the bundled sample mail plus letters and bad inputs, acknowledgements and notifications sent to
an SMTP server that refuses some recipients and defers others, a formal reply, is logged, in every line and
every field, without any e-mail address or phone number the register holds afterwards.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from loguru import logger
from sqlmodel import select

from ingestd import logs
from ingestd.app import App
from ingestd.logs import mask
from ingestd.pipeline.items import RawInput
from ingestd.sources.files import read_inputs
from ingestd.store.models import Case, Message
from parsers.letter import case_extras
from tests.conftest import SAMPLES
from tests.mail import complaint
from tests.servers.smtp import SmtpServer

LETTER = """关于物业服务的投诉信
尊敬的安心物业：
　　本人住在小区3栋，电梯停运一周无人维修。
　　联系电话：139 1234 5678
　　电子邮箱：wang.fang@example.net
　　通讯地址：北京市朝阳区建国路88号3栋1201室
此致
敬礼
投诉人：王芳
2026年10月28日"""


def letter_ocr(text: str) -> dict:
    lines = [[line, 0.98] for line in text.splitlines()]
    page = {"n": 1, "method": "ocr", "text": text, "lines": lines, "confidence": 0.98}
    return {"kind": "jpeg", "page_count": 1, "pages_to_read": 1, "pages": [page], "threshold": 0.85}


def letter_input(text: str, filename: str) -> RawInput:
    """A scanned letter as the scan folder hands it over after OCR (without running an OCR engine)."""
    ocr = letter_ocr(text)
    fields, flags = case_extras(ocr, 0.85)
    return RawInput(data=b"\xff\xd8\xff letter " + filename.encode(), source="scan:desk",
                    source_ref=f"/srv/scans/{filename}", channel="letter", mailbox="desk",
                    extra={"filename": filename, "ocr": ocr, "case_fields": fields, "case_flags": flags})


@pytest.fixture
def captured() -> Iterator[list[str]]:
    """Logging as `ingestd` sets it up by default (masking on), every record captured as a JSON line (message,
    extra fields and all) down to DEBUG; afterwards loguru is put back as it was before `setup`."""
    logs.setup()
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG", serialize=True)
    yield lines
    logger.remove(sink)
    logger.remove()
    logger.configure(patcher=None, extra={})
    logger.add(sys.stderr)


def contacts(app: App) -> tuple[set[str], set[str]]:
    """Every e-mail address and phone number the register holds about complainants and senders."""
    emails: set[str] = set()
    phones: set[str] = set()
    with app.db.read() as session:
        for case in session.exec(select(Case)).all():
            emails |= {e for e in [case.complainant_email] if e}
            phones |= {p for p in [case.complainant_phone, *(case.complainant_phones or [])] if p}
            letter = (case.fields or {}).get("letter", {}).get("fields", {})
            emails |= {letter["email"]["value"]} if "email" in letter else set()
            phones |= set(letter.get("phones", {}).get("value", []))
        for message in session.exec(select(Message).where(Message.direction == "in")).all():
            emails |= {message.from_addr} if message.from_addr else set()
    return {e.lower() for e in emails}, phones


def phone_pattern(e164: str) -> re.Pattern[str]:
    """The number as E.164 or as its national digits, with any spaces, hyphens or brackets between digits."""
    digits = e164.lstrip("+")
    national = digits[2:] if digits.startswith("86") else digits
    sep = r"[\s\-()]*"
    return re.compile(rf"(?<!\d)(?:\+?{sep.join(digits)}|{sep.join(national)})(?!\d)")


def test_a_realistic_run_logs_no_contact_of_any_complainant(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                             smtp: SmtpServer, captured: list[str]) -> None:
    """Given default logging, when the sample mail, two letters (one filed under the writer's name and phone),
    an unreadable input and a message whose over-size attachment is named with the sender's phone are taken,
    the outbox is delivered to a server that refuses one recipient and defers another (quoting their addresses),
    and a formal reply is sent, then no log line holds any e-mail address or phone number of the register."""
    smtp.answers.append(["rcpt", "550 5.1.1 <li.na@example.org>: Recipient address rejected", None, "li.na"])
    smtp.answers.append(["rcpt", "451 4.2.0 <zhang.wei@example.com> mailbox busy, call 13800138000", None,
                         "zhang.wei"])
    app = make_outbound_app(sqlite_url, smtp, sections={"limits": {"max_attachment_bytes": 2000}})
    outcomes = [o for _, o in app.intake.take_many(read_inputs([SAMPLES], source="file"))]
    outcomes.append(app.intake.take(letter_input(LETTER, "王芳-13912345678.jpg")))
    outcomes.append(app.intake.take(letter_input(LETTER.replace("139 1234 5678", "137-0000-1111"),
                                                 "letter-0002.jpg")))
    outcomes.append(app.intake.take(RawInput(data=complaint(
        sender="Li Na <li.na@example.org>", message_id="<big-att@example.org>",
        attachments=[("李娜13700001111身份证.jpg", "image/jpeg", b"\xff\xd8\xff" + b"0" * 5000)]),
        source="file", source_ref="/srv/inbox/li.na@example.org.eml")))
    outcomes.append(app.intake.take(RawInput(data=complaint(sender="Li Na <li.na@example.org>",
                                                            message_id="<ok@example.org>"), source="file")))
    statuses = {o.status for o in outcomes}
    assert {"created", "threaded", "quarantined"} <= statuses, statuses
    assert app.outbound is not None
    app.outbound.drain()
    first = next(o.case_no for o in outcomes if o.status == "created" and o.case_no)
    app.outbound.reply(first, "经核查，问题属实。联系人电话 13800138000。", letter=False)
    app.outbound.drain()

    emails, phones = contacts(app)
    assert {"zhang.wei@example.com", "li.na@example.org", "wang.fang@example.net"} <= emails, emails
    assert {"+8613912345678", "+8613700001111", "+8613800138000"} <= phones, phones
    text = "\n".join(captured)
    messages = [json.loads(line)["record"]["message"] for line in captured]
    for needle in ("created from", "quarantined at", "failed:", "will retry"):
        assert any(needle in m for m in messages), (needle, messages)  # every kind of line was written
    for email in emails:
        assert email not in text.lower(), email
        assert email.split("@")[0] + "@" not in text.lower(), email
    for phone in phones:
        found = phone_pattern(phone).search(text)
        assert found is None, (phone, text[max(0, found.start() - 200):found.end() + 50])


@pytest.mark.parametrize(("text", "secret"), [
    ("quarantined: attachment '张伟13800138000.jpg' is too big", "13800138000"),
    ("电话13800138000，请回电", "13800138000"),
    ("手机：+86 138-0013-8000", "0013"),
    ("reply to zhang.wei@example.com。", "zhang.wei"),
    ("邮箱zhang.wei@example.com", "zhang.wei"),
    ("source scan:desk /srv/scans/王芳-13912345678.jpg", "13912345678"),
])
def test_mask_finds_contacts_written_against_chinese_text(text: str, secret: str) -> None:
    """Given an e-mail address or a phone number written right against Chinese characters or after a hyphen (as
    in file names and Chinese sentences), when masked, then it is gone."""
    assert secret not in mask(text)


# -- moved from tests/test_logs.py -----------------------------------------------------------------------------
def test_mask_hides_emails_and_phones_but_not_dates_or_case_numbers() -> None:
    """Given text with an email, phones, a date and a case number, when masked, then only the personal data goes."""
    text = "from zhang.wei@example.com tel 13800138000 / +86 21 6123 4567 on 2026-11-02 case TS-202611-00001"
    masked = mask(text)
    assert "zhang.wei" not in masked and "13800138000" not in masked and "6123 4567" not in masked
    assert "z***@***" in masked and "8000" in masked
    assert "2026-11-02" in masked and "TS-202611-00001" in masked


def test_intake_logs_carry_case_numbers_and_no_personal_data(tmp_path: Path) -> None:
    """Given a complaint with the sender's email and phone, when ingested with JSON logs at debug level,
    then no line contains the address or the phone, and each line about the input names a case or source."""
    (tmp_path / "c.eml").write_bytes(complaint())
    (tmp_path / "junk.eml").write_bytes(b"\x00\x01\x02")
    proc = subprocess.run([sys.executable, "-m", "ingestd", "--log-json", "-v", "ingest", "c.eml", "junk.eml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line)["record"] for line in proc.stderr.splitlines() if line.startswith("{")]
    assert records, proc.stderr
    everything = proc.stderr + proc.stdout
    assert "zhang.wei@example.com" not in everything and "13800138000" not in everything
    about_inputs = [r for r in records if r["message"].startswith(("created", "quarantined", "threaded"))]
    assert len(about_inputs) == 2
    assert all(r["extra"].get("case") or r["extra"].get("source") for r in about_inputs)
