"""Intake responders: what the register owes the outside world once an input is recorded.

They run inside the input's transaction (see `ingestd.pipeline.respond`), so whatever they queue is
committed with the case, or not at all.

- `BounceResponder`: a delivery report for one of our messages is recorded on its case
  (`outbound.bounced`, the outbox row marked bounced); one that would open a new case is parked in
  quarantine instead ("bounce for unknown message").
- `DepartmentReplyResponder`: a reply from a department's address to its notification (or to a reminder or
  escalation about the case) is recorded as the department's response (`department.responded`); what the
  reply asks for (`#reroute`, `#reply`, ...) is then up to `Outbound.after_department_reply`.
- `AcknowledgementResponder`: one acknowledgement per new case, unless RFC 3834 says not to (each
  suppression is an `ack.suppressed` event with the reason).
- `DepartmentNotificationResponder`: the routed case, with its attachments, to the department's inbox.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import Session, select

from ingestd.config.outbound import check_address
from ingestd.pipeline.items import Parsed, Quarantine
from ingestd.pipeline.respond import ResponseContext
from ingestd.store.models import Attachment, Case, OutboxMessage
from outbound import loops
from outbound.compose import AUTO_GENERATED, AUTO_REPLIED, Draft, OutAttachment, idempotency_key, message_id_for
from outbound.outbox import acks_since, enqueue, rows_for_message_ids
from outbound.templates import AttachmentNote, ack_context, language_of, notify_context, subject_line

if TYPE_CHECKING:
    from ingestd.store.register import Register
    from outbound.service import Outbound

BOUNCE_UNKNOWN = "bounce for unknown message"
DEPARTMENT_MAIL = ("notify", "remind", "escalate")  # a reply to one of these from the department is its response


class BounceResponder:
    name = "outbound.bounces"

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound

    def respond(self, ctx: ResponseContext) -> None:
        email = ctx.parsed.email
        if not email.is_bounce:
            return
        session = ctx.register.session
        rows = rows_for_message_ids(session, [m for m in (email.bounce_message_id, email.in_reply_to,
                                                          *reversed(email.references)) if m])
        if ctx.recorded.created:  # a bounce never opens a case: roll this input back and park it
            if rows:  # ours, but not joined to its case by the thread stage (it does not look at DSN ids)
                raise Quarantine(f"bounce for our message {rows[0].message_id} (outbox #{rows[0].id}) "
                                 "not joined to its case")
            raise Quarantine(BOUNCE_UNKNOWN)
        mine = [r for r in rows if r.case_id == ctx.recorded.case_id] or rows
        raw = ctx.parsed.raw.data or self.outbound.blobs.read(ctx.parsed.raw.sha256)
        diagnostic = _diagnostic(_delivery_status(raw) or email.body_text)
        for row in mine[:1]:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(  # type: ignore[arg-type]
                status="bounced", last_error=diagnostic[:2000]))
        row = mine[0] if mine else None
        ctx.register.log_event(ctx.recorded.case_id, "outbound.bounced", ctx.now, actor="outbox",
                               outbox_id=row.id if row else None, outbox_kind=row.kind if row else None,
                               to=row.to_addr if row else None,
                               message_id=row.message_id if row else email.bounce_message_id,
                               report_message_id=email.message_id, diagnostic=diagnostic[:500])


class DepartmentReplyResponder:
    name = "outbound.department_replies"

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound

    def respond(self, ctx: ResponseContext) -> None:
        email = ctx.parsed.email
        if ctx.recorded.created or email.is_bounce or not email.from_addr:
            return
        session = ctx.register.session
        rows = [r for r in rows_for_message_ids(session, [m for m in (email.in_reply_to, *email.references) if m])
                if r.kind in DEPARTMENT_MAIL and r.case_id == ctx.recorded.case_id]
        sender = email.from_addr.lower()
        for row in rows:
            department = _notified_department(row)
            if department is None:  # the desk's own copy of an escalation: not a department's mail
                continue
            addresses = self.outbound.directory(department) if department else None
            allowed = {a.lower() for a in (addresses or ()) if a} | {row.to_addr.lower()}
            if sender in allowed:
                ctx.register.log_event(ctx.recorded.case_id, "department.responded", ctx.now,
                                       actor=f"department:{department}", department=department, sender=sender,
                                       message_id=email.message_id, in_reply_to=row.message_id,
                                       message_row_id=ctx.recorded.message_row_id)
                if self.outbound.after_department_reply is not None:  # commands: see ingestd.casework.responders
                    self.outbound.after_department_reply(ctx, department, sender)
                return


class AcknowledgementResponder:
    name = "outbound.acknowledgement"

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound

    def respond(self, ctx: ResponseContext) -> None:
        if not ctx.recorded.created:
            return
        out, config = self.outbound, self.outbound.config
        parsed, email, session = ctx.parsed, ctx.parsed.email, ctx.register.session
        case_id = ctx.recorded.case_id
        if parsed.raw.channel != "email":
            self._suppressed(ctx, f"came by {parsed.raw.channel}: no e-mail acknowledgement")
            return
        to_addr = _ack_address(email)
        try:
            if to_addr:
                check_address(to_addr)
        except ValueError:
            self._suppressed(ctx, f"not an address we can write to: {to_addr!r}")
            return
        sent_today = 0
        if to_addr and config.ack_limit_per_sender_per_day is not None:
            sent_today = self._sent_today(ctx.register, to_addr, ctx.now)
        verdict = loops.ack_decision(email, to_addr, own_addresses=config.ours, sent_today=sent_today,
                                     daily_limit=config.ack_limit_per_sender_per_day, now=ctx.now,
                                     max_age_days=config.ack_max_age_days)
        if verdict.auth_failed:
            _add_flag(session, case_id, "auth_failed")
        if not verdict:
            self._suppressed(ctx, verdict.reason)
            return
        assert to_addr is not None
        case = session.get(Case, case_id)
        assert case is not None
        language = language_of(case.language)
        by = out.answer_by(case, ctx.now)
        from_addr = config.from_for(parsed.raw.mailbox)
        context = ack_context(case, config=config, zone=out.zone, answer_by=by, reply_address=from_addr,
                              attachments=[a.filename for a in email.attachments if a.filename])
        key = idempotency_key("ack", case.case_no, "opened")
        subject, text, html = out.templates.render_each(language, ("ack.subject.txt", "ack.txt", "ack.html"), context)
        draft = Draft(
            kind="ack", case_no=case.case_no, from_addr=from_addr, from_name=out.from_name(language),
            to_addr=to_addr, to_name=case.complainant_name or "",
            subject=subject_line(subject), text=text, html=html,
            message_id=message_id_for(key, config.id_domain), date=ctx.now, loop_id=from_addr,
            in_reply_to=email.message_id, references=[*email.references, *([email.message_id] if email.message_id else [])],
            auto_submitted=AUTO_REPLIED,
        )
        outbox_id, queued = enqueue(session, out.blobs, key=key, draft=draft, case_id=case_id, now=ctx.now,
                                    register=ctx.register, fresh=True)
        if queued:
            ctx.register.update_case(case_id, acknowledged_at=ctx.now)  # its acknowledge-by deadline is met
            counted = ctx.register.memo.get(self._MEMO)
            if counted is not None:
                counted[1][to_addr] += 1
                ctx.register.on_undo(lambda: counted[1].subtract([to_addr]))  # the input failed: not queued
            ctx.register.log_event(case_id, "ack.queued", ctx.now, actor="outbox", outbox_id=outbox_id, to=to_addr,
                                   message_id=draft.message_id, answer_by=by.isoformat(), language=language)

    @staticmethod
    def _suppressed(ctx: ResponseContext, reason: str) -> None:
        """No e-mail acknowledgement. For mail, none is owed (automatic mail, a limit, an import): its
        acknowledge-by deadline goes. A letter keeps it: the desk acknowledges it another way (`ingestd case ack`)."""
        ctx.register.log_event(ctx.recorded.case_id, "ack.suppressed", ctx.now, actor="outbox", reason=reason)
        if ctx.parsed.raw.channel == "email":
            ctx.register.update_case(ctx.recorded.case_id, ack_due=None)

    _MEMO = "outbound.acks_today"

    def prepare(self, register: Register, items: list[Parsed], now: datetime) -> None:
        """Count, in one query for the whole batch, today's acknowledgements to each of its senders (the
        daily limit); `respond` then counts on in memory."""
        if self.outbound.config.ack_limit_per_sender_per_day is None:
            return
        midnight = self._midnight(now)
        addresses = {a for item in items if item.raw.channel == "email" and (a := _ack_address(item.email))}
        register.memo[self._MEMO] = (midnight, Counter(acks_since(register.session, addresses, midnight)))

    def _sent_today(self, register: Register, to_addr: str, now: datetime) -> int:
        midnight = self._midnight(now)
        counted = register.memo.get(self._MEMO)
        if counted is not None and counted[0] == midnight and to_addr in counted[1]:
            return int(counted[1][to_addr])
        sent = acks_since(register.session, {to_addr}, midnight)[to_addr]
        if counted is not None and counted[0] == midnight:
            counted[1][to_addr] = sent
        return sent

    def _midnight(self, now: datetime) -> datetime:
        zone = self.outbound.zone
        return datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)


def _ack_address(email: Any) -> str | None:
    """Where a complaint's acknowledgement goes: the complainant's address, else the sender's (lower case)."""
    return (email.complainant.email or email.from_addr or "").lower() or None


class DepartmentNotificationResponder:
    name = "outbound.department_notification"

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound

    def respond(self, ctx: ResponseContext) -> None:
        if not ctx.recorded.created or ctx.decision is None:
            return
        verdict = loops.notify_decision(ctx.parsed.email, own_addresses=self.outbound.config.ours)
        if not verdict:
            ctx.register.log_event(ctx.recorded.case_id, "notification.suppressed", ctx.now, actor="outbox",
                                   department=ctx.decision.department, reason=verdict.reason)
            return
        parsed = ctx.parsed
        attachments = []
        digests = parsed.attachment_digests or [None] * len(parsed.email.attachments)
        sizes = parsed.attachment_sizes or [len(a.data) for a in parsed.email.attachments]
        for att, digest, size in zip(parsed.email.attachments, digests, sizes, strict=False):
            attachments.append((att.filename or "attachment", att.content_type, size, att.data, digest))
        notify_department(self.outbound, ctx.register.session, ctx.recorded.case_id, ctx.decision.department,
                          ctx.now, reason="routed", attachments=attachments, register=ctx.register,
                          mailbox=parsed.raw.mailbox, fresh=True)


def notify_department(outbound: Outbound, session: Session, case_id: int, department: str, now: datetime, *,
                      reason: str = "rerouted", attachments: list[tuple[str, str, int, bytes, str | None]] | None = None,
                      register: Any = None, mailbox: str | None = None, fresh: bool = False) -> int | None:
    """Queue the case to `department`'s inbox, in the caller's transaction; returns the outbox row id.

    `fresh`: the case was opened in this transaction, so the notification cannot be queued yet (see `enqueue`).
    For a reroute (`reason="rerouted"`) call this in the transaction that changes `cases.department`;
    the case's stored attachments are sent along (`attachments=None`)."""
    config = outbound.config
    case = session.get(Case, case_id)
    assert case is not None
    addresses = outbound.directory(department)

    def log(kind: str, **detail: Any) -> None:
        if register is not None:
            register.log_event(case_id, kind, now, actor="outbox", **detail)
        else:
            from ingestd.store.models import CaseEvent

            session.add(CaseEvent(case_id=case_id, at=now, kind=kind, actor="outbox", detail=detail))

    if not addresses:
        log("notification.skipped", department=department, reason=f"no inbox known for department {department!r}")
        return None
    inbox = addresses[0].lower()
    if attachments is None:
        stored = session.exec(select(Attachment).where(Attachment.case_id == case_id).order_by(Attachment.id)).all()
        attachments = [(a.original_name or a.filename, a.content_type, a.size, b"", a.sha256) for a in stored]
    notes: list[AttachmentNote] = []
    files: list[OutAttachment] = []
    for name, ctype, size, data, digest in attachments:
        included = size <= config.notify_attachment_max_bytes
        if included:
            if not data and digest:
                data = outbound.blobs.read(digest)
            files.append(OutAttachment(name, ctype, data))
        notes.append(AttachmentNote(name, size, included))
    language = config.notify_language
    by = outbound.answer_by(case, now)
    context = notify_context(case, config=config, zone=outbound.zone, answer_by=by, department=department,
                             inbox=inbox, attachments=notes, reason=reason,
                             department_name=outbound.department_name(department))
    if reason == "routed":
        purpose = f"routed:{department}"
    else:
        earlier = session.exec(select(OutboxMessage.id).where(OutboxMessage.case_id == case_id,
                                                              OutboxMessage.kind == "notify")).all()
        purpose = f"{reason}:{department}:{len(earlier) + 1}"
    key = idempotency_key("notify", case.case_no, purpose)
    from_addr = config.from_for(mailbox or (case.fields or {}).get("mailbox"))
    draft = Draft(
        kind="notify", case_no=case.case_no, from_addr=from_addr, from_name=outbound.from_name(language),
        to_addr=inbox, to_name=outbound.department_name(department), subject=outbound.templates.subject(language, "notify.subject.txt", context),
        text=outbound.templates.render(language, "notify.txt", context), attachments=files,
        message_id=message_id_for(key, config.id_domain), date=now, loop_id=from_addr,
        auto_submitted=AUTO_GENERATED,
    )
    outbox_id, queued = enqueue(session, outbound.blobs, key=key, draft=draft, case_id=case_id, now=now,
                                register=register, fresh=fresh)
    if queued:
        log("department.notified", department=department, inbox=inbox, outbox_id=outbox_id, reason=reason,
            message_id=draft.message_id, attachments_included=len(files),
            attachments_left_out=[n.filename for n in notes if not n.included])
    return outbox_id


def _notified_department(row: OutboxMessage) -> str | None:
    """The department a notification went to, from its idempotency key ("notify:CASE:routed:DEPT[:n]",
    "remind:CASE:to:DEPT:...", "escalate:CASE:to:DEPT:...")."""
    parts = row.idempotency_key.split(":")
    return parts[3] if len(parts) >= 4 and parts[2] in ("routed", "rerouted", "to") else None


def _add_flag(session: Session, case_id: int, flag: str) -> None:
    case = session.get(Case, case_id)
    if case is not None and flag not in (case.flags or []):
        case.flags = [*(case.flags or []), flag]
        session.add(case)
        session.flush()


_DIAGNOSTIC = re.compile(r"^(?:Status|Diagnostic-Code|Action|Final-Recipient)\s*:\s*(.+)$", re.I | re.M)


def _delivery_status(raw: bytes) -> str:
    """The text of a report's message/delivery-status part (the parser keeps only the human-readable part)."""
    from email import message_from_bytes
    from email.policy import compat32

    try:
        msg = message_from_bytes(raw, policy=compat32)
        for part in msg.walk():
            if part.get_content_type() == "message/delivery-status":
                payload = part.get_payload()
                if isinstance(payload, list):  # the standard library parses it as header blocks
                    return "\n".join(f"{k}: {v}" for block in payload for k, v in block.items())
                return str(payload)
    except Exception:  # a malformed report: fall back to its text
        return ""
    return ""


def _diagnostic(body: str) -> str:
    found = [m.group(0).strip() for m in _DIAGNOSTIC.finditer(body or "")]
    if found:
        return "; ".join(dict.fromkeys(found))
    text = re.sub(r"\s+", " ", body or "").strip()
    return text[:300] or "delivery failed"
