"""Parsers: raw input → structured facts, with no I/O. Email now; scanned letters beside it."""

from parsers.mime import parse_email
from parsers.model import Complainant, ParsedAttachment, ParsedEmail, UnparseableInput

__all__ = ["Complainant", "ParsedAttachment", "ParsedEmail", "UnparseableInput", "parse_email"]
