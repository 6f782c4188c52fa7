"""record: write the case (or the new message on an existing case), its attachments and events.

Blobs (each attachment, a raw input too big for the register) are written to disk first and fsynced; the
rows that refer to them, and a smaller raw input itself (`ingestd.store.originals`), are written in the
caller's transaction. Either everything about an input is committed, or none
of its rows are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ingestd.pipeline.items import Classification, Parsed, ThreadMatch
from ingestd.store.blobs import BlobStore
from ingestd.store.filenames import safe_filename
from ingestd.store.models import Attachment, Case, InputBytes, Message
from ingestd.store.originals import kept_inline
from ingestd.store.register import Register


@dataclass(slots=True)
class Recorded:
    case_id: int
    case_no: str
    message_row_id: int  # the inbound message's row
    created: bool  # a new case, rather than a message joining one


def record(parsed: Parsed, match: ThreadMatch | None, decision: Classification | None, *, register: Register,
           blobs: BlobStore, case_number_pattern: str, now: datetime, local_now: datetime,
           opening: dict[str, Any] | None = None) -> Recorded:
    """`opening`: what casework adds to a new case (deadlines, repeat_of; see ingestd.casework)."""
    raw, email = parsed.raw, parsed.email
    digests = parsed.attachment_digests
    inline = kept_inline(len(raw.data))
    if digests is None:
        if not inline:
            blobs.put(raw.data, raw.sha256)
        digests = [blobs.put(att.data) for att in email.attachments]
    sizes = parsed.attachment_sizes or [len(att.data) for att in email.attachments]
    names = parsed.attachment_names or [safe_filename(att.filename) for att in email.attachments]
    attachment_rows = [_attachment_row(digest, att.filename, name, att.content_type, size, now)
                       for digest, att, name, size in zip(digests, email.attachments, names, sizes, strict=True)]

    created = match is None
    if match is None:
        assert decision is not None, "a new case needs a classification"
        case_no = register.case_number(case_number_pattern, local_now)
        values = _new_case(parsed, decision, case_no, now, opening or {})
        case_id = register.insert_row(Case, values)
        register.add_case(case_id, values)  # responders read it from the session, not the database
    else:
        case_id, case_no = match.case_id, match.case_no

    message_row_id = register.insert_row(Message, _inbound_message(parsed, case_id, now))
    if inline:
        register.insert_later(InputBytes, {"sha256": raw.sha256, "data": raw.data})
    for row in attachment_rows:
        register.insert_later(Attachment, {**row, "case_id": case_id, "message_id": message_row_id})

    if created and decision is not None:
        register.log_event(case_id, "case.opened", now, channel=raw.channel, source=raw.source,
                           source_ref=raw.source_ref, message_id=email.message_id, attachments=len(attachment_rows),
                           defects=email.defects)
        register.log_event(case_id, "case.classified", now, actor=f"rule:{decision.decided_by}",
                           department=decision.department, category=decision.category, grade=decision.grade,
                           flags=decision.flags)
    else:
        assert match is not None
        register.log_event(case_id, "message.added", now, how=match.how, source=raw.source,
                           message_id=email.message_id, attachments=len(attachment_rows))
        register.touch_case(case_id, now)
    return Recorded(case_id=case_id, case_no=case_no, message_row_id=message_row_id, created=created)


def _new_case(parsed: Parsed, decision: Classification, case_no: str, now: datetime,
              opening: dict[str, Any]) -> dict[str, Any]:
    raw, email = parsed.raw, parsed.email
    who = email.complainant
    flags = list(dict.fromkeys(decision.flags + (["forwarded"] if email.forwarded else [])
                               + (["anonymous"] if who.anonymous else [])
                               + list(raw.extra.get("case_flags", []))))  # e.g. a letter: written, needs_review
    return dict(
        case_no=case_no,
        channel=raw.channel,
        status="open",
        subject=email.subject or "",
        description=email.description or email.body_text,
        demands=parsed.demands,
        full_text=email.body_text,
        language=email.language,
        complainant_name=_cut(who.name, 200),
        complainant_email=_cut(who.email, 320),
        complainant_phone=_cut(who.phone, 40),
        complainant_phones=list(who.phones),
        complainant_address=who.address,
        anonymous=who.anonymous,
        received_at=now,
        created_at=now,
        updated_at=now,
        source=raw.source,
        department=decision.department,
        category=decision.category,
        grade=decision.grade,
        flags=flags,
        rule_hits=decision.rule_hits,
        fields={"mailbox": raw.mailbox, **({"forwarded_by": email.forwarded_by} if email.forwarded else {}),
                **raw.extra.get("case_fields", {}), **({"repeat": opening["repeat"]} if "repeat" in opening else {})},
        **{k: v for k, v in opening.items() if k != "repeat"},
    )


def _inbound_message(parsed: Parsed, case_id: int, now: datetime) -> dict[str, Any]:
    raw, email = parsed.raw, parsed.email
    return dict(
        case_id=case_id,
        direction="in",
        dedupe_key=f"in:{email.message_id or ''}:{raw.sha256}"[:600],
        message_id=_cut(email.message_id, 500),
        in_reply_to=_cut(email.in_reply_to, 500),
        references=email.references,
        subject=email.subject or "",
        from_addr=_cut(email.from_addr, 320),
        from_name=_cut(email.from_name, 300),
        to_addrs=email.to,
        cc_addrs=email.cc,
        date=email.date,
        source=raw.source,
        source_ref=raw.source_ref[:600],
        raw_sha256=raw.sha256,
        size=len(raw.data),
        body_text=email.body_text,
        headers=email.headers,
        created_at=now,
    )


def _attachment_row(digest: str, name: str, safe_name: str, content_type: str, size: int,
                    now: datetime) -> dict[str, Any]:
    return dict(sha256=digest, filename=safe_name, original_name=name or "",
                content_type=(content_type or "application/octet-stream")[:200], size=size, created_at=now)


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else value
