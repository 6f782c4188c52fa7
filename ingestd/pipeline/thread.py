"""thread: does this message continue a case we already have?

Order (as mail clients and helpdesks do it): for a bounce, the Message-ID of our own message it returns (the
report names it even when the bouncing server drops In-Reply-To); the message's own Message-ID already stored (a
copy with different bytes), In-Reply-To, References newest first, then a case number in the subject.
"""

from __future__ import annotations

import re
from typing import Protocol

from ingestd.pipeline.items import Parsed, ThreadMatch


class CaseLookup(Protocol):
    def case_by_message_id(self, message_id: str) -> tuple[int, str] | None: ...

    def case_by_number(self, case_no: str) -> tuple[int, str] | None: ...


def thread(parsed: Parsed, lookup: CaseLookup, case_no_pattern: re.Pattern[str]) -> ThreadMatch | None:
    email = parsed.email
    candidates: list[tuple[str, str]] = []
    if email.bounce_message_id:
        candidates.append(("bounce", email.bounce_message_id))
    if email.message_id:
        candidates.append(("message-id", email.message_id))
    if email.in_reply_to:
        candidates.append(("in-reply-to", email.in_reply_to))
    candidates.extend(("references", ref) for ref in reversed(email.references))
    for how, mid in candidates:
        found = lookup.case_by_message_id(mid)
        if found:
            return ThreadMatch(case_id=found[0], case_no=found[1], how=how)
    for case_no in case_no_pattern.findall(email.subject or ""):
        found = lookup.case_by_number(case_no)
        if found:
            return ThreadMatch(case_id=found[0], case_no=found[1], how="subject")
    return None
