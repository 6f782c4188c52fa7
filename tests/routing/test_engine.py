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


def test_fields_restrict_where_keywords_are_looked_for() -> None:
    """Given a rule that looks at the subject only, when the keyword is only in the description, then it does
    not fire; when it is in the subject, it does."""
    r = router(BASE + '[[rules]]\nname = "subj"\nany = ["紧急"]\nfields = ["subject"]\ndepartment = "legal"\n')
    assert r.classify(parsed("紧急：快递", "")).department == "legal"
    assert r.classify(parsed("快递", "紧急")).department == "triage"


def test_category_follows_the_winning_department() -> None:
    """Given an earlier, heavier billing rule and two logistics rules that outweigh it together, when all fire,
    then the case goes to logistics with the logistics category, not the heavier billing one."""
    r = router(BASE + '''
[[categories]]
key = "billing_error"
[[categories]]
key = "delay"
[[rules]]
name = "bill"
any = ["扣费"]
department = "billing"
category = "billing_error"
weight = 5
[[rules]]
name = "late"
any = ["延误"]
department = "logistics"
category = "delay"
weight = 3
[[rules]]
name = "courier"
any = ["快递"]
department = "logistics"
weight = 3
[[rules]]
name = "lawyer"
any = ["律师"]
department = "legal"
weight = 20
''')
    d = r.classify(parsed("快递延误还扣费"))
    assert (d.department, d.category) == ("logistics", "delay")
    scores = {h["rule"]: h.get("department_score") for h in d.rule_hits}
    assert scores == {"bill": 5, "late": 6, "courier": 6}
    d = r.classify(parsed("快递延误还扣费，已找律师"))  # legal has no category rule: the heaviest one's
    assert (d.department, d.category) == ("legal", "billing_error")


def test_stop_keeps_the_rules_that_fired_before_it() -> None:
    """Given a rule, then a stop rule, then a third rule, when all would match, then the first two count and
    the third is never looked at."""
    r = router(BASE + '''
[[rules]]
name = "one"
any = ["快递"]
department = "logistics"
[[rules]]
name = "halt"
any = ["律师"]
department = "legal"
weight = 0.5
stop = true
[[rules]]
name = "three"
any = ["快递"]
department = "billing"
weight = 9
''')
    d = r.classify(parsed("快递 律师"))
    assert [h["rule"] for h in d.rule_hits] == ["one", "halt"] and d.department == "logistics"
    assert d.rule_hits[1]["stop"] is True


def test_whole_words_for_accented_latin_and_mixed_keywords() -> None:
    """Given keywords in accented Latin and mixed Latin/Chinese, when texts vary, then Latin edges need word
    boundaries (also after Chinese text) and Chinese edges do not."""
    r = router(BASE + '[[rules]]\nname = "w"\nany = ["café", "iphone屏幕"]\ndepartment = "legal"\n')
    assert r.classify(parsed("在CAFÉ里")).department == "legal"
    assert r.classify(parsed("cafés")).department == "triage"
    assert r.classify(parsed("我的iPhone屏幕碎了")).department == "legal"
    assert r.classify(parsed("myiphone屏幕")).department == "triage"


def test_traditional_letter_matches_simplified_keywords() -> None:
    """Given Simplified keywords, when a letter arrives in Traditional characters with full-width digits and
    letters, then the keywords match and the matched words are reported in their Simplified form."""
    r = router(BASE + '''
[[rules]]
name = "refund"
all = ["退款", "态度"]
regex = ['\\d+\\s*元']
department = "billing"
''')
    d = r.classify(parsed("關於退款", "客服態度惡劣，至今未退還５００元。", channel="letter"))
    assert d.department == "billing"
    assert d.rule_hits[0]["matched"] == {"description": ["500元", "态度"], "subject": ["退款"]}


def test_classification_is_a_pure_function() -> None:
    """Given the same input classified twice by one router, then the decisions are equal and nothing in the
    input changed."""
    r = router(BASE + '[[rules]]\nname = "a"\nany = ["快递"]\ndepartment = "logistics"\nflags = ["x"]\n')
    p = parsed("快递", "快递")
    first, second = r.classify(p), r.classify(p)
    assert first == second and p.email.subject == "快递"
