"""Attachment names from strangers, made safe to show, to save and to hand to another system."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pathvalidate import sanitize_filename

MAX_NAME_BYTES = 200


@lru_cache(maxsize=2048)
def safe_filename(original: str | None, fallback: str = "attachment") -> str:
    """A single path component: no directories, no control characters, no reserved device names,
    at most 200 UTF-8 bytes with the extension kept.

    Remembered: mail clients reuse a few names (image001.png, scan.pdf) and pathvalidate takes some
    27 µs a name."""
    name = unicodedata.normalize("NFC", original or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip(" .")  # "..", trailing dots and spaces (Windows drops them)
    name = _truncate(name)
    name = sanitize_filename(name, platform="universal", replacement_text="_", max_len=255)  # CON → CON_
    return name or fallback


def _truncate(name: str) -> str:
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode()) > 16:
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")[:budget]
    return encoded.decode("utf-8", errors="ignore") + suffix
