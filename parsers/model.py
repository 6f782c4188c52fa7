"""The parser's output: what intake needs to know about one inbound message.

Parsers are pure: raw bytes in, a `ParsedEmail` out, no I/O. Everything downstream (threading,
classification, the register) reads this structure, never the raw MIME.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class UnparseableInput(Exception):
    """The input is not a message we can take at all (empty, not email, no usable headers).

    Raised by parsers; the pipeline quarantines the raw bytes with `reason`.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class ParsedAttachment:
    filename: str  # decoded original name (RFC 2047/2231), unsanitised; the store sanitises it
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass(slots=True)
class Complainant:
    name: str | None = None
    email: str | None = None  # lower-cased address
    phones: list[str] = field(default_factory=list)  # normalised, e.g. "+8613812345678", "+86-10-12345678"
    address: str | None = None  # postal address when the text gives one

    @property
    def phone(self) -> str | None:
        return self.phones[0] if self.phones else None

    @property
    def anonymous(self) -> bool:
        return not (self.name or self.email or self.phones or self.address)


@dataclass(slots=True)
class ParsedEmail:
    message_id: str | None  # without angle brackets
    in_reply_to: str | None  # without angle brackets
    references: list[str]  # without angle brackets, oldest first
    subject: str
    from_name: str | None
    from_addr: str | None  # lower-cased
    to: list[str]
    cc: list[str]
    date: datetime | None  # timezone-aware (UTC) when the header was parseable
    body_text: str  # the whole readable text (HTML converted when there is no text part)
    description: str  # body_text without quoted history and signature: what the complainant wrote now
    language: str  # "zh" or "en"
    complainant: Complainant
    attachments: list[ParsedAttachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased name -> decoded value (first one)
    forwarded: bool = False  # the complaint came inside a forwarded message/rfc822
    forwarded_by: str | None = None  # address of whoever forwarded it
    is_bounce: bool = False  # multipart/report; report-type=delivery-status
    bounce_message_id: str | None = None  # Message-ID of our message that bounced, when present
    defects: list[str] = field(default_factory=list)  # human-readable notes about what was repaired
