"""parse: raw bytes → a ParsedEmail. Pure; runs in worker processes for bulk imports."""

from __future__ import annotations

from ingestd.config.model import LimitsConfig
from ingestd.pipeline.items import Parsed, Quarantine, RawInput
from parsers import UnparseableInput, parse_email
from parsers.demands import extract_demands


def parse(raw: RawInput, limits: LimitsConfig) -> Parsed:
    try:
        if raw.channel == "letter":  # a scanned letter: its source ran the OCR (RawInput.extra["ocr"])
            from parsers.letter import parse_letter

            email = parse_letter(raw.data, raw.extra.get("ocr") or {"error": "scan was not read (no OCR result)"},
                                 filename=raw.extra.get("filename") or raw.source_ref or "letter")
        else:
            email = parse_email(raw.data, max_attachment_bytes=limits.max_attachment_bytes)
    except UnparseableInput as exc:
        raise Quarantine(exc.reason) from None
    return Parsed(raw=raw, email=email, demands=extract_demands(email.description or email.body_text))
