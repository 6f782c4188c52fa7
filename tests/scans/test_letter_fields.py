"""Letter fields from OCR text: name, phone, email, address, dates, order and account numbers (no OCR here)."""

from __future__ import annotations

import pytest

from parsers import UnparseableInput
from parsers.letter import WRITTEN_SUBJECT, case_extras, extract_fields, find_dates, parse_letter

ZH_LETTER = """关于快递延误问题的投诉信
尊敬的顺达快递客服部：
　　本人于2026年3月2日在贵公司网点寄出包裹，运单号：SF1234567890，至今未送达。
　　联系电话：138 1234 5678
　　通讯地址：北京市朝阳区建国路88号3栋1201室
此致
敬礼
投诉人：张伟
2026年3月15日"""

EN_LETTER = """Complaint about a double charge
Dear Customer Service,
My account number: 6222-0201-8888 was charged twice on 5 March 2026 for order DD2026030512.
Phone: +86 139-0011-2233
Email: Peter.Hughes@example.com
Yours sincerely,
Peter Hughes
April7,2026"""


@pytest.mark.parametrize(("text", "iso"), [
    ("2026年3月5日", "2026-03-05"), ("2026年03月05日", "2026-03-05"), ("2026-03-05", "2026-03-05"),
    ("2026/3/5", "2026-03-05"), ("2026.3.5", "2026-03-05"), ("2026 年 3 月 5 日", "2026-03-05"),
    ("二〇二六年三月五日", "2026-03-05"), ("二〇二六年十二月二十一日", "2026-12-21"),
    ("5 March 2026", "2026-03-05"), ("5th of March, 2026", "2026-03-05"), ("March 5, 2026", "2026-03-05"),
    ("Mar. 5th 2026", "2026-03-05"), ("April7,2026", "2026-04-07"), ("7April2026", "2026-04-07"),
    ("Sept 30, 2025", "2025-09-30"),
])
def test_dates_in_every_common_form(text: str, iso: str) -> None:
    """Given a date written as letters write it (or as OCR drops its spaces), when searched, then it is that day."""
    assert [d for d, _, _ in find_dates(f"日期 {text} 。")] == [iso]


def test_impossible_dates_and_version_numbers_are_not_dates() -> None:
    """Given 2026-02-30 and a version number 2026.3.5.1, when searched, then neither is a date."""
    assert find_dates("2026-02-30 版本 2026.3.5.1") == []


def test_chinese_letter_fields_each_with_a_confidence() -> None:
    """Given a typical Chinese letter, when its fields are extracted, then each is found with the label's confidence."""
    fields = extract_fields(ZH_LETTER)
    assert fields["name"].value == "张伟" and fields["name"].how == "label"
    assert fields["phone"].value == "+8613812345678"
    assert fields["address"].value.startswith("北京市朝阳区建国路88号")
    assert fields["letter_date"].value == "2026-03-15" and fields["letter_date"].how == "signature"
    assert fields["event_date"].value == "2026-03-02"
    assert fields["order_numbers"].value == ["SF1234567890"]
    assert all(0 < f.confidence <= 1 for f in fields.values())


def test_english_letter_fields() -> None:
    """Given an English letter signed under "Yours sincerely" and dated as OCR reads it, when extracted, then the
    signature name, the phone, the email, both dates, the order and the account number are found."""
    fields = extract_fields(EN_LETTER)
    assert fields["name"].value == "Peter Hughes" and fields["name"].how == "signature"
    assert fields["phone"].value == "+8613900112233"
    assert fields["email"].value == "peter.hughes@example.com"
    assert fields["letter_date"].value == "2026-04-07"
    assert fields["event_date"].value == "2026-03-05"
    assert fields["order_numbers"].value == ["DD2026030512"]
    assert fields["account_numbers"].value == ["6222-0201-8888"]


@pytest.mark.parametrize(("text", "name"), [
    ("此致\n敬礼\n李秀英\n2026年5月1日", "李秀英"),
    ("此致\n敬礼\n王芳  2026年5月1日", "王芳"),
    ("姓名：陈明\n电话：13912345678", "陈明"),
    ("投诉人: 刘洋（业主）", "刘洋"),
    ("Yours faithfully,\nGrace Walker", "Grace Walker"),
    ("Complainant: Daniel Wright\n", "Daniel Wright"),
])
def test_name_from_label_or_signature(text: str, name: str) -> None:
    """Given a name under a label or under the closing, when extracted, then it is that name."""
    assert extract_fields(text)["name"].value == name


@pytest.mark.parametrize(("text", "phone"), [
    ("联系电话：13812345678", "+8613812345678"), ("手机：138-1234-5678", "+8613812345678"),
    ("电话：010-87654321", "+861087654321"), ("电话：(021)55551234", "+862155551234"),
    ("Tel: 138 1234 5678", "+8613812345678"), ("手机：138l234S678", "+8613812345678"),  # OCR's l and S
])
def test_phone_formats(text: str, phone: str) -> None:
    """Given a phone number in a common format (or with OCR's letter-for-digit slips after a label), when extracted,
    then it comes out in E.164."""
    assert extract_fields(text)["phone"].value == phone


def test_order_number_broken_over_two_lines() -> None:
    """Given an order number the letter's line break cut in two, when extracted, then it is whole again."""
    assert extract_fields("订单号：DD59612330\n66。收到的电饭煲坏了。")["order_numbers"].value == ["DD5961233066"]


def test_order_number_is_not_a_phone() -> None:
    """Given an order number with eleven digits, when extracted, then it is an order number and not a phone."""
    fields = extract_fields("订单号：DD13812345678，请核实。")
    assert fields["order_numbers"].value == ["DD13812345678"]
    assert "phone" not in fields


def test_low_ocr_confidence_lowers_the_field_confidence() -> None:
    """Given the phone line read with OCR confidence 0.6, when extracted, then the phone's confidence is below 0.6."""
    fields = extract_fields([("投诉人：张伟", 0.99), ("联系电话：13812345678", 0.6)])
    assert fields["phone"].confidence < 0.6 < fields["name"].confidence


def _ocr(text: str, confidence: float = 0.98, **extra: object) -> dict:
    lines = [[line, confidence] for line in text.splitlines()]
    page = {"n": 1, "method": "ocr", "text": text, "lines": lines, "confidence": confidence}
    return {"kind": "jpeg", "page_count": 1, "pages_to_read": 1, "pages": [page], "threshold": 0.85, **extra}


def test_parse_letter_builds_the_case_shape() -> None:
    """Given a read letter, when parsed, then the subject is its title, the description its text, the scan the
    attachment, and the complainant its writer."""
    parsed = parse_letter(b"JPEGDATA", _ocr(ZH_LETTER), filename="letter.jpg")
    assert parsed.subject == "关于快递延误问题的投诉信"
    assert parsed.description.startswith("关于快递延误问题的投诉信") and "SF1234567890" in parsed.body_text
    assert parsed.language == "zh"
    assert parsed.complainant.name == "张伟" and parsed.complainant.phones == ["+8613812345678"]
    assert [(a.filename, a.content_type, a.data) for a in parsed.attachments] == [
        ("letter.jpg", "image/jpeg", b"JPEGDATA")]
    assert parsed.defects == []


def test_letter_without_a_title_gets_the_written_subject() -> None:
    """Given a letter that starts with the salutation, when parsed, then the subject is the written-complaint one."""
    parsed = parse_letter(b"x", _ocr("尊敬的领导：\n我要投诉。\n此致\n敬礼\n张伟\n2026年3月5日"))
    assert parsed.subject == WRITTEN_SUBJECT


def test_low_confidence_is_flagged_not_guessed() -> None:
    """Given a page read with confidence 0.6, when parsed, then the case needs review and the doubtful name and
    phone are kept as candidates in the fields, not put on the complainant."""
    ocr = _ocr(ZH_LETTER, confidence=0.6)
    parsed = parse_letter(b"x", ocr)
    assert parsed.complainant.name is None and parsed.complainant.phones == []
    fields, flags = case_extras(ocr, 0.85)
    assert flags == ["written", "needs_review"]
    assert fields["letter"]["fields"]["name"]["value"] == "张伟"
    assert any("confidence 0.60" in r for r in fields["letter"]["review"])


def test_unread_scan_is_unparseable() -> None:
    """Given an OCR result that says the file could not be read, or pages without text, when parsed, then it is
    unparseable with the reason."""
    with pytest.raises(UnparseableInput, match="password"):
        parse_letter(b"x", {"error": "PDF is password-protected"})
    with pytest.raises(UnparseableInput, match=r"no text found.*timed out"):
        parse_letter(b"x", {"kind": "pdf", "page_count": 1, "pages_to_read": 1,
                            "pages": [{"n": 1, "error": "OCR timed out on page 1 after 60 s"}]})
