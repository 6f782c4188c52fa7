"""Building outgoing messages safely.

Every header goes through `email.message.EmailMessage` and `email.headerregistry`, never through string
concatenation. Text that comes from outside (a complaint's subject, a complainant's name, a file name)
is flattened to one line first, and the policy refuses any header value that still holds CR or LF, so
nothing a complainant writes can add a header (`Bcc:`) or end the header block.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from ingestd.config.outbound import check_address

POLICY = policy.SMTP.clone(raise_on_defect=True, max_line_length=78, cte_type="7bit")  # CRLF, all 7-bit
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_MSGID_OK = re.compile(r"^[!-;=?-~]{1,250}$")  # printable ASCII without '<', '>' or spaces
MAX_SUBJECT = 200

AUTO_REPLIED = "auto-replied"  # an answer to a message (the acknowledgement), RFC 3834
AUTO_GENERATED = "auto-generated"  # not an answer (department notifications)


def one_line(text: str | None, limit: int = 300) -> str:
    """Text fit for a header: control characters (CR, LF, tabs, NUL) become spaces, runs collapse."""
    flat = _CONTROL.sub(" ", text or "")
    flat = re.sub(r"\s{2,}", " ", flat).strip()
    return flat[:limit].rstrip()


def safe_message_id(value: str | None) -> str | None:
    """A Message-ID from an inbound message, or None when it is not a plain msg-id (no brackets, no spaces)."""
    if value and _MSGID_OK.match(value) and "@" in value:
        return value
    return None


def idempotency_key(kind: str, case_no: str, purpose: str) -> str:
    return f"{kind}:{case_no}:{purpose}"[:300]


def message_id_for(key: str, domain: str) -> str:
    """The Message-ID of the outbox row with this idempotency key: stable, so a message that is sent twice
    (a crash between the SMTP reply and the commit) can be recognised as one."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    kind = re.sub(r"[^a-z0-9]", "", key.split(":", 1)[0].lower())[:12] or "msg"
    return f"ingestd.{kind}.{digest}@{domain}"


@dataclass(slots=True)
class OutAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class Draft:
    """What an outgoing message says, before it becomes MIME."""

    kind: str  # ack | notify | reply
    case_no: str
    from_addr: str
    to_addr: str
    subject: str
    text: str
    message_id: str  # without angle brackets
    date: datetime
    loop_id: str  # our X-Loop value (the address we send from)
    from_name: str = ""
    to_name: str = ""
    html: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    auto_submitted: str | None = AUTO_REPLIED
    suppress_auto_replies: bool = True
    attachments: list[OutAttachment] = field(default_factory=list)

    @property
    def clean_subject(self) -> str:
        return one_line(self.subject, MAX_SUBJECT)


def build(draft: Draft) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _address(draft.from_name, draft.from_addr)
    msg["To"] = _address(draft.to_name, draft.to_addr)
    msg["Subject"] = draft.clean_subject
    msg["Date"] = format_datetime(draft.date)
    msg["Message-ID"] = f"<{_own_id(draft.message_id)}>"
    parent = safe_message_id(draft.in_reply_to)
    refs = [r for r in (safe_message_id(r) for r in draft.references) if r]
    if parent:
        msg["In-Reply-To"] = f"<{parent}>"
        refs = [r for r in refs if r != parent] + [parent]
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs[-10:])
    if draft.auto_submitted:
        msg["Auto-Submitted"] = draft.auto_submitted
    if draft.suppress_auto_replies:
        msg["X-Auto-Response-Suppress"] = "All"
    msg["X-Loop"] = check_address(draft.loop_id)
    msg["X-Ingestd-Case"] = one_line(draft.case_no, 64)
    msg["X-Ingestd-Kind"] = one_line(draft.kind, 16)
    msg.set_content(draft.text, subtype="plain", charset="utf-8")
    if draft.html is not None:
        msg.add_alternative(draft.html, subtype="html", charset="utf-8")
    for att in draft.attachments:
        maintype, _, subtype = (att.content_type or "application/octet-stream").partition("/")
        if maintype == "text" or not re.fullmatch(r"[\w.+-]+", maintype) or not re.fullmatch(r"[\w.+-]+", subtype):
            maintype, subtype = "application", "octet-stream"  # text parts would be re-encoded: keep the bytes
        msg.add_attachment(att.data, maintype=maintype, subtype=subtype,
                           filename=one_line(att.filename, 150) or "attachment")
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=POLICY)


def _address(name: str, addr: str) -> Address:
    local, _, domain = check_address(addr).partition("@")
    return Address(display_name=one_line(name, 120), username=local, domain=domain)


def _own_id(value: str) -> str:
    if not _MSGID_OK.match(value):
        raise ValueError(f"not a message id: {value!r}")
    return value
