"""二次投诉: is a new complaint the same complainant about the same matter as an earlier case?

Pure. The runner fetches the complainant's recent cases (same e-mail or phone, within the window); this module
says whether one of them is the same matter: a shared order or account number, or text similar enough
(Dice coefficient over Latin words and CJK character bigrams of the folded subject and description: no word
segmentation needed for Chinese, robust to rewording), and how far the grade goes up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingestd.routing.text import fold

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z][a-z0-9']{2,}")
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|回复|答复|转发)\s*[:：]\s*)+", re.IGNORECASE)
# words every complaint uses: they say nothing about the matter (measured: without them a rephrased repeat scores
# 0.24-0.47 and an unrelated complaint of the same person at most 0.15; with them the two overlap)
_STOP = frozenset({"the", "and", "for", "with", "this", "that", "was", "were", "are", "you", "your", "have", "has",
                   "had", "not", "but", "from", "they", "them", "our", "out", "about", "again", "still", "complaint",
                   "complain", "complained", "please", "would", "could", "been", "will"})
_STOP_ZH = frozenset({"投诉", "我的", "我们", "你们", "要求", "没有", "已经", "一个", "这个", "可以", "问题", "还是",
                      "但是", "因为", "所以", "客服", "再次", "上次", "您好", "你好", "谢谢"})
@dataclass(frozen=True, slots=True)
class Earlier:
    case_id: int
    case_no: str
    subject: str
    description: str
    references: frozenset[str] = frozenset()  # order / account / waybill numbers found in it


@dataclass(frozen=True, slots=True)
class RepeatMatch:
    case_id: int
    case_no: str
    score: float
    why: str


def features(text: str) -> set[str]:
    """Latin words (3+ letters) and CJK character bigrams of the folded text, without the common words."""
    folded = fold(_REPLY_PREFIX.sub("", text))
    found = {w for w in _WORD.findall(folded) if w not in _STOP}
    for run in _CJK.findall(folded):
        found.update([run] if len(run) == 1 else (run[i:i + 2] for i in range(len(run) - 1)))
    return found - _STOP_ZH


def similarity(a: str, b: str) -> float:
    """Dice coefficient of the two texts' features, 0..1."""
    x, y = features(a), features(b)
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


_REFERENCE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,4}-?[0-9][0-9A-Za-z-]{5,24}(?![A-Za-z0-9])")


def references_in(text: str) -> frozenset[str]:
    """Order, waybill and account numbers (a letter prefix, then digits: HD2026101001, SF-1234567), normalised.
    Bare digit runs are left out: they are as often the complainant's own phone number, shared by every case."""
    return frozenset(m.replace("-", "").upper() for m in _REFERENCE.findall(text or ""))


def find_repeat(subject: str, description: str, earlier: list[Earlier], threshold: float) -> RepeatMatch | None:
    """The earlier case this one repeats, if any: one it names by case number or shares an order number with,
    else the most similar text at or over `threshold`."""
    mine = references_in(f"{subject}\n{description}")
    best: RepeatMatch | None = None
    text = f"{subject}\n{description}"
    for case in earlier:
        if case.case_no and re.search(rf"(?<![\w-]){re.escape(case.case_no)}(?!\w)", text):  # "TS-… again"
            return RepeatMatch(case.case_id, case.case_no, 1.0, f"names {case.case_no}")
        shared = mine & case.references
        if shared:
            return RepeatMatch(case.case_id, case.case_no, 1.0, f"same reference {sorted(shared)[0]}")
        score = similarity(f"{subject} {description}", f"{case.subject} {case.description}")
        if score >= threshold and (best is None or score > best.score):
            best = RepeatMatch(case.case_id, case.case_no, round(score, 3), f"similar text ({score:.2f})")
    return best


def raised_grade(grade: str | None, grades: list[str], steps: int) -> str | None:
    """`steps` grades up (grades are listed highest first), never past the highest. 等级从高."""
    if not grades or steps <= 0:
        return grade
    index = grades.index(grade) if grade in grades else len(grades) - 1
    return grades[max(0, index - steps)]
