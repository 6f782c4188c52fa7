"""Routing decisions: weights, ties, grades (highest wins), stop, and every kind of condition."""

from __future__ import annotations

import pytest

from tests.routing.helpers import parsed, router

BASE = '''
default_department = "triage"
grades = ["重大", "一般", "轻微"]
default_grade = "一般"
[[departments]]
key = "triage"
[[departments]]
key = "logistics"
[[departments]]
key = "billing"
[[departments]]
key = "legal"
'''


def test_highest_total_weight_wins_and_ties_go_to_the_earlier_rule() -> None:
    """Given two logistics rules (3+3) and one billing rule (5), when all fire, then logistics wins on total;
    with equal totals the earlier rule's department wins."""
    r = router(BASE + '''
[[rules]]
name = "a"
any = ["快递"]
department = "logistics"
weight = 3
[[rules]]
name = "b"
any = ["延误"]
department = "logistics"
weight = 3
[[rules]]
name = "c"
any = ["扣费"]
department = "billing"
weight = 5
''')
    d = r.classify(parsed("快递延误，还重复扣费"))
    assert d.department == "logistics" and d.decided_by == "a"
    assert [h["rule"] for h in d.rule_hits] == ["a", "b", "c"]
    tie = r.classify(parsed("延误，扣费"))  # logistics 3 (rule b) vs billing 5
    assert tie.department == "billing"
    r2 = router(BASE + '''
[[rules]]
name = "first"
any = ["x1"]
department = "billing"
[[rules]]
name = "second"
any = ["x2"]
department = "logistics"
''')
    assert r2.classify(parsed("x1 x2")).department == "billing"


def test_no_rule_means_default_department_and_grade() -> None:
    """Given rules that do not match, when classified, then the default department and grade apply."""
    d = router(BASE + '[[rules]]\nname = "a"\nany = ["快递"]\ndepartment = "logistics"\n').classify(parsed("你好"))
    assert (d.department, d.grade, d.decided_by, d.rule_hits) == ("triage", "一般", "default", [])


def test_the_highest_grade_wins() -> None:
    """Given a minor rule and a major rule both firing, when classified, then the major grade wins (等级从高)."""
    r = router(BASE + '''
[[rules]]
name = "minor"
any = ["建议"]
grade = "轻微"
[[rules]]
name = "major"
any = ["媒体"]
grade = "重大"
flags = ["media"]
''')
    assert r.classify(parsed("建议，否则找媒体")).grade == "重大"
    assert r.classify(parsed("一点建议")).grade == "轻微"
    assert r.classify(parsed("找媒体")).flags == ["media"]


def test_stop_ends_evaluation() -> None:
    """Given a stop rule before another matching rule, when classified, then the later rule is not looked at."""
    r = router(BASE + '''
[[rules]]
name = "vip"
sender = ["@vip.example"]
department = "legal"
stop = true
[[rules]]
name = "bill"
any = ["invoice"]
department = "billing"
weight = 100
''')
    assert r.classify(parsed("invoice", sender="boss@vip.example")).department == "legal"
    assert r.classify(parsed("invoice", sender="a@b.example")).department == "billing"


def test_any_all_none_and_regex() -> None:
    """Given rules with all/none/regex, when texts vary, then each fires exactly when its conditions hold."""
    r = router(BASE + '''
[[rules]]
name = "all"
all = ["退款", "未到账"]
none = ["已解决"]
department = "billing"
[[rules]]
name = "claim"
regex = ['赔偿\\D{0,4}\\d+\\s*万']
grade = "重大"
''')
    assert r.classify(parsed("退款至今未到账")).department == "billing"
    assert r.classify(parsed("退款")).department == "triage"
    assert r.classify(parsed("退款未到账，现已解决")).department == "triage"
    hit = r.classify(parsed("要求赔偿 5万元"))
    assert hit.grade == "重大" and hit.rule_hits[0]["matched"] == {"subject": ["赔偿 5万"]}


@pytest.mark.parametrize(("kwargs", "fires"), [
    ({"sender": "a@shop.example"}, True),
    ({"sender": "a@eu.shop.example"}, True),
    ({"sender": "a@notshop.example"}, False),
])
def test_sender_domain_includes_subdomains(kwargs: dict, fires: bool) -> None:
    """Given a rule on @shop.example, when senders vary, then the domain and its subdomains match, others not."""
    r = router(BASE + '[[rules]]\nname = "s"\nsender = ["@shop.example"]\ndepartment = "legal"\n')
    assert (r.classify(parsed("x", **kwargs)).department == "legal") is fires


def test_mailbox_channel_attachments_and_repeat_conditions() -> None:
    """Given rules on the mailbox, the channel, attachment names and repeat complainants, when inputs vary,
    then each rule fires only for its inputs."""
    r = router(BASE + '''
[[rules]]
name = "mb"
mailbox = ["finance"]
department = "billing"
[[rules]]
name = "letter"
channel = "letter"
flags = ["written"]
[[rules]]
name = "receipt"
attachment_any = ["发票", "invoice"]
flags = ["has_invoice"]
[[rules]]
name = "again"
repeat = true
grade = "重大"
''')
    assert r.classify(parsed("x", mailbox="finance")).department == "billing"
    assert r.classify(parsed("x", mailbox="desk")).department == "triage"
    assert r.classify(parsed("x", channel="letter")).flags == ["written"]
    assert r.classify(parsed("x", attachments=("电子发票.pdf",))).flags == ["has_invoice"]
    assert r.classify(parsed("x", attachments=("Invoice-2026.PDF",))).flags == ["has_invoice"]
    assert r.classify(parsed("x", repeat=True)).grade == "重大"
    assert r.classify(parsed("x", repeat=False)).grade == "一般"


def test_chinese_without_boundaries_latin_whole_words_and_folding() -> None:
    """Given Chinese and English keywords, when texts use Traditional characters, full width, upper case or
    longer words, then CJK matches anywhere, Latin only as whole words, and folding makes them equal."""
    r = router(BASE + '''
[[rules]]
name = "damage"
any = ["损坏", "态度", "refund"]
department = "logistics"
''')
    assert r.classify(parsed("包裹損壞")).department == "logistics"  # Traditional
    assert r.classify(parsed("客服態度差")).department == "logistics"
    assert r.classify(parsed("I want a ＲＥＦＵＮＤ now")).department == "logistics"  # full width, upper case
    assert r.classify(parsed("REFUND!")).department == "logistics"
    assert r.classify(parsed("it was refunded")).department == "triage"  # not a whole word
    assert r.classify(parsed("prerefund")).department == "triage"
    d = r.classify(parsed("包裹損壞"))
    assert d.rule_hits[0]["matched"] == {"subject": ["损坏"]}
