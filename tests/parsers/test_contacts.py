"""Complainant details from free text: names, phones, emails, addresses, demands."""

from __future__ import annotations

import pytest

from parsers.contacts import extract_contacts, find_address, find_name, find_phones
from parsers.demands import extract_demands


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("电话：13800138000", ["+8613800138000"]),
        ("手机 138-0013-8000", ["+8613800138000"]),
        ("+86 138 0013 8000", ["+8613800138000"]),
        ("座机：010-87654321", ["+861087654321"]),
        ("(021) 6123 4567", ["+862161234567"]),
        ("Phone: +44 20 7946 0958", ["+442079460958"]),
        ("香港 +852 2123 4567", ["+85221234567"]),
        ("订单号 HD2026101001，运单号 SF1234567890", []),
        ("order HD-2026-10-0412 on 2026-10-28", []),
        ("金额 1299.00 元，日期 2026年10月28日", []),
    ],
)
def test_phone_numbers_in_e164_without_order_numbers_or_dates(text: str, expected: list[str]) -> None:
    """Given text with phones in many formats (or none), when searched, then exactly the phones come out."""
    assert find_phones(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("姓名：张伟\n电话：13800138000", "张伟"),
        ("投诉人: 李娜", "李娜"),
        ("联系人：刘洋  电话：136", "刘洋"),
        ("My name is Emma Wilson and I ordered", "Emma Wilson"),
        ("...请尽快处理。\n此致\n敬礼\n王珺\n2026年3月5日", "王珺"),
        ("Please refund me.\n\nYours sincerely,\nEmma Wilson\n", "Emma Wilson"),
        ("没有任何署名的投诉", None),
    ],
)
def test_names_from_labels_closings_and_signatures(text: str, expected: str | None) -> None:
    """Given a letter that names its writer in one of the usual ways, when searched, then the name comes out."""
    assert find_name(text) == expected


def test_addresses_from_labels_and_chinese_address_shapes() -> None:
    """Given an address after a label or in the usual Chinese shape, when searched, then it is one line."""
    assert find_address("地址：上海市浦东新区世纪大道1号  电话：138") == "上海市浦东新区世纪大道1号"
    assert find_address("我住在上海市徐汇区漕溪北路200号3室，楼下") == "上海市徐汇区漕溪北路200号3室"
    assert find_address("Address: 12 High Street, Oxford OX1 4AA") == "12 High Street, Oxford OX1 4AA"


def test_header_name_is_used_when_the_text_gives_none() -> None:
    """Given text without a name and a From display name, when extracted, then the display name is used."""
    who = extract_contacts("the parcel is late", name="Emma Wilson", email="emma@example.org")
    assert (who.name, who.email, who.phones) == ("Emma Wilson", "emma@example.org", [])
    assert extract_contacts("x", name="no-reply", email="no-reply@example.com").name is None


def test_demands_are_the_sentences_that_ask() -> None:
    """Given a complaint, when its demands are extracted, then only the sentences asking for something come out."""
    assert extract_demands("我于10月3日下单。至今未收到货。要求贵司尽快退款并赔偿损失！谢谢。") == "要求贵司尽快退款并赔偿损失！"
    assert extract_demands("It broke, cost 5.5 USD. I would like a full refund. Thanks.") == "I would like a full refund."


def test_numbers_glued_to_letters_are_not_phones_but_the_phone_beside_them_is() -> None:
    """An order or account number written with its letters (SF13800138000, a valid mobile number after the
    letters) is not a phone; the complainant's number in the same sentence, at its own place, is."""
    text = "订单SF13800138000和JD13700137000没到，电话13900139000，或 Tel: +86 136 0013 6000。"
    assert find_phones(text) == ["+8613900139000", "+8613600136000"]
