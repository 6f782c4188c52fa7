"""Written complaints (scanned letters): the fields a letter gives, each with a confidence, and the
`ParsedEmail`-shaped result the pipeline records.

Pure: OCR text (and the OCR's per-line confidences) in, facts out. A field's confidence is how sure the
pattern is (a label such as 投诉人： or Phone: beats a guess from the body) times the OCR confidence of
the line it was read from. Contacts in free text come from `parsers.contacts`.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from parsers import contacts
from parsers.model import Complainant, ParsedAttachment, ParsedEmail, UnparseableInput

WRITTEN_SUBJECT = "书面投诉 / Written complaint"
CONTENT_TYPES = {"pdf": "application/pdf", "tiff": "image/tiff", "jpeg": "image/jpeg", "png": "image/png"}

_MONTHS = {m[:3].lower(): i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
     "November", "December"], start=1)}
_MONTH_RE = (r"(?P<mon>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
             r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_CN_DIGITS = {"〇": 0, "零": 0, "O": 0, "o": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_DATE_PATTERNS = [
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*(?P<sep>[年\-/.])\s*(?P<m>\d{1,2})\s*[月\-/.]\s*"
               r"(?P<d>\d{1,2})(?!\d)\s*[日号號]?"),
    re.compile(r"(?P<yc>[〇零一二三四五六七八九O]{4})\s*年\s*(?P<mc>[一二三四五六七八九十]{1,2})\s*月\s*"
               r"(?P<dc>[一二三四五六七八九十]{1,3})\s*[日号]"),
    re.compile(rf"(?<![\w])(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:of\s+)?{_MONTH_RE},?\s*"
               r"(?P<y>(?:19|20)\d{2})(?!\d)", re.I),
    re.compile(rf"(?<![A-Za-z]){_MONTH_RE}\s*(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*"
               r"(?P<y>(?:19|20)\d{2})(?!\d)", re.I),
]
_LETTER_DATE_LABEL = re.compile(r"(?:日\s*期|写信日期|落款日期|Date(?:d)?)\s*[:：]?\s*$", re.I)
_EVENT_LABEL = re.compile(r"(?:事发|发生|购买|下单|订购|办理|签收|收货|消费|交易|扣费)(?:日期|时间)\s*[:：]?\s*$|"
                          r"(?:date of (?:purchase|order|incident|delivery)|purchase date|order date|incident date)"
                          r"\s*[:：]?\s*$", re.I)
_EVENT_CONTEXT = re.compile(r"(?:于|在|自|从|是|on|placed|ordered|bought|purchased|delivered|since|購買|购买|下单|发生)"
                            r"\s*$", re.I)
_NAME_LABEL = re.compile(r"(?:投\s*诉\s*人|投訴人|姓\s*名|署\s*名|联系人|聯繫人|申请人|来信人|写信人|"
                         r"Name|Complainant|Full name|Signed)\s*[:：]\s*(?P<v>[^\n]{1,40})", re.I)
_CN_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")
_EN_NAME = re.compile(r"[A-Z][a-zA-Z'\-]+(?:\s+[A-Z][a-zA-Z'\-.]+){0,3}")
_CLOSING = re.compile(r"^\s*(?:此致|敬礼|敬禮|此致敬礼|此致\s*敬礼|顺颂商祺|谢谢|Yours\s*(?:sincerely|faithfully|truly)|"
                      r"Sincerely(?:\s*yours)?|(?:Best|Kind|With)?\s*regards|Respectfully(?:\s*yours)?)[,，.!！。]?\s*$",
                      re.I)
_PHONE_LABEL = re.compile(r"(?:联系电话|聯繫電話|电话|電話|手机号码|手机号|手机|手機|联系方式|Tel(?:ephone)?|Phone|Mobile|Cell)"
                          r"\s*(?:号码)?\s*[:：]?\s*(?P<v>[0-9OoIlSs+()（）\-\s]{7,24})", re.I)
_ORDER_LABEL = re.compile(r"(?:订单号|订单编号|订单|單號|运单号|快递单号|物流单号|单号|工单号|合同号|发票号|"
                          r"Order\s*(?:No\.?|number|#|ID)?|Tracking\s*(?:No\.?|number)|Invoice\s*(?:No\.?|number))"
                          r"\s*[:：#]?\s*(?P<v>[A-Z0-9][A-Z0-9\-]{5,31})", re.I)
_ACCOUNT_LABEL = re.compile(r"(?:账号|帐号|账户号?|帐户号?|户号|客户编号|客户号|会员号|会员卡号|卡号|用户号|"
                            r"Account\s*(?:No\.?|number|#|ID)?|Customer\s*(?:No\.?|number|ID)|"
                            r"Member(?:ship)?\s*(?:No\.?|number))"
                            r"\s*[:：#]?\s*(?P<v>[A-Z0-9][A-Z0-9\-]{4,31})", re.I)
_BARE_ORDER = re.compile(r"(?<![A-Za-z0-9])(?P<v>[A-Z]{2,4}\d{8,18})(?![A-Za-z0-9])")
_CONTINUED = re.compile(r"\n([A-Z0-9]{1,12})(?=[。，,.;；)）\s]|$)", re.I)
_SALUTATION = re.compile(r"^\s*(?:尊敬的|致|敬启者|Dear\b|To whom|To\s*:)", re.I)
_PHONE_FIX = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "S": "5", "s": "5", "（": "(", "）": ")"})


@dataclass(slots=True)
class Found:
    value: Any
    confidence: float
    how: str

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "confidence": round(self.confidence, 3), "how": self.how}


class _Text:
    """The letter's text with each character's OCR line confidence at hand."""

    def __init__(self, lines: list[tuple[str, float]]) -> None:
        self.lines = lines
        self.text = "\n".join(t for t, _ in lines)
        self.starts, pos = [], 0
        for line, _ in lines:
            self.starts.append(pos)
            pos += len(line) + 1

    def ocr(self, start: int, end: int) -> float:
        """The lowest OCR confidence of the lines spanning text[start:end]."""
        if not self.lines:
            return 1.0
        first = max(bisect.bisect_right(self.starts, start) - 1, 0)
        last = max(bisect.bisect_right(self.starts, max(end - 1, start)) - 1, 0)
        return min(conf for _, conf in self.lines[first:last + 1])

    def line_at(self, pos: int) -> int:
        return max(bisect.bisect_right(self.starts, pos) - 1, 0)


def find_dates(text: str) -> list[tuple[str, int, int]]:
    """Every date in the text as (ISO date, start, end), in order; OCR's "April7,2026" included."""
    found: list[tuple[str, int, int]] = []
    taken: list[range] = []
    for pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() in r for r in taken):
                continue
            parts = m.groupdict()
            try:
                if parts.get("yc"):
                    y = int("".join(str(_CN_DIGITS[c]) for c in parts["yc"]))
                    month, day = _cn_number(parts["mc"]), _cn_number(parts["dc"])
                elif parts.get("mon"):
                    y, month, day = int(parts["y"]), _MONTHS[parts["mon"][:3].lower()], int(parts["d"])
                else:
                    y, month, day = int(parts["y"]), int(parts["m"]), int(parts["d"])
                    if parts["sep"] == "." and text[m.end("d"):m.end("d") + 2].lstrip(".")[:1].isdigit():
                        continue
                iso = date(y, month, day).isoformat()
            except (ValueError, KeyError):
                continue
            found.append((iso, m.start(), m.end()))
            taken.append(range(m.start(), m.end()))
    return sorted(found, key=lambda f: f[1])


def _cn_number(text: str) -> int:
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[text]


def extract_fields(lines: list[tuple[str, float]] | str) -> dict[str, Found]:
    """The letter's fields: name, phone (+ phones), email, address, letter_date, event_date, order_numbers,
    account_numbers. `lines` are (text, OCR confidence) pairs in reading order, or plain text (confidence 1)."""
    if isinstance(lines, str):
        lines = [(line, 1.0) for line in lines.splitlines()]
    doc = _Text(lines)
    out: dict[str, Found] = {}
    for key, found in (("name", _name(doc)), ("phone", None), ("email", _email(doc)), ("address", _address(doc))):
        if found is not None:
            out[key] = found
    phones = _phones(doc)
    if phones:
        out["phone"] = phones[0]
        out["phones"] = Found([p.value for p in phones], min(p.confidence for p in phones), phones[0].how)
    letter_date, event_date = _dates(doc)
    if letter_date:
        out["letter_date"] = letter_date
    if event_date:
        out["event_date"] = event_date
    for key, pattern in (("order_numbers", _ORDER_LABEL), ("account_numbers", _ACCOUNT_LABEL)):
        found_numbers = _numbers(doc, pattern, bare=key == "order_numbers")
        if found_numbers:
            out[key] = found_numbers
    return out


def _name(doc: _Text) -> Found | None:
    text = doc.text
    for m in _NAME_LABEL.finditer(text):
        name = _clean_name(m.group("v"))
        if name:
            return Found(name, 0.97 * doc.ocr(m.start(), m.end()), "label")
    lines = [t.strip() for t, _ in doc.lines]
    for i, line in enumerate(lines):
        if not _CLOSING.match(line):
            continue
        for j in range(i + 1, min(i + 4, len(lines))):
            candidate = lines[j]
            if not candidate or _CLOSING.match(candidate):
                continue
            candidate = re.split(r"\s{2,}|\s*(?:19|20)\d\d\s*[年\-/.]|\s+\d", candidate)[0].strip()
            name = _clean_name(candidate, whole=True)
            if name:
                return Found(name, 0.9 * doc.lines[j][1], "signature")
            break
    name = contacts.find_name(text)
    if name:
        at = text.find(name)
        return Found(name, 0.7 * (doc.ocr(at, at + len(name)) if at >= 0 else 1.0), "text")
    return None


def _clean_name(value: str, *, whole: bool = False) -> str | None:
    value = value.strip(" ：:,，。.")
    value = re.split(r"\s{2,}|[，,。;；(（]|\s*(?:电话|手机|联系|日期|地址|Tel|Phone|Date)", value)[0].strip()
    cn = _CN_NAME.fullmatch(value) if whole else _CN_NAME.match(value)
    if cn and value[: cn.end()] not in {"投诉人", "本人", "客户", "先生", "女士"}:
        return cn.group(0)
    en = _EN_NAME.fullmatch(value) if whole else _EN_NAME.match(value)
    if en and len(en.group(0)) >= 3:
        return en.group(0).strip()
    return None


def _phones(doc: _Text) -> list[Found]:
    found: dict[str, Found] = {}
    for m in _PHONE_LABEL.finditer(doc.text):
        for phone in contacts.find_phones(m.group("v").translate(_PHONE_FIX)):
            found.setdefault(phone, Found(phone, 0.97 * doc.ocr(m.start(), m.end()), "label"))
    for phone in contacts.find_phones(doc.text):
        digits = phone[3:] if phone.startswith("+86") else phone
        at = max(doc.text.find(digits[-4:]), 0)
        found.setdefault(phone, Found(phone, 0.8 * doc.ocr(at, at + 4), "text"))
    return list(found.values())


def _email(doc: _Text) -> Found | None:
    emails = contacts.find_emails(doc.text)
    if not emails:
        return None
    at = doc.text.lower().find(emails[0])
    return Found(emails[0], 0.95 * doc.ocr(at, at + len(emails[0])), "text")


def _address(doc: _Text) -> Found | None:
    address = contacts.find_address(doc.text)
    if not address:
        return None
    at = doc.text.find(address[:12])
    labelled = at > 0 and re.search(r"(?:地址|住址|Address)\s*[:：]?\s*$", doc.text[max(0, at - 12):at], re.I)
    conf = doc.ocr(at, at + len(address)) if at >= 0 else 1.0
    return Found(address, (0.92 if labelled else 0.7) * conf, "label" if labelled else "text")


def _dates(doc: _Text) -> tuple[Found | None, Found | None]:
    """The letter's own date (labelled, or alone on a line by the signature or at the top) and the date of
    what happened (labelled, or the first other date, surer when the sentence leads up to it)."""
    text = doc.text
    dates = find_dates(text)
    if not dates:
        return None, None
    total_lines = len(doc.lines)
    closing_at = next((i for i, (t, _) in enumerate(doc.lines) if _CLOSING.match(t.strip())), None)
    letter: Found | None = None
    letter_at = -1
    for iso, start, end in dates:
        before = text[text.rfind("\n", 0, start) + 1:start]
        line_end = text.find("\n", end)
        rest = text[end:line_end if line_end >= 0 else len(text)].strip()
        line_no = doc.line_at(start)
        alone = not rest and (not before.strip() or _LETTER_DATE_LABEL.search(before)
                              or _clean_name(before.strip(), whole=True))
        conf = doc.ocr(start, end)
        if _LETTER_DATE_LABEL.search(before):
            letter, letter_at = Found(iso, 0.97 * conf, "label"), start
            break
        if alone and (line_no >= total_lines - 4 or (closing_at is not None and line_no > closing_at)):
            letter, letter_at = Found(iso, 0.93 * conf, "signature"), start
        elif alone and line_no <= 2 and letter is None:
            letter, letter_at = Found(iso, 0.85 * conf, "heading"), start
    event: Found | None = None
    for iso, start, end in dates:
        if start == letter_at:
            continue
        before = text[text.rfind("\n", 0, start) + 1:start]
        conf = doc.ocr(start, end)
        if _EVENT_LABEL.search(before):
            event = Found(iso, 0.95 * conf, "label")
            break
        if event is None:
            how = "context" if _EVENT_CONTEXT.search(before) else "text"
            event = Found(iso, (0.85 if how == "context" else 0.6) * conf, how)
    return letter, event


def _numbers(doc: _Text, pattern: re.Pattern[str], *, bare: bool) -> Found | None:
    values: dict[str, float] = {}
    for m in pattern.finditer(doc.text):
        value = m.group("v").strip("-").upper()
        wrapped = _CONTINUED.match(doc.text, m.end())  # a long number broken over two lines
        if wrapped:
            value += wrapped.group(1).upper()
        if sum(c.isdigit() for c in value) >= 4:
            values.setdefault(value, 0.95 * doc.ocr(m.start(), m.end()))
    how = "label"
    if bare and not values:
        for m in _BARE_ORDER.finditer(doc.text):
            values.setdefault(m.group("v"), 0.6 * doc.ocr(m.start(), m.end()))
            how = "text"
    if not values:
        return None
    return Found(list(values), min(values.values()), how)


# -- the letter as a case ------------------------------------------------------------------------------------

def letter_lines(ocr: dict[str, Any]) -> list[tuple[str, float]]:
    """All pages' lines in order, (text, confidence); a text-layer page counts as fully confident."""
    out: list[tuple[str, float]] = []
    for page in ocr.get("pages", []):
        if page.get("error"):
            continue
        if page.get("lines"):
            out.extend((str(t), float(c)) for t, c in page["lines"])
        else:
            out.extend((line, float(page.get("confidence", 1.0))) for line in str(page.get("text", "")).splitlines())
    return out


def letter_confidence(ocr: dict[str, Any]) -> float:
    """The document's OCR confidence: the least confident page that was read (0 when none was)."""
    pages = [p for p in ocr.get("pages", []) if not p.get("error") and p.get("text")]
    return min((float(p.get("confidence", 0)) for p in pages), default=0.0)


def review_reasons(ocr: dict[str, Any], fields: dict[str, Found], threshold: float) -> list[str]:
    """Why a person should check this letter; empty when nothing is doubtful."""
    reasons = []
    for page in ocr.get("pages", []):
        if page.get("error"):
            reasons.append(f"page {page['n']} not read: {page['error']}")
        elif float(page.get("confidence", 0)) < threshold:
            reasons.append(f"page {page['n']}: OCR confidence {float(page['confidence']):.2f} below {threshold:.2f}")
    if ocr.get("page_count", 0) > ocr.get("pages_to_read", 0):
        reasons.append(f"only {ocr['pages_to_read']} of {ocr['page_count']} pages read (page limit)")
    for key in ("name", "phone", "letter_date"):
        if key not in fields:
            reasons.append(f"no {key.replace('_', ' ')} found")
        elif fields[key].confidence < threshold:
            reasons.append(f"{key.replace('_', ' ')} uncertain ({fields[key].confidence:.2f})")
    return reasons


def case_extras(ocr: dict[str, Any], threshold: float) -> tuple[dict[str, Any], list[str]]:
    """What the case records beyond the complainant: Case.fields["letter"] and the flags (written, needs_review)."""
    fields = extract_fields(letter_lines(ocr))
    reasons = review_reasons(ocr, fields, threshold)
    pages = [{k: p.get(k) for k in ("n", "method", "confidence", "rotation", "skew", "seconds", "error", "notes")
              if p.get(k) not in (None, [])} for p in ocr.get("pages", [])]
    letter = {
        "fields": {k: f.as_dict() for k, f in fields.items()},
        "ocr": {"engine": ocr.get("engine"), "kind": ocr.get("kind"), "page_count": ocr.get("page_count"),
                "pages_read": ocr.get("pages_to_read"), "confidence": round(letter_confidence(ocr), 4),
                "threshold": threshold, "pages": pages},
        "review": reasons,
    }
    if ocr.get("page_count", 0) > ocr.get("pages_to_read", 0):
        letter["ocr"]["pages_not_read"] = f"{ocr['pages_to_read'] + 1}-{ocr['page_count']}"
    flags = ["written"] + (["needs_review"] if reasons else [])
    return {"letter": letter}, flags


def _is_cjk(text: str) -> bool:
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    letters = sum(1 for c in text if c.isalpha())
    return bool(letters) and cjk / letters > 0.1


def _subject(lines: list[str]) -> str:
    for line in lines[:3]:
        line = line.strip()
        if not line or _SALUTATION.match(line) or find_dates(line) or line.endswith((":", "：")):
            continue
        limit = 40 if _is_cjk(line) else 90
        if 4 <= len(line) <= limit and not re.search(r"[。.;；]$", line):
            return line
        break
    return WRITTEN_SUBJECT


def parse_letter(data: bytes, ocr: dict[str, Any], *, filename: str = "letter",
                 threshold: float | None = None) -> ParsedEmail:
    """A scanned letter as the pipeline's parsed message. Raises `UnparseableInput` when the scan could not
    be read or no text came out of it."""
    if ocr.get("error"):
        raise UnparseableInput(ocr["error"])
    lines = letter_lines(ocr)
    if not any(t.strip() for t, _ in lines):
        errors = [f"page {p['n']}: {p['error']}" for p in ocr.get("pages", []) if p.get("error")]
        raise UnparseableInput("no text found in the scan" + (f" ({'; '.join(errors)})" if errors else ""))
    threshold = float(ocr.get("threshold", 0.85)) if threshold is None else threshold
    pages = [p for p in ocr.get("pages", []) if not p.get("error")]
    description = "\n\n".join(str(p.get("text", "")).strip() for p in pages)
    if len(pages) > 1:
        body = "\n\n".join(f"[第{p['n']}页 / page {p['n']}]\n{str(p.get('text', '')).strip()}" for p in pages)
    else:
        body = description
    fields = extract_fields(lines)
    sure = {k: f for k, f in fields.items() if f.confidence >= threshold}  # doubtful ones stay in Case.fields only
    who = Complainant(name=sure["name"].value if "name" in sure else None,
                      email=sure["email"].value if "email" in sure else None,
                      phones=list(sure["phones"].value) if "phones" in sure and "phone" in sure else [],
                      address=sure["address"].value if "address" in sure else None)
    kind = str(ocr.get("kind", ""))
    return ParsedEmail(
        message_id=None, in_reply_to=None, references=[],
        subject=_subject([t for t, _ in lines]),
        from_name=who.name, from_addr=who.email, to=[], cc=[], date=None,
        body_text=body, description=description,
        language="zh" if _is_cjk(description) else "en",
        complainant=who,
        attachments=[ParsedAttachment(filename=filename, data=data,
                                      content_type=CONTENT_TYPES.get(kind, "application/octet-stream"))],
        headers={"x-letter-file": filename},
        defects=review_reasons(ocr, fields, threshold),
    )
