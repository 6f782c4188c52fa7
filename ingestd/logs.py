"""Logging with loguru: every line about an input names its case number or source id, and personal
data (email addresses, phone numbers) is masked before anything is written."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from loguru import logger

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9\-]+\.)+[A-Za-z]{2,}")
# Not inside a longer ASCII token (an order number, a case number `TS-202611-00001`), but found right against
# Chinese text (`电话13800138000`, `张伟13800138000.jpg`, `王芳-13912345678.pdf`): `\w` would be Unicode.
_PHONE = re.compile(r"(?<![A-Za-z0-9_])(?<![A-Za-z0-9_]-)(\+?\d[\d \-()]{5,}\d)(?![A-Za-z0-9_])(?!-[A-Za-z0-9_])")


def mask(text: str) -> str:
    """`zhang.wei@example.com` → `z***@***`, `13812345678` → `138****5678`-style (last four kept)."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@***", text)
    return _PHONE.sub(_mask_phone, text)


_DATE_LIKE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$")


def _mask_phone(m: re.Match[str]) -> str:
    if _DATE_LIKE.match(m.group(1)):
        return m.group(0)
    digits = re.sub(r"\D", "", m.group(1))
    if len(digits) < 7:
        return m.group(0)
    return "*" * (len(digits) - 4) + digits[-4:]


def _ctx(record: dict[str, Any]) -> str:
    extra = record["extra"]
    for key in ("case", "source"):
        if extra.get(key):
            return f"[{extra[key]}] "
    return ""


def _patcher(masking: bool):  # type: ignore[no-untyped-def]
    def patch(record: dict[str, Any]) -> None:
        if masking:  # `source` too: it carries file names and paths, which may be a complainant's name and phone
            record["message"] = mask(record["message"])
            for key, value in list(record["extra"].items()):
                if isinstance(value, str) and key not in ("ctx", "case"):
                    record["extra"][key] = mask(value)
        record["extra"]["ctx"] = _ctx(record)  # after masking: the readable line shows it

    return patch


READABLE = "<green>{time:YYYY-MM-DD HH:mm:ss}</green> <level>{level: <7}</level> {extra[ctx]}{message}"


def setup(level: str = "INFO", *, json_lines: bool = False, file: Path | None = None,
          mask_personal_data: bool = True) -> None:
    logger.remove()
    logger.configure(patcher=_patcher(mask_personal_data), extra={"ctx": ""})
    logger.add(sys.stderr, level=level, serialize=json_lines, format=READABLE, colorize=None,
               backtrace=False, diagnose=False)
    if file:
        file.parent.mkdir(parents=True, exist_ok=True)
        logger.add(file, level=level, serialize=True, rotation="50 MB", retention=10,
                   backtrace=False, diagnose=False)
