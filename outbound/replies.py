"""Formal written replies (`ingestd reply CASE_NO --file TEXT`).

The reply is rendered in the complaint's language: as an e-mail to the complainant (queued in the
outbox, threaded onto their last message) when we have their address, and as a PDF letter (letterhead,
case number, date, salutation, body, signature) when the complaint came by letter or left no address.
The letter goes to the outgoing-letters folder and is attached to the case. The case records that the
reply went out and how (`reply.sent`, with its channels). The same text for the same case is sent once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from ingestd.store.models import Attachment, Case, CaseEvent, Message
from outbound.compose import Draft, idempotency_key, message_id_for
from outbound.letters import render_pdf, write_letter
from outbound.outbox import enqueue
from outbound.templates import language_of, reply_context

if TYPE_CHECKING:
    from outbound.service import Outbound


class ReplyError(Exception):
    pass


@dataclass(slots=True)
class ReplyResult:
    case_no: str
    channels: list[str] = field(default_factory=list)
    outbox_id: int | None = None
    letter: Path | None = None
    already: bool = False  # this text had been sent on this case before: nothing new was done


def send_reply(outbound: Outbound, case_no: str, text: str, *, actor: str = "cli", letter: bool = False) -> ReplyResult:
    """`letter`: print a letter too, even for an e-mailed complaint with an address."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ReplyError("the reply text is empty")
    purpose = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    now = outbound.clock.now()
    with outbound.db.read() as session:
        case = session.exec(select(Case).where(Case.case_no == case_no)).first()
        if case is None:
            raise ReplyError(f"no case {case_no}")
        done = _earlier(session, case.id, purpose)
        if done is not None:
            return ReplyResult(case_no, list(done.get("channels", [])), done.get("outbox_id"),
                               Path(done["letter"]) if done.get("letter") else None, already=True)
        last_in = session.exec(select(Message).where(Message.case_id == case.id, Message.direction == "in")
                               .order_by(Message.id.desc())).first()  # type: ignore[union-attr]
    want_letter = letter or case.channel == "letter" or not case.complainant_email
    pdf = _render_letter(outbound, case, text, now) if want_letter else None  # outside the write lock: ~1 s
    with outbound.db.write() as session:
        if _earlier(session, case.id, purpose) is not None:  # a concurrent twin got there first
            return send_reply(outbound, case_no, text, actor=actor, letter=letter)
        fresh = session.get(Case, case.id)
        assert fresh is not None
        return queue_reply(outbound, session, fresh, text, actor=actor, letter=letter, now=now, pdf=pdf,
                           last_in=last_in)


def queue_reply(outbound: Outbound, session: Session, case: Case, text: str, *, actor: str, letter: bool,
                now: datetime, pdf: bytes | None = None, last_in: Message | None = None) -> ReplyResult:
    """The formal reply in the caller's transaction (a department's `#reply` arrives inside an intake
    transaction): the e-mail queued in the outbox, the PDF letter written and attached, `reply.sent` logged."""
    text = text.replace("\r\n", "\n").strip()
    purpose = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    done = _earlier(session, case.id, purpose)
    if done is not None:
        return ReplyResult(case.case_no, list(done.get("channels", [])), done.get("outbox_id"),
                           Path(done["letter"]) if done.get("letter") else None, already=True)
    if last_in is None:
        last_in = session.exec(select(Message).where(Message.case_id == case.id, Message.direction == "in")
                               .order_by(Message.id.desc())).first()  # type: ignore[union-attr]
    config = outbound.config
    language = language_of(case.language)
    context = reply_context(case, config=config, zone=outbound.zone, today=now.astimezone(outbound.zone).date(),
                            text=text)
    want_email = bool(case.complainant_email)
    if pdf is None and (letter or case.channel == "letter" or not case.complainant_email):
        pdf = _render_letter(outbound, case, text, now)
    result = ReplyResult(case.case_no)
    if want_email:
        assert case.complainant_email is not None
        key = idempotency_key("reply", case.case_no, purpose)
        from_addr = config.from_for((case.fields or {}).get("mailbox"))
        draft = Draft(
            kind="reply", case_no=case.case_no, from_addr=from_addr, from_name=outbound.from_name(language),
            to_addr=case.complainant_email.lower(), to_name=case.complainant_name or "",
            subject=outbound.templates.subject(language, "reply.subject.txt", context),
            text=outbound.templates.render(language, "reply.txt", context),
            message_id=message_id_for(key, config.id_domain), date=now, loop_id=from_addr,
            in_reply_to=last_in.message_id if last_in else None,
            references=[*(last_in.references or []), *([last_in.message_id] if last_in and last_in.message_id else [])]
            if last_in else [],
            auto_submitted=None, suppress_auto_replies=False,  # written by a person: replies welcome
        )
        result.outbox_id, _ = enqueue(session, outbound.blobs, key=key, draft=draft, case_id=case.id, now=now)
        result.channels.append("email")
    attachment_id = None
    if pdf is not None:
        name = f"{case.case_no}-reply-{now.astimezone(outbound.zone):%Y%m%d}-{purpose[:8]}.pdf"
        result.letter = write_letter(outbound.letters_dir, name, pdf)
        digest = outbound.blobs.put(pdf)
        attachment = Attachment(case_id=case.id, sha256=digest, filename=result.letter.name,
                                original_name=result.letter.name, content_type="application/pdf",
                                size=len(pdf), created_at=now)
        session.add(attachment)
        session.flush()
        attachment_id = attachment.id
        result.channels.append("letter")
    session.add(CaseEvent(case_id=case.id, at=now, kind="reply.sent", actor=actor, detail={
        "channels": result.channels, "key": purpose, "outbox_id": result.outbox_id,
        "letter": str(result.letter) if result.letter else None, "attachment_id": attachment_id,
        "language": language}))
    if outbound.after_reply is not None:  # the case's life goes on: replied, return visit due
        outbound.after_reply(session, case, now)
    outbound.blobs.sync()
    return result


def _render_letter(outbound: Outbound, case: Case, text: str, now: datetime) -> bytes:
    language = language_of(case.language)
    context = reply_context(case, config=outbound.config, zone=outbound.zone,
                            today=now.astimezone(outbound.zone).date(), text=text.replace("\r\n", "\n").strip())
    html = outbound.templates.render(language, "letter.html", context)
    return render_pdf(html, base_url=outbound.templates.root / language)


def _earlier(session, case_id: int | None, purpose: str) -> dict | None:  # type: ignore[no-untyped-def,type-arg]
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "reply.sent")).all()
    for event in events:
        if (event.detail or {}).get("key") == purpose:
            return dict(event.detail)
    return None
