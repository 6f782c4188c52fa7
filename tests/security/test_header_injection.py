"""Header injection: a complainant (or an admin template) tries to add headers to the mail ingestd sends.

The attack: CR/LF (and a lone CR, a lone LF, NEL U+0085, LINE SEPARATOR U+2028, PARAGRAPH SEPARATOR U+2029)
followed by `Bcc: attacker` or `X-Injected:` in a complainant's display name, in a subject, in the text a
template puts into a subject, and in the reply addresses a complaint names. What is checked: every message
built from the outbox (`outbound.compose.message_bytes`, what the sender delivers) has only the headers
ingestd writes, each once, every header line one line; the SMTP envelope and the To header name only the
intended recipient (the complainant for an acknowledgement and a formal reply, the routed department's inbox
for a notification); and an address that is not a plain address is refused before it is queued.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

import pytest

from ingestd.app import App
from ingestd.config.outbound import check_address
from outbound.compose import Draft, build, message_bytes, one_line, to_bytes
from outbound.outbox import stored_bytes
from outbound.templates import BUNDLED
from tests.outbound.conftest import get_case, outbox, take
from tests.servers.smtp import SmtpServer

COMPLAINANT = "zhang.wei@example.com"
INBOX = "triage@dept.example"
OUR_HEADERS = {"from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
               "x-auto-response-suppress", "x-loop", "x-ingestd-case", "x-ingestd-kind", "mime-version",
               "content-type", "content-transfer-encoding"}  # the last one on a single-part message
PART_HEADERS = {"content-type", "content-transfer-encoding", "content-disposition", "mime-version"}
SEPARATORS = {"crlf": "\r\n", "cr": "\r", "lf": "\n", "nel": "\u0085", "line-separator": "\u2028",
              "paragraph-separator": "\u2029"}


def encoded(text: str) -> str:
    """An RFC 2047 encoded word: how a line break reaches a header value past the sender's MTA."""
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def hostile_complaint(sep: str, *, message_id: str = "<evil-1@example.com>", extra_headers: str = "") -> bytes:
    subject = f"投诉{sep}Bcc: evil@attacker.example{sep}X-Injected: subject"
    name = f"张伟{sep}Bcc: evil2@attacker.example{sep}X-Injected: name"
    body = (f"快递延误十天，要求赔偿。{sep}Bcc: evil3@attacker.example{sep}X-Injected: body{sep}"
            f"To: evil4@attacker.example{sep}\r\n")
    return (f"From: {encoded(name)} <{COMPLAINANT}>\r\nTo: complaints@ingestd.example\r\n"
            f"Subject: {encoded(subject)}\r\nDate: Mon, 02 Nov 2026 09:30:00 +0000\r\nMessage-ID: {message_id}\r\n"
            f"{extra_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{base64.encodebytes(body.encode()).decode()}").encode()


def header_lines(data: bytes) -> list[bytes]:
    """The header block's lines, folded continuation lines joined to their field."""
    head = data.split(b"\r\n\r\n", 1)[0]
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def assert_only_our_headers(data: bytes, recipient: str) -> EmailMessage:
    """The message has only ingestd's headers, each once, no bare CR or LF, and one recipient in To."""
    assert b"\r\n\r\n" in data
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"") and b"\r" not in head.replace(b"\r\n", b""), head
    names = [line.split(b":", 1)[0].decode().lower() for line in header_lines(data)]
    assert set(names) <= OUR_HEADERS, names
    assert len(names) == len(set(names)), names
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["Bcc"] is None and msg["Cc"] is None and msg["X-Injected"] is None and msg["Reply-To"] is None
    assert [addr for _, addr in getaddresses([str(msg["To"])])] == [recipient]
    for value in msg.values():
        assert "\n" not in str(value) and "\r" not in str(value)
    for part in msg.walk():
        if part is not msg:
            assert {k.lower() for k in part} <= PART_HEADERS, part.keys()
    return msg


def built(app: App, kind: str) -> list[bytes]:
    """Every queued message of this kind as the sender would build it (outbound.compose.message_bytes)."""
    return [message_bytes(stored_bytes(row, app.blobs), app.blobs.read) for row in outbox(app, kind=kind)]


# -- moved from tests/outbound/test_acknowledgements.py and tests/outbound/test_units.py ---------------------------
def test_a_subject_or_name_with_crlf_adds_no_header(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                    smtp: SmtpServer) -> None:
    """Given a complaint whose (encoded) subject and sender name carry CR/LF and a `Bcc:` line, when
    acknowledged, then the acknowledgement has exactly one recipient and no Bcc or other injected header."""
    app = make_outbound_app(sqlite_url, smtp)
    evil = "=?utf-8?b?5oqV6K+JDQpCY2M6IGV2aWxAYXR0YWNrZXIuZXhhbXBsZQ0KWC1Fdmls?="  # 投诉\r\nBcc: evil@…\r\nX-Evil
    name = "=?utf-8?b?5byg5LyfDQpCY2M6IGV2aWwyQGF0dGFja2VyLmV4YW1wbGU=?="  # 张伟\r\nBcc: evil2@…
    raw = (f"From: {name} <zhang.wei@example.com>\r\nTo: complaints@ingestd.example\r\nSubject: {evil}\r\n"
           "Date: Mon, 02 Nov 2026 09:30:00 +0000\r\nMessage-ID: <evil-1@example.com>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "快递延误十天，要求赔偿。\r\n").encode()
    outcome = take(app, raw)
    assert "\n" in get_case(app, outcome.case_no).subject or "Bcc" in get_case(app, outcome.case_no).subject
    app.outbound.drain()
    (ack,) = [m for m in smtp.messages if m.message["X-Ingestd-Kind"] == "ack"]
    assert ack.rcpt_tos == ["zhang.wei@example.com"]
    msg = ack.message
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    names = [k.lower() for k in msg]
    assert names == ["from", "to", "subject", "date", "message-id", "in-reply-to", "references", "auto-submitted",
                     "x-auto-response-suppress", "x-loop", "x-ingestd-case", "x-ingestd-kind", "mime-version",
                     "content-type"]
    assert "\n" not in str(msg["Subject"]) and "Bcc: evil@attacker.example" in str(msg["Subject"])
    head = ack.data.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc") for line in head.split(b"\r\n"))


def test_one_line_flattens_every_line_break() -> None:
    assert one_line("a\r\nBcc: b\u2028c\x00d\te") == "a Bcc: b c d e"


def test_an_address_that_is_not_plain_is_refused() -> None:
    """Given a recipient address carrying a header, when a message is built, then it is refused."""
    draft = Draft(kind="ack", case_no="TS-1", from_addr="a@x.example", to_addr="b@x.example\r\nBcc: c@x.example",
                  subject="s", text="t", message_id="m@x.example", date=datetime.now(UTC), loop_id="a@x.example")
    with pytest.raises(ValueError):
        to_bytes(build(draft))


# -- new -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sep", list(SEPARATORS.values()), ids=list(SEPARATORS))
def test_line_breaks_in_name_and_subject_add_no_header_to_any_mail(make_outbound_app: Callable[..., App],
                                                                   sqlite_url: str, smtp: SmtpServer,
                                                                   sep: str) -> None:
    """Given a complaint whose display name, subject and text carry a line break of this kind followed by
    `Bcc:` and `X-Injected:` lines, when it is acknowledged, notified to its department and answered with a
    formal reply, then each of the three messages as built from the outbox has only our headers and its one
    intended recipient, and the SMTP server is asked to deliver to nobody else."""
    app = make_outbound_app(sqlite_url, smtp)
    outcome = take(app, hostile_complaint(sep))
    assert outcome.status == "created"
    reply = app.outbound.reply(outcome.case_no, f"已处理。{sep}Bcc: evil5@attacker.example{sep}X-Injected: reply")
    assert reply.channels == ["email"]
    for kind, recipient in (("ack", COMPLAINANT), ("notify", INBOX), ("reply", COMPLAINANT)):
        (data,) = built(app, kind)
        msg = assert_only_our_headers(data, recipient)
        assert msg["X-Ingestd-Kind"] == kind
    app.outbound.drain()
    assert sorted((m.message["X-Ingestd-Kind"], m.rcpt_tos) for m in smtp.messages) == [
        ("ack", [COMPLAINANT]), ("notify", [INBOX]), ("reply", [COMPLAINANT])]
    for received in smtp.messages:
        assert_only_our_headers(received.data, received.rcpt_tos[0])
        assert "attacker.example" not in received.mail_from


def test_template_fields_with_line_breaks_stay_in_one_subject_line(make_outbound_app: Callable[..., App],
                                                                   sqlite_url: str, smtp: SmtpServer,
                                                                   tmp_path: Path) -> None:
    """Given subject templates an admin edited to include the complaint's multi-line description and the
    complainant's name, and a complaint whose description holds `Bcc:`/`X-Injected:` lines, when the
    acknowledgement, notification and formal reply are built, then each subject is one line holding the text,
    and no header was added."""
    folder = tmp_path / "templates"
    shutil.copytree(BUNDLED, folder)
    for name in ("ack.subject.txt", "notify.subject.txt", "reply.subject.txt"):
        path = folder / "zh" / name
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n")
                        + " {{ case.complainant_name }} {{ case.description }}\n", encoding="utf-8")
    app = make_outbound_app(sqlite_url, smtp, templates_dir=str(folder))
    outcome = take(app, hostile_complaint("\r\n"))
    assert "\n" in get_case(app, outcome.case_no).description  # the template gets the text with its line breaks
    app.outbound.reply(outcome.case_no, "已处理。")
    for kind, recipient in (("ack", COMPLAINANT), ("notify", INBOX), ("reply", COMPLAINANT)):
        (data,) = built(app, kind)
        msg = assert_only_our_headers(data, recipient)
        assert "X-Injected: body" in str(msg["Subject"]) and "evil3@attacker.example" in str(msg["Subject"])


def test_reply_addresses_a_complaint_names_do_not_change_who_gets_mail(make_outbound_app: Callable[..., App],
                                                                       sqlite_url: str, smtp: SmtpServer) -> None:
    """Given a complaint with Reply-To, Cc and Bcc headers, other To recipients (one of them another department's
    inbox) and addresses in its text, when acknowledged and notified, then the acknowledgement goes to the
    sender only and the notification to the routed department's inbox only."""
    app = make_outbound_app(sqlite_url, smtp, departments={"triage": INBOX, "billing": "billing@dept.example"})
    headers = ("Reply-To: evil@attacker.example\r\nCc: evil-cc@attacker.example, billing@dept.example\r\n"
               "Bcc: evil-bcc@attacker.example\r\nX-Ingestd-Department: billing\r\n")
    raw = hostile_complaint("\r\n", extra_headers=headers).replace(
        b"To: complaints@ingestd.example", b"To: complaints@ingestd.example, evil-to@attacker.example")
    outcome = take(app, raw)
    assert get_case(app, outcome.case_no).department == "triage"
    app.outbound.drain()
    assert sorted(tuple(m.rcpt_tos) for m in smtp.messages) == sorted([(COMPLAINANT,), (INBOX,)])
    for received in smtp.messages:
        assert_only_our_headers(received.data, received.rcpt_tos[0])
        assert b"attacker.example>" not in received.data.split(b"\r\n\r\n", 1)[0]


@pytest.mark.parametrize("address", ["b@x.example\n", "b@x.example\r\nBcc: c@x.example", "b@x.example\u2028",
                                     "b@x.example, c@x.example", "B <b@x.example>", "b@x.example\x00"])
def test_check_address_refuses_anything_but_one_plain_address(address: str) -> None:
    """Given an address with a trailing line break, a header, a second address or a display name, when it is
    checked (as it is before a message is queued), then it is refused."""
    with pytest.raises(ValueError, match="not a plain e-mail address"):
        check_address(address)
