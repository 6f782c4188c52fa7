"""The bundled sample complaints (`ingestd/samples/mail/`): what the demo ingests and tests use as fixtures.

These check the files themselves, with the standard library only, not what ingestd makes of them."""

from __future__ import annotations

import email
import re
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from ingestd.samples import generate

SAMPLES = Path(generate.__file__).parent / "mail"
NOT_AN_EMAIL = "24-not-an-email.eml"
CHARSETS = {"utf-8", "gb2312", "gbk", "gb18030", "big5", "iso-8859-1"}
ADDRESS = re.compile(rb"[\w.+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


def files() -> list[Path]:
    return sorted(SAMPLES.glob("*.eml"))


def messages() -> dict[str, Message]:
    return {p.name: email.message_from_bytes(p.read_bytes()) for p in files() if p.name != NOT_AN_EMAIL}


def test_generator_rewrites_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    """Given the committed samples, when the generator writes them again into an empty directory, then the
    same file names hold identical bytes (edit generate.py and re-run it, never the .eml files)."""
    generate.write(tmp_path)
    fresh = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in files()}
    assert sorted(fresh) == sorted(committed)
    changed = [name for name in fresh if fresh[name] != committed[name]]
    assert not changed, f"re-run `python -m ingestd.samples.generate`: {changed} differ"


def test_there_are_at_least_24_samples_numbered_in_intake_order() -> None:
    """Given the samples folder, when listed, then it holds at least 24 .eml files named NN-what.eml with
    numbers 01, 02, ... in order, so the demo ingests them in a sensible sequence."""
    names = [p.name for p in files()]
    assert len(names) >= 24
    assert [int(n[:2]) for n in names] == list(range(1, len(names) + 1))
    assert all(re.fullmatch(r"\d\d-[a-z0-9-]+\.eml", n) for n in names)


def test_every_charset_appears_in_some_content_type() -> None:
    """Given the samples, when every part's Content-Type is read, then UTF-8, GB2312, GBK, GB18030, Big5
    and ISO-8859-1 each appear, and UTF-8 both as quoted-printable and as base64."""
    seen: set[str] = set()
    utf8_encodings: set[str] = set()
    for msg in messages().values():
        for part in msg.walk():
            charset = part.get_content_charset()
            if charset:
                seen.add(charset)
                if charset == "utf-8":
                    utf8_encodings.add(str(part.get("Content-Transfer-Encoding", "")).lower())
    assert seen >= CHARSETS
    assert {"quoted-printable", "base64"} <= utf8_encodings


def test_the_mislabelled_sample_is_really_gbk() -> None:
    """Given the sample that declares gb2312, when its body is decoded, then GB2312 fails and GBK gives
    the complainant's name 王珺 and 镕: the label is wrong the way real clients get it wrong."""
    msg = messages()["06-product-defect-gbk-mislabelled.eml"]
    assert msg.get_content_charset() == "gb2312"
    body = msg.get_payload(decode=True)
    try:
        body.decode("gb2312")
    except UnicodeDecodeError:
        pass
    else:
        raise AssertionError("the body decodes as GB2312: it is not mislabelled")
    assert "王珺" in body.decode("gbk") and "镕" in body.decode("gbk")


def test_every_sample_but_the_not_an_email_one_parses_with_a_subject() -> None:
    """Given each sample, when parsed with email.message_from_bytes, then it is a message with a Subject,
    except the not-an-email file, which has no header at all."""
    for name, msg in messages().items():
        assert str(msg.get("Subject", "")).strip(), f"{name} has no Subject"
    junk = email.message_from_bytes((SAMPLES / NOT_AN_EMAIL).read_bytes())
    assert junk.get("Subject") is None and junk.get("From") is None


def test_replies_point_at_earlier_samples() -> None:
    """Given the reply and the follow-up, when their threading headers are read, then the reply carries
    In-Reply-To and References to sample 01, and the follow-up only References to sample 04."""
    by_name = messages()
    ids = {name: msg["Message-ID"] for name, msg in by_name.items()}
    reply, follow_up = by_name["12-reply-adds-information.eml"], by_name["13-references-only-follow-up.eml"]
    assert reply["In-Reply-To"] == reply["References"] == ids["01-delivery-delay-zh.eml"]
    assert follow_up["In-Reply-To"] is None and follow_up["References"] == ids["04-billing-double-charge.eml"]
    assert len(set(ids.values())) == len(ids)  # every Message-ID is distinct


def test_dates_fall_in_october_and_november_2026() -> None:
    """Given the samples with a Date header, when the dates are parsed, then all are in 2026-10 or 2026-11,
    both months occur, and the dates rise with the file numbers."""
    dates = [parsedate_to_datetime(msg["Date"]) for msg in messages().values()]
    assert {(d.year, d.month) for d in dates} == {(2026, 10), (2026, 11)}
    assert dates == sorted(dates)


def test_every_address_is_under_a_reserved_example_domain() -> None:
    """Given every header and decoded body of every sample, when the e-mail addresses are collected, then
    each domain is `.example` or example.com/.org/.net (or under them): no real mailbox is named."""
    def allowed(domain: str) -> bool:
        domain = domain.lower()
        return domain.endswith(".example") or any(domain == d or domain.endswith("." + d)
                                                  for d in ("example.com", "example.org", "example.net"))

    for path in files():
        data = path.read_bytes()
        texts = [data]
        for part in email.message_from_bytes(data).walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                texts.append(payload)
        for text in texts:
            for domain in ADDRESS.findall(text):
                assert allowed(domain.decode()), f"{path.name}: {domain.decode()}"


def test_special_messages_carry_the_headers_they_are_there_for() -> None:
    """Given the auto-reply, the newsletter, the bounce, the no-From and the anonymous samples, when their
    headers are read, then each carries what marks it: Auto-Submitted, Precedence and List-Id, a
    delivery-status report, no From at all, and a From without a display name."""
    by_name = messages()
    auto = by_name["17-auto-reply.eml"]
    assert auto["Auto-Submitted"] == "auto-replied" and auto["X-Auto-Response-Suppress"] == "All"
    bulk = by_name["18-newsletter-bulk.eml"]
    assert bulk["Precedence"] == "bulk" and bulk["List-Id"]
    bounce = by_name["19-bounce.eml"]
    assert bounce.get_content_type() == "multipart/report"
    assert bounce.get_param("report-type") == "delivery-status"
    assert "From" not in by_name["21-no-from.eml"]
    assert getaddresses([by_name["20-anonymous.eml"]["From"]]) == [("", "a7f3k@example.net")]
    forwarded = by_name["11-forwarded-by-front-desk.eml"]
    assert any(p.get_content_type() == "message/rfc822" for p in forwarded.walk())
    attached = by_name["03-damaged-goods-attachments.eml"]
    names = [p.get_filename() for p in attached.walk() if p.get_filename()]
    assert "电子收据-HD2026101588.pdf" in names and any(n.endswith(".png") for n in names)
