"""What the complainant asks for (诉求): the sentences that carry a request, for the register entry."""

from __future__ import annotations

import re

_SENTENCE = re.compile(r"(?:[^。！？!?.\n]|\.(?!\s|$))+(?:[。！？!?]|\.)?")
_ASK_ZH = re.compile(
    r"(要求|希望|请求|恳请|诉求|请(?:你们|贵司|尽快|立即|给予)?|务必|必须)"
    r".{0,40}?(退款|退货|赔偿|补偿|道歉|处理|解决|答复|回复|更换|维修|重新|追究|说明|调查|返还|退还|补发|处罚)"
    r"|(退款|赔偿|补偿|道歉)"
)
_ASK_EN = re.compile(
    r"\b(I|we)\s+(would like|want|ask|request|expect|demand|insist)\b|\bplease\b.*\b("
    r"refund|replace|repair|compensat\w*|apolog\w*|investigate|respond|reply|fix|cancel|return)\b"
    r"|\b(full refund|compensation|reimburse\w*|an apology)\b",
    re.IGNORECASE,
)


def extract_demands(text: str, *, limit: int = 3) -> str:
    """Up to `limit` sentences that ask for something, in the order written, joined by newlines."""
    found: list[str] = []
    for line in text.splitlines():
        for match in _SENTENCE.finditer(line):
            sentence = match.group(0).strip()
            if len(sentence) < 4 or sentence in found:
                continue
            if _ASK_ZH.search(sentence) or _ASK_EN.search(sentence):
                found.append(sentence[:300])
                if len(found) >= limit:
                    return "\n".join(found)
    return "\n".join(found)
