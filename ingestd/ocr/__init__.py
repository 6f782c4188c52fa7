"""OCR for scanned letters: documents → pages → lines with confidences. Runs in the OCR worker process."""

from ingestd.ocr.documents import Document, PageInput, UnreadableScan, sniff
from ingestd.ocr.reader import read_pages

__all__ = ["Document", "PageInput", "UnreadableScan", "read_pages", "sniff"]
