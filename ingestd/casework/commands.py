"""What a reply asks for, read from its text. Pure.

Departments act by replying to their notification with a command on the first line:
`#reroute DEPT reason`, `#reply` (the rest is the formal reply), `#extend N reason` (working days),
`#invalid reason`, `#close [note]`. Complainants withdraw (撤诉) or answer the return visit in plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMANDS = ("reroute", "reply", "extend", "invalid", "close")
_COMMAND = re.compile(r"^\s*[#＃]\s*([A-Za-z]+)\b[ \t]*(.*)$")


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # one of COMMANDS
    args: str  # the rest of the first line
    body: str  # the lines after it (for #reply: the reply text)


class CommandError(ValueError):
    pass


def parse_command(text: str) -> Command | None:
    """The command on the first non-empty line, or None when the reply is a plain response."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return None
    match = _COMMAND.match(lines[0])
    if not match or match.group(1).lower() not in COMMANDS:
        return None
    return Command(match.group(1).lower(), match.group(2).strip(), "\n".join(lines[1:]).strip())


def extend_args(args: str) -> tuple[int, str]:
    """`#extend 5 waiting for the courier's report` → (5, reason); a reason is required."""
    number, _, reason = args.partition(" ")
    if not number.isdigit() or int(number) < 1:
        raise CommandError("#extend needs a number of working days, then the reason: #extend 5 reason")
    if not reason.strip():
        raise CommandError("an extension needs a reason: #extend N reason")
    return int(number), reason.strip()


def reroute_args(args: str) -> tuple[str, str]:
    department, _, reason = args.partition(" ")
    if not department:
        raise CommandError("#reroute needs the department: #reroute DEPT reason")
    return department.strip(), reason.strip()


_WITHDRAW = re.compile(r"撤诉|撤销(本次|这次|此|我的)?投诉|撤回(本次|这次|此|我的)?投诉|不再投诉|取消(本次|这次|我的)?投诉"
                       r"|\bwithdraw(ing|n)?\s+(my|the|this)\s+complaint|\bcancel\s+(my|the|this)\s+complaint",
                       re.IGNORECASE)
_UNSATISFIED = re.compile(r"不满意|不太满意|非常不满|没有解决|未解决|\bnot\s+(satisfied|happy)\b|\bunsatisfied\b"
                          r"|\bdissatisfied\b|\bnot\s+resolved\b", re.IGNORECASE)
_SATISFIED = re.compile(r"满意|已解决|问题解决了|\bsatisfied\b|\bhappy with\b|\bresolved\b", re.IGNORECASE)


def withdrawal_reason(text: str) -> str | None:
    """The complainant's own words when the message withdraws the complaint (only its first lines count, not a
    quoted history), else None."""
    head = _first_lines(text)
    match = _WITHDRAW.search(head)
    return head.strip()[:500] if match else None


def satisfaction_in(text: str) -> str | None:
    """"unsatisfied", "satisfied" or None, from the first lines of a reply to the formal answer."""
    head = _first_lines(text)
    if _UNSATISFIED.search(head):
        return "unsatisfied"
    if _SATISFIED.search(head):
        return "satisfied"
    return None


def _first_lines(text: str, count: int = 5) -> str:
    lines = [ln for ln in (text or "").replace("\r\n", "\n").split("\n")
             if ln.strip() and not ln.lstrip().startswith(">")]
    return "\n".join(lines[:count])
