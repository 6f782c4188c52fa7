"""Turning bytes from strangers into text: declared, mislabelled, unknown and missing charsets.

Chinese mail routinely declares `gb2312` while sending GBK or GB18030 bytes (characters such as 镕 or 珺
are outside GB2312), and some clients invent labels (`iso-gb2312`, `x-unknown`, `utf-8-purple`). We
decode with the smallest superset of the declared charset, fall back to detection only when the
declared one fails, and never raise.
"""

from __future__ import annotations

import codecs
import re
from email.header import Header, decode_header

from charset_normalizer import from_bytes

# declared label → the codec that decodes everything senders really send under that label
SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "euc-cn": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
    "iso-gb2312": "gb18030", "gb_2312-80": "gb18030", "x-euc-cn": "gb18030", "chinese": "gb18030",
    "big5": "big5hkscs", "x-big5": "big5hkscs", "big5-hkscs": "big5hkscs", "cn-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "shift_jis": "cp932", "x-sjis": "cp932", "sjis": "cp932",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "utf-8", "ascii": "utf-8",
    "iso-8859-8-i": "iso-8859-8", "unicode-1-1-utf-7": "utf-7", "utf8": "utf-8", "x-unknown": "",
    "unknown-8bit": "", "unknown": "", "default": "", "x-user-defined": "",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # a raw 8-bit byte the stdlib parser kept as a lone surrogate


def has_raw_bytes(text: str) -> bool:
    """Whether `text` holds undecoded 8-bit bytes (surrogateescape), found in C: a character-by-character
    test in Python cost a twentieth of parsing a message (ten headers each, every character tested)."""
    return _ESCAPED_BYTE.search(text) is not None


def codec_for(label: str | None) -> str | None:
    """The Python codec to use for a declared label, or None when the label names nothing we know."""
    if not label:
        return None
    name = re.sub(r"[^a-z0-9_\-.:]", "", label.lower())  # damaged labels: quotes, NUL, spaces
    if not name:
        return None
    if name in SUPERSETS:
        return SUPERSETS[name] or None
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        base = re.sub(r"[^a-z0-9]+$", "", name.split("-purple")[0])
        for candidate in (base, name.replace("_", "-"), name.replace("x-", "")):
            if candidate in SUPERSETS:
                return SUPERSETS[candidate] or None
            try:
                return codecs.lookup(candidate).name
            except (LookupError, ValueError):
                continue
    return None


def decode_bytes(data: bytes, declared: str | None, defects: list[str] | None = None) -> str:
    """Decode a body or header part; note in `defects` what had to be guessed or repaired."""
    if not data:
        return ""
    codec = codec_for(declared)
    if codec:
        if codec != (declared or "").lower() and codec == "gb18030" and defects is not None \
                and not _decodes(data, "gb2312") and _decodes(data, "gb18030"):
            defects.append(f"charset {declared} decoded as gb18030")
        if _decodes(data, codec):
            return clean(data.decode(codec))
    elif declared and defects is not None:
        defects.append(f"unknown charset {declared!r}")
    for fallback in ("utf-8",):
        if _decodes(data, fallback):
            return clean(data.decode(fallback))
    guess = detect(data)
    if defects is not None:
        defects.append(f"charset {declared or 'missing'}: detected {guess}")
    return clean(data.decode(guess, errors="replace"))


def detect(data: bytes) -> str:
    if _looks_gb(data):
        return "gb18030"
    best = from_bytes(data[:20000]).best()
    if best is None:
        return "utf-8"
    return codec_for(best.encoding) or "utf-8"


def _looks_gb(data: bytes) -> bool:
    """Chinese mail without a label is most often GB18030; accept it when it decodes cleanly and
    yields mostly CJK characters."""
    if not _decodes(data, "gb18030"):
        return False
    text = data.decode("gb18030")
    high = [ch for ch in text if ord(ch) > 0x7F]
    if not high:
        return False
    cjk = sum(1 for ch in high if "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef")
    return cjk / len(high) > 0.9


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def clean(text: str) -> str:
    """No NUL or other control characters in stored text (PostgreSQL refuses NUL)."""
    return _CONTROL.sub("", text) if _CONTROL.search(text) else text


def decode_header_value(value: object, defects: list[str] | None = None) -> str:
    """RFC 2047 encoded-words with charset repair; raw 8-bit headers decoded as UTF-8, then GB18030."""
    if value is None:
        return ""
    if isinstance(value, Header):  # compat32 hands 8-bit headers over as Header(…, "unknown-8bit")
        return clean(_unfold("".join(
            decode_bytes(chunk, charset, defects) if isinstance(chunk, bytes) else chunk
            for chunk, charset in decode_header(value)))).strip()
    if not isinstance(value, str):
        value = str(value)
    if has_raw_bytes(value):
        raw = value.encode("utf-8", "surrogateescape")
        value = decode_bytes(raw, None, defects)
    try:
        parts = decode_header(value)
    except Exception:  # a malformed encoded-word: keep the literal text
        return clean(_unfold(value))
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset or "utf-8", defects))
        else:
            out.append(chunk)
    joined = "".join(out)
    return clean(_unfold(joined)).strip()


def _unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]*", " ", text)
