"""Email parsing as mail really arrives: charsets, encodings, forwards, quotes, broken MIME."""

from __future__ import annotations

import base64
from email.message import EmailMessage

import pytest

from parsers import UnparseableInput, parse_email
from tests.mail import complaint


def headers(extra: str = "", ctype: str = "text/plain; charset=utf-8", cte: str = "8bit") -> bytes:
    return (f"From: Test <t@example.com>\r\nTo: desk@ingestd.example\r\nSubject: s\r\nMessage-ID: <m@x>\r\n"
            f"{extra}MIME-Version: 1.0\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").encode()


@pytest.mark.parametrize("charset", ["gb2312", "gbk", "gb18030", "big5", "utf-8"])
def test_chinese_charsets_decode(charset: str) -> None:
    """Given a Chinese body in each common charset, when parsed, then the text reads correctly."""
    text = "您好，快遞延誤十天" if charset == "big5" else "您好，快递延误十天"
    raw = headers(ctype=f"text/plain; charset={charset}") + text.encode(charset)
    assert parse_email(raw).body_text == text


def test_gb2312_label_with_gbk_bytes_is_repaired() -> None:
    """Given a body declared gb2312 but holding 镕 and 珺 (GBK only), when parsed, then both survive and the
    repair is noted."""
    raw = headers(ctype="text/plain; charset=gb2312") + "朱镕经理，王珺投诉".encode("gbk")
    parsed = parse_email(raw)
    assert parsed.body_text == "朱镕经理，王珺投诉"
    assert "charset gb2312 decoded as gb18030" in parsed.defects


@pytest.mark.parametrize("label", ["x-unknown", "iso-gb2312", "utf-8-purple", "no-such-charset"])
def test_unknown_charsets_fall_back_sensibly(label: str) -> None:
    """Given a body under an unknown or invented charset label, when parsed, then the text still decodes."""
    raw = headers(ctype=f"text/plain; charset={label}") + "投诉：货物破损，要求退款".encode()
    assert "货物破损" in parse_email(raw).body_text


def test_rfc2047_gbk_subject_and_name() -> None:
    """Given an RFC 2047 subject and From name in GBK base64, when parsed, then both are decoded."""
    subj = base64.b64encode("投诉：服务态度差".encode("gbk")).decode()
    name = base64.b64encode("刘洋".encode("gbk")).decode()
    raw = (f"From: =?GBK?B?{name}?= <liu@example.com>\r\nSubject: =?GBK?B?{subj}?=\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n").encode()
    parsed = parse_email(raw)
    assert parsed.subject == "投诉：服务态度差" and parsed.from_name == "刘洋"


def test_raw_8bit_headers() -> None:
    """Given raw UTF-8 bytes in Subject and From (no encoded words), when parsed, then they decode."""
    raw = "From: 赵敏 <zhao@example.org>\r\nSubject: 楼道灯坏了\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n报修".encode()
    parsed = parse_email(raw)
    assert parsed.subject == "楼道灯坏了" and parsed.from_name == "赵敏"


def test_forwarded_complaint_names_the_person_inside() -> None:
    """Given a staff member forwarding a customer's message as message/rfc822, when parsed, then the
    complainant is the customer and the forwarder is recorded."""
    inner = EmailMessage()
    inner["From"] = "周杰 <zhou.jie@example.net>"
    inner["Subject"] = "门店员工态度恶劣"
    inner.set_content("店员当众辱骂我。要求道歉。\n手机：13811112222\n")
    outer = EmailMessage()
    outer["From"] = "Front Desk <frontdesk@huadong.example>"
    outer["Subject"] = "Fwd: 门店员工态度恶劣"
    outer.set_content("转给投诉组。")
    outer.add_attachment(inner)
    parsed = parse_email(outer.as_bytes())
    assert parsed.forwarded and parsed.forwarded_by == "frontdesk@huadong.example"
    assert parsed.complainant.email == "zhou.jie@example.net" and parsed.complainant.name == "周杰"
    assert parsed.complainant.phones == ["+8613811112222"]
    assert parsed.subject == "门店员工态度恶劣" and "辱骂" in parsed.description


def test_inline_forward_names_the_original_sender() -> None:
    """Given a forward pasted into the body, when parsed, then the complainant comes from its From: line."""
    body = ("FYI\n\n---------- Forwarded message ---------\nFrom: Anna Lee <anna.lee@example.com>\n"
            "Date: Mon, 2 Nov 2026\nSubject: Broken kettle\nTo: shop@example.com\n\nMy kettle broke. Please replace it.\n")
    parsed = parse_email(complaint(subject="Fwd: Broken kettle", body=body, sender="Clerk <clerk@huadong.example>"))
    assert parsed.forwarded and parsed.complainant.email == "anna.lee@example.com"
    assert parsed.description == "My kettle broke. Please replace it."


@pytest.mark.parametrize(
    "history",
    [
        "\n\n在 2026年11月1日 09:00，客服 <desk@ingestd.example> 写道：\n> 已受理\n",
        "\n\nOn Mon, 2 Nov 2026 at 09:00, Desk <desk@ingestd.example> wrote:\n> received\n",
        "\n\n-----原始邮件-----\n发件人: desk@ingestd.example\n发送时间: 2026年11月1日\n主题: 已受理\n",
        "\n\n-- \n张伟\n发自我的iPhone\n",
    ],
)
def test_quoted_history_and_signatures_are_cut_from_the_description(history: str) -> None:
    """Given a reply with quoted history or a signature, when parsed, then the description is only the new
    text and the full body keeps everything."""
    parsed = parse_email(complaint(body="补充：包裹已丢失，请赔偿。" + history))
    assert parsed.description == "补充：包裹已丢失，请赔偿。"
    assert history.strip().splitlines()[-1].lstrip("> ") in parsed.body_text


def test_bounce_is_recognised_with_the_returned_message_id() -> None:
    """Given a delivery-status report carrying our message's headers, when parsed, then it is a bounce
    naming our Message-ID."""
    raw = headers(ctype='multipart/report; report-type=delivery-status; boundary="r"') + (
        b"--r\r\nContent-Type: text/plain\r\n\r\nUser unknown\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\nAction: failed\r\n"
        b"--r\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <ack-1@ingestd.example>\r\nSubject: x\r\n"
        b"--r--\r\n")
    parsed = parse_email(raw)
    assert parsed.is_bounce and parsed.bounce_message_id == "ack-1@ingestd.example"


def test_no_from_nul_bytes_and_broken_boundary_still_parse() -> None:
    """Given a message without From, with NUL bytes and a boundary that never closes, when parsed, then the
    text comes out clean and the complainant is unknown."""
    raw = (b"To: desk@ingestd.example\r\nSubject: lift\r\nContent-Type: multipart/mixed; boundary=\"q\"\r\n\r\n"
           b"--q\r\nContent-Type: text/plain\r\n\r\nthe lift\x00 is broken\r\n--q\r\nContent-Type: text/plain\r\n\r\nmore")
    parsed = parse_email(raw)
    assert parsed.from_addr is None and parsed.complainant.email is None
    assert "the lift is broken" in parsed.body_text and "\x00" not in parsed.body_text


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty input"),
        (b"   \r\n", "empty input"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"\x89PNG\r\n\x1a\n....", "PNG"),
        (b"order_id,customer\n1,2\n", "no mail header"),
        (b"just some words\nwithout headers", "no mail header"),
    ],
)
def test_things_that_are_not_mail_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    """Given empty input, documents and plain text, when parsed, then UnparseableInput says why."""
    with pytest.raises(UnparseableInput) as err:
        parse_email(raw)
    assert reason in err.value.reason



def _strict_parse(raw: bytes) -> object:
    """The same message through the standard library's line-by-line path only (nothing lifted)."""
    import parsers.mime as mime

    saved = mime.LIFT_OVER_BYTES
    mime.LIFT_OVER_BYTES = 1 << 62
    try:
        return parse_email(raw)
    finally:
        mime.LIFT_OVER_BYTES = saved


@pytest.mark.parametrize("crlf", [False, True])
def test_attachments_decoded_aside_are_the_same_as_the_parsers_own(crlf: bool) -> None:
    """Given a complaint with attachments of 100 KB and 3 KB (the large one decoded before MIME parsing, for
    speed), when parsed, then every attachment, the body and the names are byte for byte what the standard
    library's own decoding gives, with LF or CRLF line ends."""
    big, small = bytes(range(256)) * 400, b"%PDF-1.4 small"
    raw = complaint(attachments=[("照片.jpg", "image/jpeg", big), ("发票.pdf", "application/pdf", small)])
    if crlf:
        raw = raw.replace(b"\n", b"\r\n")
    fast, slow = parse_email(raw), _strict_parse(raw)
    assert [(a.filename, a.data) for a in fast.attachments] == [("照片.jpg", big), ("发票.pdf", small)]
    assert [(a.filename, a.data) for a in slow.attachments] == [(a.filename, a.data) for a in fast.attachments]
    assert fast.body_text == slow.body_text and "SF1234567890" in fast.body_text


def test_a_base64_body_quoted_inside_a_text_part_is_left_as_text() -> None:
    """Given a bounce that quotes the original message, base64 attachment and all, inside its text/plain part,
    when parsed, then that text keeps the quoted base64 (it is not a part of this message) and no placeholder
    shows."""
    blob = base64.encodebytes(b"\x89PNG" + bytes(30_000)).decode()
    quoted = ("This is the mail system. The message below could not be delivered.\n\n"
              "--inner\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n" + blob + "--inner--\n")
    raw = headers(ctype="text/plain; charset=us-ascii", cte="7bit") + quoted.encode()
    assert len(raw) > 32 * 1024
    parsed = parse_email(raw)
    assert "ingestd-lifted-body" not in parsed.body_text
    assert blob.splitlines()[5] in parsed.body_text and parsed.attachments == []


def test_a_message_that_is_one_base64_text_body_reads_as_text() -> None:
    """Given a single-part message whose whole body is base64 UTF-8 text of 40 KB, when parsed, then the body is
    that text."""
    text = "快递延误，要求赔偿。\n" * 1500
    raw = headers(cte="base64") + base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")
    assert parse_email(raw).body_text == _strict_parse(raw).body_text == text.strip()


def _mixed(*parts: bytes, cte: str = "7bit") -> bytes:
    return headers(ctype='multipart/mixed; boundary="b"', cte=cte) + b"".join(b"--b\r\n" + p for p in parts) \
        + b"--b--\r\n"


_BLOB = base64.encodebytes(b"\x89PNG" + bytes(30_000)).decode()
_TEXT = ("您好，我的快递延误十天，要求赔偿。订单号 SF1234567890。\r\n" * 600).encode()
_LIFT_CASES = {
    # a base64 part with no blank line before the next boundary: the next part's text is not its body
    "empty base64 part, then text": _mixed(
        b'Content-Type: application/octet-stream; name="empty.bin"\r\nContent-Transfer-Encoding: base64\r\n',
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + _TEXT + b"\r\n"),
    # a multipart that (wrongly) declares base64: its "body" is more parts
    "multipart declared base64": _mixed(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + _TEXT + b"\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nsecond part\r\n", cte="base64"),
    # a bounce quoting the original in 8bit UTF-8 and GBK text
    "quoted in UTF-8 text": headers() + ("退信通知：原邮件如下。\n\n--inner\nContent-Type: image/png\n"
                                         "Content-Transfer-Encoding: base64\n\n" + _BLOB + "--inner--\n").encode(),
    "quoted in GBK text": headers(ctype="text/plain; charset=gbk") + (
        "退信通知：原邮件如下。\n\n--inner\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n" + _BLOB
        + "--inner--\n").encode("gbk"),
    # the original as a text attachment: its bytes stay as they were
    "quoted in a text attachment": _mixed(
        b"Content-Type: text/plain\r\n\r\nsee attached\r\n",
        b'Content-Type: text/plain; name="orig.txt"\r\nContent-Disposition: attachment; filename="orig.txt"\r\n\r\n'
        + ("--inner\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + _BLOB.replace("\n", "\r\n") + "--inner--\r\n").encode() + b"\r\n"),
    **{f"unpadded base64, {extra} extra bytes": _mixed(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n",
        b'Content-Type: application/octet-stream; name="a.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(bytes(range(256)) * 130 + b"XY"[:extra]).replace(b"=", b"").replace(b"\n", b"\r\n")
        + b"\r\n") for extra in (0, 1, 2)},
}


@pytest.mark.parametrize("name", list(_LIFT_CASES))
def test_bodies_decoded_aside_never_change_what_is_read(name: str) -> None:
    """Given messages where a base64 body is not where a quick scan would think (no blank line, a multipart
    declaring base64, a part quoted inside a text, unpadded base64), when parsed, then the body and every
    attachment are exactly what the standard library's own line-by-line decoding gives."""
    raw = _LIFT_CASES[name]
    assert len(raw) > 32 * 1024
    fast, slow = parse_email(raw), _strict_parse(raw)
    assert fast.body_text == slow.body_text and "ingestd-lifted-body" not in fast.body_text
    assert [(a.filename, bytes(a.data)) for a in fast.attachments] == [(a.filename, a.data) for a in slow.attachments]
