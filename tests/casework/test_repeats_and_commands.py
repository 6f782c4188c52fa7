"""Pure parts of casework: is it the same matter again; what a reply asks for."""

from __future__ import annotations

import pytest

from ingestd.casework.commands import (
    CommandError,
    extend_args,
    parse_command,
    reroute_args,
    satisfaction_in,
    withdrawal_reason,
)
from ingestd.casework.repeats import Earlier, find_repeat, raised_grade, references_in, similarity

FIRST_ZH = ("投诉：快递延误十天仍未送达", "我于10月10日下单购买空气净化器，页面承诺3天内送达，可到今天已经十天，包裹仍然没有送到。")
AGAIN_ZH = ("再次投诉：快递还是没送到", "上次投诉后过了一周，空气净化器的包裹还是没有送到，客服也不回复。要求全额退款。")
OTHER_ZH = ("投诉：电饭煲质量问题", "买的电饭煲用了两次就坏了，内胆涂层脱落，要求换货。")
FIRST_EN = ("Sofa delivery two weeks late", "My sofa order is two weeks late and nobody answers.")
AGAIN_EN = ("Still no sofa - complaint again", "The sofa delivery is now three weeks late, I complained before.")
OTHER_EN = ("Charged twice for my order", "My card was charged twice for the same order.")


def earlier(case_id: int, subject: str, text: str) -> Earlier:
    return Earlier(case_id, f"TS-{case_id}", subject, text, references_in(f"{subject}\n{text}"))


@pytest.mark.parametrize(("old", "new"), [(FIRST_ZH, AGAIN_ZH), (FIRST_EN, AGAIN_EN)])
def test_the_same_matter_rephrased_is_a_repeat(old: tuple[str, str], new: tuple[str, str]) -> None:
    found = find_repeat(*new, [earlier(1, *old)], threshold=0.2)
    assert found is not None and found.case_id == 1 and "similar" in found.why


@pytest.mark.parametrize(("old", "new"), [(FIRST_ZH, OTHER_ZH), (FIRST_EN, OTHER_EN), (AGAIN_EN, OTHER_EN)])
def test_another_matter_of_the_same_person_is_not(old: tuple[str, str], new: tuple[str, str]) -> None:
    assert find_repeat(*new, [earlier(1, *old)], threshold=0.2) is None
    assert similarity(" ".join(old), " ".join(new)) < 0.2


def test_a_shared_order_number_is_the_same_matter_whatever_the_words() -> None:
    """Given two complaints in different words that name the same waybill (SF-123456789 / sf123456789), then the
    second repeats the first; a phone number (bare digits, shared by every case of that person) does not count."""
    old = earlier(7, "投诉：包裹破损", "运单号 SF-123456789，外箱破损。电话 13800138000")
    found = find_repeat("Parcel still missing", "Waybill sf123456789. Phone 13800138000", [old], threshold=0.9)
    assert found is not None and found.why == "same reference SF123456789"
    unrelated = earlier(8, "投诉：门店态度", "店员态度差。电话 13800138000")
    assert find_repeat("Kettle broken", "Phone 13800138000, kettle broke", [unrelated], threshold=0.9) is None


def test_naming_the_earlier_case_number_is_the_same_matter() -> None:
    old = earlier(3, "投诉：电梯故障", "三号楼电梯一周没修。")
    found = find_repeat("还是没人来修", "我在案件 TS-3 里反映过的问题", [old], threshold=0.9)
    assert found is not None and found.why == "names TS-3"


def test_a_repeat_goes_one_grade_up_never_past_the_highest() -> None:
    grades = ["重大", "一般", "轻微"]
    assert raised_grade("轻微", grades, 1) == "一般"
    assert raised_grade("一般", grades, 1) == "重大"
    assert raised_grade("重大", grades, 1) == "重大"
    assert raised_grade(None, grades, 1) == "一般"  # ungraded counts as the lowest
    assert raised_grade("一般", grades, 0) == "一般"


def test_commands_on_the_first_line() -> None:
    command = parse_command("\n  #reroute billing 这是扣费问题，不属于物流\n\n> quoted notification")
    assert command is not None and command.name == "reroute"
    assert reroute_args(command.args) == ("billing", "这是扣费问题，不属于物流")
    reply = parse_command("＃REPLY\n尊敬的张先生：\n\n经核查……")
    assert reply is not None and reply.name == "reply" and reply.body.startswith("尊敬的张先生")
    assert extend_args("5 waiting for the courier's report") == (5, "waiting for the courier's report")
    assert parse_command("已联系快递公司，明天送达。") is None
    assert parse_command("#unknown thing") is None
    assert parse_command("see #reply below") is None  # only the first line, from its start


@pytest.mark.parametrize(("args", "message"), [("5", "needs a reason"), ("x reason", "number of working days"),
                                               ("0 reason", "number of working days")])
def test_an_extension_needs_days_and_a_reason(args: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        extend_args(args)


@pytest.mark.parametrize(("text", "expected"), [
    ("我决定撤诉，问题已经私下解决了。", True),
    ("I would like to withdraw my complaint, the parcel arrived.", True),
    ("请撤回我的投诉", True),
    ("补充：快递单号 SF1234567890", False),
    ("> 撤诉\n补充一张照片", False),  # a quoted line is not what they wrote now
])
def test_withdrawal_in_a_complainants_words(text: str, expected: bool) -> None:
    assert (withdrawal_reason(text) is not None) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("满意，谢谢。", "satisfied"), ("不满意，问题没有解决", "unsatisfied"), ("I am not satisfied with this.", "unsatisfied"),
    ("Satisfied, thank you", "satisfied"), ("收到。", None),
])
def test_return_visit_answers(text: str, expected: str | None) -> None:
    assert satisfaction_in(text) == expected
