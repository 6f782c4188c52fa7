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
