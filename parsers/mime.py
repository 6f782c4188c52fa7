"""Raw RFC 5322 bytes → `ParsedEmail`, for mail as it really arrives.

The standard library's compat32 parser is the base because it never gives up on broken MIME (missing
boundaries, lying charsets, 8-bit headers); charsets are decoded by `parsers.charsets`, which knows the
Chinese mislabellings. mail-parser's date parser reads the dates the standard library refuses.
Everything here is pure: no I/O, and no exception escapes but `UnparseableInput`.
"""

from __future__ import annotations

import binascii
import contextlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import Header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

import pybase64

from parsers import boundaries
from parsers.charsets import clean, decode_bytes, decode_header_value, has_raw_bytes
from parsers.contacts import clean_display_name, extract_contacts
from parsers.html import html_to_text
from parsers.model import ParsedAttachment, ParsedEmail, UnparseableInput
from parsers.quotes import split_inline_forward, strip_quotes

boundaries.install()  # multipart boundaries matched without a regex compiled for each (see there)

_MAGIC = {
    b"%PDF": "a PDF document", b"\x89PNG": "a PNG image", b"PK\x03\x04": "a ZIP/Office file",
    b"GIF8": "a GIF image", b"\xff\xd8\xff": "a JPEG image", b"\xd0\xcf\x11\xe0": "an OLE file (Outlook .msg?)",
    b"II*\x00": "a TIFF image", b"MM\x00*": "a TIFF image", b"\x1f\x8b": "a gzip archive", b"7z\xbc\xaf": "a 7z archive",
}
_FIELD = re.compile(rb"^([!-9;-~]{1,76})[ \t]*:", re.M)
_KNOWN_FIELDS = {b"from", b"to", b"subject", b"date", b"message-id", b"received", b"mime-version", b"content-type",
                 b"return-path", b"delivered-to", b"reply-to", b"cc", b"sender", b"x-mailer", b"in-reply-to",
                 b"references", b"dkim-signature", b"x-original-to", b"envelope-to", b"content-transfer-encoding",
                 b"thread-topic", b"x-received", b"authentication-results", b"arc-seal", b"user-agent"}
_MSGID = re.compile(r"<([^<>\s]+)>")
_FWD_SUBJECT = re.compile(r"^\s*((fwd?|fw|转发|轉寄|转)\s*[:：]\s*)+", re.I)
_CJK = re.compile(r"[\u4e00-\u9fff]")


LIFT_OVER_BYTES = 32 * 1024  # messages bigger than this have their base64 bodies of LIFT_MIN_BODY or more decoded aside
LIFT_MIN_BODY = 16 * 1024
_CTE = b"content-transfer-encoding:"
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_NOT_BASE64 = bytes(b for b in range(256) if b not in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_TOKEN = "ingestd-lifted-body-"


@dataclass
class _Walk:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[ParsedAttachment] = field(default_factory=list)
    inner: list[Message] = field(default_factory=list)  # attached message/rfc822 (forwards, bounces)
    returned_headers: list[Message] = field(default_factory=list)  # text/rfc822-headers of a bounce
    defects: list[str] = field(default_factory=list)
    lifted: _Lifted = field(default_factory=lambda: _Lifted())  # placeholder → decoded body (big attachments)


class _Lifted(dict[str, bytearray]):
    """Placeholder → decoded body, and whether each placeholder was met as a whole part's body."""

    def __init__(self) -> None:
        super().__init__()
        self.used: set[str] = set()
        self.stray = False  # a placeholder inside a larger text: what was lifted was not a part of its own

    def all_in_place(self) -> bool:
        return not self.stray and len(self.used) == len(self)


def parse_email(raw: bytes, *, max_attachment_bytes: int | None = None) -> ParsedEmail:
    parsed = _parse(raw, max_attachment_bytes, lift=True)
    if isinstance(parsed, ParsedEmail):
        return parsed
    return _parse(raw, max_attachment_bytes, lift=False)  # type: ignore[return-value]


def _parse(raw: bytes, max_attachment_bytes: int | None, *, lift: bool) -> ParsedEmail | None:
    """None when a lifted body turned out not to be a part of its own: the caller parses again without."""
    data = _precheck(raw)
    lifted = _Lifted()
    if lift and len(data) > LIFT_OVER_BYTES:
        data, lifted = _lift_large_bodies(data)
    try:
        msg = message_from_bytes(data, policy=compat32)
    except RecursionError:  # thousands of nested multiparts: the parser recurses once per level
        raise UnparseableInput("MIME structure nested too deeply") from None
    except Exception as exc:  # compat32 practically never raises; if it does, the input is not mail
        raise UnparseableInput(f"not an email: {type(exc).__name__}: {exc}") from None
    del data
    try:
        parsed = _build(msg, max_attachment_bytes, lifted)
        return parsed if not lifted or lifted.all_in_place() else None
    except UnparseableInput:
        if lifted and not lifted.all_in_place():
            return None
        raise
    except RecursionError:
        raise UnparseableInput("MIME structure nested too deeply") from None
    except Exception as exc:  # damage we have not met yet: park it with the reason, never crash intake
        raise UnparseableInput(f"unreadable MIME structure ({type(exc).__name__}: {exc})") from exc


def _precheck(raw: bytes) -> bytes:
    if not raw or not raw.strip():
        raise UnparseableInput("empty input")
    data = raw
    if data.startswith(b"From ") and b"\n" in data[:1000]:  # an mbox separator line
        data = data.split(b"\n", 1)[1]
    data = data.lstrip(b"\r\n\t ")
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise UnparseableInput(f"not an email: the file is {what}")
    head = re.split(rb"\r?\n\r?\n", data[:65536], maxsplit=1)[0]
    names = {m.group(1).lower() for m in _FIELD.finditer(head)}
    if not names & _KNOWN_FIELDS and not any(n.startswith(b"x-") for n in names):
        raise UnparseableInput("not an email: no mail header fields (From, To, Subject, Date, ...) at the start")
    if head[:200].count(b"\x00") > 10:
        raise UnparseableInput("not an email: binary data")
    return data


def _lift_large_bodies(data: bytes, min_size: int = LIFT_MIN_BODY) -> tuple[bytes, _Lifted]:
    """Take base64 bodies out of the message before MIME parsing, decoding them in C.

    The standard parser reads a body line by line in Python (measured: 4.5 ms for a message with a 120 KB
    attachment, against 0.5 ms for one without), and holds a large body as text, then as bytes, then decoded:
    several copies of a 25 MB attachment. Here the raw bytes are read once and only the decoded body is kept;
    the parser sees a one-line placeholder in its place. Only the body of a leaf part whose whole header block
    is well formed is lifted (`_leaf_body_start`); if a placeholder still turns up anywhere but as a part's
    whole body, `parse_email` parses the message again without lifting.
    """
    pieces: list[bytes] = []
    lifted = _Lifted()
    lowered = data.lower()  # one pass in C; the header name is then found at memchr speed
    pos = 0
    at = lowered.find(_CTE)
    while at != -1:
        line_end = lowered.find(b"\n", at)
        if line_end == -1:
            break
        if at >= pos and (at == 0 or data[at - 1] == 10) and lowered[at + len(_CTE):line_end].strip() == b"base64":
            body_start = _leaf_body_start(data, lowered, at, line_end)
            if body_start is not None:
                body_end = data.find(b"\n--", body_start)
                body_end = len(data) if body_end == -1 else body_end + 1
                if body_end - body_start >= min_size:
                    token = f"{_TOKEN}{len(lifted)}"
                    lifted[token] = _decode_base64_slices(data, body_start, body_end)
                    pieces += [data[pos:body_start], token.encode() + b"\n"]
                    pos = body_end
        at = lowered.find(_CTE, line_end)
    if not lifted:
        return data, lifted
    pieces.append(data[pos:])
    return b"".join(pieces), lifted


_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:|[ \t]")  # a field, or the continuation of one
_CONTAINER = re.compile(rb"(?m)^content-type:[ \t]*(multipart|message)/")


def _leaf_body_start(data: bytes, lowered: bytes, at: int, line_end: int, most: int = 100) -> int | None:
    """Where the body starts of the part whose header block holds the line at `at`, if that block opens the
    message or follows a boundary line, holds only header lines up to a blank line, and is not a multipart
    or message part (whose "body" is more parts). None otherwise."""
    start = at
    for _ in range(most):  # back to the boundary line (or the start of the message)
        if start == 0:
            break
        previous = data.rfind(b"\n", 0, start - 1) + 1
        line = data[previous:start - 1].rstrip(b"\r")
        if line.startswith(b"--"):
            break
        if not line or not _HEADER_LINE.match(line):
            return None
        start = previous
    else:
        return None
    end = line_end + 1
    for _ in range(most):  # on to the blank line that ends the header block
        next_end = data.find(b"\n", end)
        line = data[end:len(data) if next_end == -1 else next_end].rstrip(b"\r")
        if not line:
            if _CONTAINER.search(lowered, start, end):
                return None
            return len(data) if next_end == -1 else next_end + 1
        if next_end == -1 or line.startswith(b"--") or not _HEADER_LINE.match(line):
            return None
        end = next_end + 1
    return None


def _decode_base64_slices(data: bytes, start: int, end: int, step: int = 1 << 20) -> bytearray:
    out = bytearray((end - start) * 3 // 4 + 3)  # sized once: growing it would copy it again and again
    filled = 0
    carry = b""
    while start < end:
        stop = min(start + step, end)
        chunk = carry + data[start:stop].translate(None, _NOT_BASE64)
        usable = len(chunk) - len(chunk) % 4
        with contextlib.suppress(binascii.Error):  # a damaged slice: keep what decodes, as mail clients do
            decoded = _decode_clean_base64(chunk[:usable])
            out[filled:filled + len(decoded)] = decoded
            filled += len(decoded)
        carry = chunk[usable:]
        start = stop
    if carry:  # unpadded: as the standard library does, pad it and keep what decodes
        with contextlib.suppress(binascii.Error):
            decoded = binascii.a2b_base64(carry + b"=" * (-len(carry) % 4))
            out[filled:filled + len(decoded)] = decoded
            filled += len(decoded)
    del out[filled:]
    return out  # a bytearray: copying 25 MB into bytes would double the peak


def _decode_clean_base64(chunk: bytes) -> bytes:
    """Well-formed base64 (padding only at its end) by pybase64's SIMD decoder, which gives the same bytes
    about 50 times faster than binascii (0.78 → 0.013 ms for a 150 KB attachment; decoding attachments was an
    eighth of a parse worker's time); anything else as before, by binascii, which keeps what it can."""
    try:
        return pybase64.b64decode(chunk, validate=True)
    except binascii.Error:
        return binascii.a2b_base64(chunk)


def _build(msg: Message, max_attachment_bytes: int | None, lifted: _Lifted | None = None) -> ParsedEmail:
    defects: list[str] = [type(d).__name__ for d in msg.defects]
    headers = _headers(msg, defects)
    walk = _Walk(lifted=lifted if lifted is not None else _Lifted())
    _walk(msg, walk, max_attachment_bytes, depth=0)
    defects.extend(walk.defects)

    subject = headers.get("subject", "")
    from_name, from_addr = _first_address(msg.get_all("from", []), defects)
    body_text = _body(walk)
    forwarded, forwarded_by = False, None
    inner_subject: str | None = None
    sender_name, sender_addr = from_name, from_addr
    description_source = body_text

    is_bounce = msg.get_content_type() == "multipart/report" and \
        (msg.get_param("report-type") or "").lower() == "delivery-status"
    forward = None if is_bounce else _attached_forward(walk, body_text)
    if forward is not None:
        inner = _build(forward, max_attachment_bytes, walk.lifted)
        forwarded, forwarded_by = True, from_addr
        sender_name, sender_addr = inner.from_name, inner.from_addr
        inner_subject = inner.subject
        description_source = inner.description or inner.body_text
        body_text = (body_text + "\n\n" if body_text else "") + inner.body_text
        walk.attachments.extend(a for a in inner.attachments if a not in walk.attachments)
    else:
        inline = split_inline_forward(body_text)
        if inline is not None and len(strip_quotes(inline.intro)) < 120 and inline.headers.get("from"):
            forwarded, forwarded_by = True, from_addr
            sender_name, sender_addr = _first_address([inline.headers["from"]], defects)
            inner_subject = inline.headers.get("subject")
            description_source = inline.body

    if forwarded and inner_subject and (not subject or _FWD_SUBJECT.match(subject)):
        subject = inner_subject
    description = strip_quotes(description_source) or description_source.strip()
    contact_text = description_source if forwarded else body_text
    complainant = extract_contacts(contact_text, name=sender_name, email=sender_addr)
    bounce_id = _bounce_message_id(walk) if is_bounce else None

    return ParsedEmail(
        message_id=_one_id(msg.get("message-id")),
        in_reply_to=_one_id(msg.get("in-reply-to")),
        references=_ids(msg.get("references")),
        subject=clean(subject)[:2000],
        from_name=clean_display_name(from_name),
        from_addr=from_addr,
        to=[a for _, a in _addresses(msg.get_all("to", []), defects) if a],
        cc=[a for _, a in _addresses(msg.get_all("cc", []), defects) if a],
        date=_date(msg.get("date")),
        body_text=body_text,
        description=description,
        language=_language(subject + "\n" + description),
        complainant=complainant,
        attachments=walk.attachments,
        headers=headers,
        forwarded=forwarded,
        forwarded_by=forwarded_by,
        is_bounce=is_bounce,
        bounce_message_id=bounce_id,
        defects=list(dict.fromkeys(defects)),
    )


# -- headers ----------------------------------------------------------------------------------------------
def _headers(msg: Message, defects: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in msg.items():
        key = name.lower()
        if key not in out:
            out[key] = decode_header_value(value, defects)[:4000]
    return out


def _addresses(values: list[str], defects: list[str]) -> list[tuple[str | None, str | None]]:
    result: list[tuple[str | None, str | None]] = []
    raw = [_as_text(v) for v in values]
    try:
        pairs = getaddresses(raw)
    except Exception:
        defects.append("unparseable address header")
        pairs = []
    for name, addr in pairs:
        addr = addr.strip().strip("<>").lower()
        valid = bool(re.fullmatch(r"[^@\s]+@[^@\s]+", addr))
        result.append((decode_header_value(name, defects) or None, addr if valid else None))
    if not any(a for _, a in result):
        found = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", " ".join(raw))
        if found:
            result.append((None, found[0].lower()))
    return result


def _first_address(values: list[str], defects: list[str]) -> tuple[str | None, str | None]:
    for name, addr in _addresses(values, defects):
        if addr or name:
            return name, addr
    return None, None


def _as_text(value: object) -> str:
    if isinstance(value, Header):
        return decode_header_value(value)
    if isinstance(value, str):
        if has_raw_bytes(value):
            return decode_header_value(value)
        return value
    return str(value)


def _one_id(value: object) -> str | None:
    ids = _ids(value)
    if ids:
        return ids[0]
    text = _as_text(value).strip() if value else ""
    return text[:500] or None


def _ids(value: object) -> list[str]:
    if not value:
        return []
    return [m[:500] for m in _MSGID.findall(_as_text(value))]


def _date(value: object) -> datetime | None:
    if not value:
        return None
    text = _as_text(value).strip()
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            from mailparser.utils import convert_mail_date

            when = convert_mail_date(text)[0]
        except Exception:
            return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# -- body and parts ---------------------------------------------------------------------------------------
def _walk(part: Message, walk: _Walk, limit: int | None, depth: int) -> None:
    if depth > 40:
        walk.defects.append("MIME nesting over 40 levels: rest ignored")
        return
    ctype = part.get_content_type()
    payload = _raw_payload(part)
    if part.is_multipart() and isinstance(payload, list):
        if ctype == "message/rfc822" or ctype == "message/global":
            for inner in payload:
                if isinstance(inner, Message):
                    walk.inner.append(inner)
            return
        for sub in payload:
            if isinstance(sub, Message):
                _walk(sub, walk, limit, depth + 1)
        return
    filename = _filename(part, walk.defects)
    disposition = _as_text(part.get("content-disposition") or "").split(";")[0].strip().lower()
    if ctype == "text/rfc822-headers":
        data = part.get_payload(decode=True) or b""
        walk.returned_headers.append(message_from_bytes(data, policy=compat32))
        return
    if ctype.startswith("multipart/"):  # declared multipart but no usable boundary: keep the text
        walk.defects.append(f"{ctype} without usable parts")
        text = decode_bytes(_payload_bytes(part, walk.lifted), part.get_content_charset(), walk.defects)
        if text.strip():
            walk.plain.append(_strip_mime_noise(text))
        return
    is_text = ctype in ("text/plain", "text/html") or (ctype.startswith("text/") and not filename)
    if is_text and disposition != "attachment" and not filename:
        text = decode_bytes(_payload_bytes(part, walk.lifted), part.get_content_charset(), walk.defects)
        (walk.html if ctype == "text/html" else walk.plain).append(text)
        return
    if ctype in ("message/delivery-status",):
        return
    data = _payload_bytes(part, walk.lifted)
    if limit is not None and len(data) > limit:
        raise UnparseableInput(f"attachment {filename or ctype!r} is {len(data):,} bytes, over the limit of "
                               f"{limit:,} (limits.max_attachment_bytes)")
    if not data and not filename:
        return
    walk.attachments.append(ParsedAttachment(
        filename=filename or _default_name(ctype, len(walk.attachments) + 1),
        content_type=ctype,
        data=data,
        content_id=_as_text(part.get("content-id") or "").strip("<> ")[:300] or None,
        inline=disposition == "inline" or (not filename and bool(part.get("content-id"))),
    ))


def _raw_payload(part: Message) -> object:
    """The payload as the parser stored it; the standard library's decoding of it can raise on a
    damaged charset label, so fall back to what it holds internally."""
    try:
        return part.get_payload()
    except (ValueError, LookupError, TypeError):
        return part._payload  # the only way to the undecoded payload


def _payload_bytes(part: Message, lifted: _Lifted) -> bytes:
    raw = _raw_payload(part)
    if lifted and isinstance(raw, str):
        token = raw.strip()
        if token in lifted:
            lifted.used.add(token)
            return lifted[token]
        if _TOKEN in raw:
            lifted.stray = True  # lifted from inside a text (a message quoted in a bounce): parsed again
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _strip_mime_noise(text: str) -> str:
    lines = [line for line in text.splitlines()
             if not re.match(r"^(--[\w'()+,\-./:=?]{6,}|Content-[\w-]+:.*)$", line.strip())]
    return "\n".join(lines)


def _filename(part: Message, defects: list[str]) -> str | None:
    try:
        name = part.get_filename() or part.get_param("name")
    except Exception:
        name = None
    if isinstance(name, tuple):  # an RFC 2231 value compat32 could not decode
        charset, _, value = name
        name = decode_bytes(value.encode("latin-1", "replace") if isinstance(value, str) else value,
                            charset, defects)
    if not name:
        return None
    if "=?" in name:
        return decode_header_value(name, defects) or None
    if has_raw_bytes(name):
        return decode_bytes(name.encode("utf-8", "surrogateescape"), None, defects)
    return clean(name).strip() or None


def _default_name(ctype: str, n: int) -> str:
    ext = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "application/pdf": ".pdf",
           "message/rfc822": ".eml", "application/pkcs7-mime": ".p7m", "application/pkcs7-signature": ".p7s",
           "text/calendar": ".ics"}.get(ctype, ".bin")
    return f"part-{n}{ext}"


def _body(walk: _Walk) -> str:
    if any(t.strip() for t in walk.plain):
        text = "\n\n".join(t.strip("\n") for t in walk.plain if t.strip())
    elif walk.html:
        text = "\n\n".join(html_to_text(h) for h in walk.html)
    else:
        text = ""
    return clean(text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _attached_forward(walk: _Walk, outer_text: str) -> Message | None:
    """An attached message is the complaint itself when the outer message says little of its own."""
    if not walk.inner:
        return None
    inner = walk.inner[0]
    if not inner.get("from"):
        return None
    outer_own = strip_quotes(outer_text)
    return inner if len(outer_own) < 300 else None


def _bounce_message_id(walk: _Walk) -> str | None:
    for returned in walk.inner + walk.returned_headers:
        found = _one_id(returned.get("message-id"))
        if found:
            return found
    return None


def _language(text: str) -> str:
    """Chinese when at least 4 Han characters make at least a tenth of the letters. The letters are counted
    only when the text is long enough for the tenth to matter (a count in Python, a thirtieth of a parse)."""
    cjk = len(_CJK.findall(text))
    if cjk < 4:
        return "en"
    if len(text) <= 10 * cjk:  # letters <= len(text): a tenth of them is no more than cjk
        return "zh"
    return "zh" if cjk >= 0.1 * sum(map(str.isalpha, text)) else "en"
