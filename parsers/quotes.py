"""What the complainant wrote *now*: quoted history and signatures cut from the description.

The full text is always kept elsewhere; this only decides what a case handler reads first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ON_WROTE = re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.I)  # "On Mon, 3 May 2026, Wang Fang wrote:"
_REPLY_HEADER = [
    _ON_WROTE,
    re.compile(r"^\s*在.{0,120}(写道|寫道)[:：]?\s*$"),
    re.compile(r"^\s*-{2,}\s*(Original Message|原始邮件|原始郵件|原邮件|回复的邮件)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*_{20,}\s*$"),
    re.compile(r"^\s*Le .{0,200} a écrit\s*:\s*$", re.I),
    re.compile(r"^\s*Am .{0,200} schrieb .{0,100}:\s*$", re.I),
]
_FORWARD_MARK = re.compile(
    r"^\s*-{2,}\s*(Forwarded message|Begin forwarded message|转发的邮件|轉寄的郵件|转发邮件|Forwarded Message)\s*-{0,}\s*:?\s*$"
    r"|^\s*Begin forwarded message:\s*$",
    re.I,
)
_HEADER_LINE = re.compile(
    r"^\s*\*?(From|Sent|Date|To|Cc|Subject|发件人|發件人|发送时间|發送時間|日期|时间|收件人|抄送|主题|主旨)\*?\s*[:：]\s*(.*)$",
    re.I,
)
_SIGNATURE = [
    re.compile(r"^--\s?$"),
    re.compile(r"^\s*(Sent from my|Sent from Mail for|Get Outlook for|Sent with|Sent via)\b", re.I),
    re.compile(r"^\s*(发自我的|發自我的|来自我的|从我的).{0,20}$"),
]


def _any_of(patterns: list[re.Pattern[str]]) -> re.Pattern[str]:
    """One pattern matching where any of `patterns` matches, each keeping its own case-insensitivity: one
    match per line instead of one per pattern."""
    return re.compile("|".join(f"(?{'i' if p.flags & re.I else ''}:{p.pattern})" for p in patterns))


_ANY_REPLY_HEADER = _any_of(_REPLY_HEADER)
_ANY_SIGNATURE = _any_of(_SIGNATURE)
_ON_START = re.compile(r"\s*On\b", re.I)
_ON_WORD = re.compile(r"^\s*On\s+\w")


@dataclass(slots=True)
class InlineForward:
    intro: str  # what the forwarder wrote above the forward
    headers: dict[str, str]  # "from", "date", "subject", ... of the forwarded message
    body: str  # the forwarded message's text


def strip_quotes(text: str) -> str:
    lines = text.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        if _is_reply_header(lines, i):
            break
        if _ANY_SIGNATURE.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        out.append(line)
    return "\n".join(out).strip()


def _is_reply_header(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _ANY_REPLY_HEADER.match(line):
        return True
    if _ON_START.match(line):  # an attribution line that a mail client wrapped in two
        joined = line + " " + lines[i + 1] if i + 1 < len(lines) else line
        if _ON_WROTE.match(joined) and not line.rstrip().endswith((".", "。")):
            return bool(_ON_WORD.match(line))
    match = _HEADER_LINE.match(line)
    if match and match.group(1).lower() in ("from", "发件人", "發件人"):
        following = lines[i + 1:i + 5]
        return sum(1 for f in following if _HEADER_LINE.match(f)) >= 2
    return False


def split_inline_forward(text: str) -> InlineForward | None:
    """A forward pasted into the body ("---------- Forwarded message ---------" and its header lines)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if _FORWARD_MARK.match(line):
            headers: dict[str, str] = {}
            j = i + 1
            while j < len(lines) and (not lines[j].strip() and not headers):
                j += 1
            while j < len(lines):
                match = _HEADER_LINE.match(lines[j])
                if not match:
                    break
                headers[_header_key(match.group(1))] = match.group(2).strip()
                j += 1
            if not headers:
                continue
            return InlineForward(intro="\n".join(lines[:i]).strip(), headers=headers,
                                 body="\n".join(lines[j:]).strip())
    return None


def _header_key(label: str) -> str:
    label = label.lower().strip("*")
    return {
        "发件人": "from", "發件人": "from", "发送时间": "date", "發送時間": "date", "日期": "date", "时间": "date",
        "sent": "date", "收件人": "to", "抄送": "cc", "主题": "subject", "主旨": "subject",
    }.get(label, label)
