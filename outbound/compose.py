"""Building outgoing messages safely.

Every header goes through `email.message.EmailMessage` and `email.headerregistry`, never through string
concatenation. Text that comes from outside (a complaint's subject, a complainant's name, a file name)
is flattened to one line first (a file name is also cut to its last path component), and the policy refuses
any header value that still holds CR or LF, so nothing a complainant writes can add a header (`Bcc:`) or end
the header block.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from ingestd.config.outbound import check_address
from ingestd.store.filenames import safe_filename
from ingestd.store.types import json_text

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


_DRAFT_FIELDS = tuple(f.name for f in dataclasses.fields(Draft) if f.name != "attachments")  # what a stored draft holds


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
        # the name as the store keeps it (one path component, no device names): the department's mail client
        # or ticket system may save the file under it
        msg.add_attachment(att.data, maintype=maintype, subtype=subtype,
                           filename=one_line(safe_filename(att.filename), 200) or "attachment")
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=POLICY)


# -- the outbox stores drafts ---------------------------------------------------------------------------
# Building MIME (the standard library's header folding above all) costs ~10 ms a message: more than taking the
# complaint in. So the outbox keeps the draft (JSON, attachments by digest in the blob store) and the sender
# builds the message when it delivers it, outside the intake transaction. The Message-ID is in the draft, so the
# message is the same whenever it is built. `check` runs every validation `build` would, at queue time.
DRAFT_MAGIC = b'{"ingestd_draft": 1'


def check(draft: Draft) -> None:
    """Raise ValueError now for what would make `build` fail later (addresses, Message-ID)."""
    for address in (draft.from_addr, draft.to_addr, draft.loop_id):
        check_address(address)
    _own_id(draft.message_id)


def draft_json(draft: Draft, put_blob: Callable[[bytes], str]) -> bytes:
    attachments = [{"filename": a.filename, "content_type": a.content_type, "sha256": put_blob(a.data)}
                   for a in draft.attachments]
    fields = {name: getattr(draft, name) for name in _DRAFT_FIELDS}
    fields["date"] = draft.date.isoformat()
    fields["attachments"] = attachments
    return DRAFT_MAGIC + b"," + json_text(fields, ensure_ascii=False, separators=(",", ":"))[1:].encode("utf-8")


def draft_attachments(stored: bytes) -> list[str]:
    """The blob digests a stored draft names (none for a message stored as MIME)."""
    if not stored.startswith(DRAFT_MAGIC):
        return []
    return [a["sha256"] for a in json.loads(stored)["attachments"]]


def message_bytes(stored: bytes, read_blob: Callable[[str], bytes]) -> bytes:
    """What the outbox holds → the RFC 5322 message: a draft is built now; older rows hold MIME already."""
    if not stored.startswith(DRAFT_MAGIC):
        return stored
    fields = json.loads(stored)
    fields.pop("ingestd_draft")
    attachments = [OutAttachment(a["filename"], a["content_type"], read_blob(a["sha256"]))
                   for a in fields.pop("attachments")]
    fields["date"] = datetime.fromisoformat(fields["date"])
    return to_bytes(build(Draft(**fields, attachments=attachments)))


def _address(name: str, addr: str) -> Address:
    local, _, domain = check_address(addr).partition("@")
    return Address(display_name=one_line(name, 120), username=local, domain=domain)


def _own_id(value: str) -> str:
    if not _MSGID_OK.match(value):
        raise ValueError(f"not a message id: {value!r}")
    return value
