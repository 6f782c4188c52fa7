"""What moves through the intake pipeline, and how a stage says an input cannot be taken."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

from parsers.model import ParsedEmail

Channel = Literal["email", "letter"]


@dataclass(slots=True)
class RawInput:
    """One input as a source hands it over: bytes plus where they came from."""

    data: bytes
    source: str  # source id: "folder:drop", "file", "stdin", "imap:desk/INBOX"
    source_ref: str = ""  # where inside the source: a path, "UIDVALIDITY:UID", an mbox index
    channel: Channel = "email"
    mailbox: str | None = None  # the mailbox or folder name routing may look at
    extra: dict[str, Any] = field(default_factory=dict)  # source-specific facts (OCR text, scan metadata)
    _sha256: str | None = None

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = hashlib.sha256(self.data).hexdigest()
        return self._sha256


class Quarantine(Exception):
    """Raised by a stage: park this input with `reason`.

    kind "unreadable": the input itself is bad and will not get better by retrying;
    kind "failed": a bug or an outage; `quarantine retry` puts it back.
    """

    def __init__(self, reason: str, *, kind: str = "unreadable") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass(slots=True)
class Classification:
    department: str
    category: str | None = None
    grade: str | None = None
    flags: list[str] = field(default_factory=list)
    rule_hits: list[dict[str, Any]] = field(default_factory=list)
    decided_by: str = "default"


@dataclass(slots=True)
class ThreadMatch:
    case_id: int
    case_no: str
    how: str  # "bounce", "message-id", "in-reply-to", "references", "subject"


@dataclass(slots=True)
class Parsed:
    raw: RawInput
    email: ParsedEmail
    demands: str = ""
    repeat_complainant: bool = False  # set before classify when the register knows an earlier case of theirs
    attachment_digests: list[str] | None = None  # set when a worker has already put the attachments in the store
    attachment_sizes: list[int] | None = None  # set when the attachment contents were left in the store
    attachment_names: list[str] | None = None  # safe file names, made by the worker (pathvalidate is not cheap)


OutcomeStatus = Literal["created", "threaded", "duplicate", "quarantined"]


@dataclass(slots=True)
class Outcome:
    status: OutcomeStatus
    source: str
    source_ref: str
    sha256: str
    case_no: str | None = None
    reason: str | None = None
    stage: str | None = None

