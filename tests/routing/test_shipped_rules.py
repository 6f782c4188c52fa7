"""The shipped example rules route typical complaints where a complaint desk would send them."""

from __future__ import annotations

import pytest

from ingestd.routing.loader import load_router
from tests.routing.helpers import SHIPPED, parsed

CASES = [
    ("快递延误十天仍未送达", "物流显示一直在转运中心", "logistics", "一般", "delivery_delay"),
    ("Parcel late", "My parcel was delayed again and the courier never called.", "logistics", "一般", "delivery_delay"),
    ("冰箱门凹陷", "收到的冰箱外箱完好但门明显凹陷", "logistics", "一般", "damaged_goods"),
    ("包裹損壞", "玻璃花瓶已經破碎", "logistics", "一般", "damaged_goods"),
    ("Charged twice", "My card was charged twice for one order.", "billing", "一般", "billing_error"),
    ("客服挂我电话", "客服态度恶劣，两次挂断电话", "customer_service", "一般", "staff_conduct"),
    ("Kettle stopped working", "It stopped working after a week.", "quality", "一般", "product_defect"),
    ("楼道灯坏了", "报修三次物业一直没人来维修", "property", "一般", "repairs"),
    ("个人信息泄露", "下单后每天接到骚扰电话", "legal", "重大", "privacy"),
    ("律师函", "配送员损坏家具，已委托律师，将向法院起诉", "legal", "重大", "damaged_goods"),
    ("空调漏水", "三天内不解决，我将向媒体曝光", "pr", "重大", None),
    ("Injured in store", "A shelf fell and I was injured, six stitches in hospital.", "triage", "重大", None),
    ("赔偿", "要求赔偿人民币5万元", "triage", "重大", None),
    ("一点建议", "建议门店延长营业时间", "triage", "轻微", None),
    ("退款", "订单取消一周了退款还没到", "billing", "一般", "billing_error"),
    ("Refund not received", "I returned the shoes but was never refunded.", "billing", "一般", "billing_error"),
    ("The driver was rude", "Your driver shouted at my mother and hung up on me.", "customer_service", "一般",
     "staff_conduct"),
    ("I will sue", "My parcel was late again. My lawyer will file a lawsuit.", "legal", "重大", "delivery_delay"),
]


@pytest.mark.parametrize(("subject", "text", "department", "grade", "category"), CASES)
def test_shipped_rules_route_sensibly(subject: str, text: str, department: str, grade: str,
                                      category: str | None) -> None:
    """Given a typical complaint, when routed by the shipped rules, then it lands with the expected
    department and grade (and category where one applies)."""
    decision = load_router(SHIPPED).classify(parsed(subject, text))
    assert (decision.department, decision.grade) == (department, grade), decision.rule_hits
    if category:
        assert decision.category == category


def test_shipped_rules_use_mailbox_attachments_channel_and_repeat() -> None:
    """Given the shipped rules, when a complaint comes through the finance mailbox, with an invoice attached,
    as a letter in Traditional characters, or from a repeat complainant, then those rules take part."""
    router = load_router(SHIPPED)
    d = router.classify(parsed("请处理", "上次说的事还没处理", mailbox="finance"))
    assert d.department == "billing" and d.decided_by == "finance-mailbox"
    d = router.classify(parsed("请处理", "见附件", attachments=("電子發票.pdf",)))
    assert d.department == "billing" and "invoice_attached" in d.flags
    d = router.classify(parsed("", "貴公司配送員態度惡劣，包裹損壞。", channel="letter"))
    assert d.department == "logistics" and d.category == "damaged_goods" and "written" in d.flags
    assert router.classify(parsed("一点建议", "建议延长营业时间")).grade == "轻微"
    d = router.classify(parsed("一点建议", "建议延长营业时间", repeat=True))
    assert d.grade == "一般" and "repeat_complainant" in d.flags  # the higher of 轻微 (suggestion) and 一般 (repeat)
