"""parse: raw bytes → a ParsedEmail. Pure; runs in worker processes for bulk imports."""

from __future__ import annotations

from ingestd.config.model import LimitsConfig
from ingestd.pipeline.items import Parsed, Quarantine, RawInput
from parsers import UnparseableInput, parse_email
from parsers.demands import extract_demands


def parse(raw: RawInput, limits: LimitsConfig) -> Parsed:
    try:
        email = parse_email(raw.data, max_attachment_bytes=limits.max_attachment_bytes)
    except UnparseableInput as exc:
        raise Quarantine(exc.reason) from None
    return Parsed(raw=raw, email=email, demands=extract_demands(email.description or email.body_text))
