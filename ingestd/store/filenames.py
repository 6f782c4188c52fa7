"""Attachment names from strangers, made safe to show, to save and to hand to another system."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pathvalidate import sanitize_filename

MAX_NAME_BYTES = 200


def safe_filename(original: str | None, fallback: str = "attachment") -> str:
    """A single path component: no directories, no control characters, no reserved device names,
    at most 200 UTF-8 bytes with the extension kept.

    Remembered: mail clients reuse a few names (image001.png, scan.pdf) and pathvalidate takes some
    27 µs a name. Names of ordinary length only: a stranger's megabyte-long name is not kept."""
    if original is not None and len(original) > REMEMBERED_NAME_CHARS:
        return _safe_filename(original, fallback)
    return _remembered_safe_filename(original, fallback)


REMEMBERED_NAME_CHARS = 1000


def _safe_filename(original: str | None, fallback: str) -> str:
    name = unicodedata.normalize("NFC", original or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip(" .")  # "..", trailing dots and spaces (Windows drops them)
    name = _truncate(name)
    name = sanitize_filename(name, platform="universal", replacement_text="_", max_len=255)  # CON → CON_
    return name or fallback


_remembered_safe_filename = lru_cache(maxsize=2048)(_safe_filename)


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
