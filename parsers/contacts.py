"""Who complained and how to reach them: name, email, phone numbers, postal address from free text.

Pure functions over text, shared by email parsing and scanned letters. Phone numbers are found with
Google's libphonenumber (the `phonenumbers` package) with China as the default region, so mainland
mobiles, landlines with area codes and international numbers all come out in E.164.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

from parsers.model import Complainant

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
_DIGITS7 = re.compile(r"\d[\d\s\-()（）]{5,}\d")
_CN_NAME = r"[\u4e00-\u9fff][\u4e00-\u9fff·]{1,5}"
_EN_NAME = r"[A-Z][a-zA-Z'\-]+(?:\s+[A-Z][a-zA-Z'\-.]+){0,3}"
_LABELLED_NAME = re.compile(
    rf"(?:姓\s*名|投诉人|投訴人|联系人|聯繫人|申请人|客户姓名|客戶姓名|署名|本人)\s*[:：]?\s*({_CN_NAME}|{_EN_NAME})"
    rf"|\b(?:Name|Complainant|Customer name|Full name)\s*[:：]\s*({_EN_NAME}|{_CN_NAME})"
    rf"|\bMy name is\s+({_EN_NAME})"
    rf"|我(?:是|叫)({_CN_NAME}?)(?=[，,。\s]|$)"
)
_CLOSINGS = re.compile(
    r"^\s*(Yours sincerely|Yours faithfully|Sincerely|Regards|Best regards|Kind regards|Best wishes|Thanks|"
    r"Thank you|Respectfully|Cheers)[,，.!]?\s*$",
    re.I,
)
_SALUTE_ZH = re.compile(r"^\s*(此致|敬礼|敬禮|此致敬礼|谢谢|謝謝|顺祝商祺)[!！。,，]?\s*$")
_ADDRESS_LABEL = re.compile(r"(?:通讯地址|通訊地址|联系地址|聯繫地址|家庭住址|收货地址|收貨地址|住址|地址|Address)\s*[:：]\s*(.+)", re.I)
_CN_ADDRESS = re.compile(
    r"[\u4e00-\u9fff]{2,8}(?:省|市|自治区)[\u4e00-\u9fff0-9]{0,12}(?:市|区|县|區|縣|州)?[\u4e00-\u9fff0-9A-Za-z\-]{0,30}"
    r"(?:路|街|道|巷|弄|大道|胡同)[0-9０-９\-]+(?:号|號)[^\n，。,；;]{0,30}"
)
_NOT_NAMES = {"客户", "客服", "您好", "你好", "先生", "女士", "用户", "本人", "匿名", "投诉", "尊敬的", "谢谢", "此致",
              "敬礼", "Customer", "Service", "Team", "Support", "Admin", "Info", "Sales"}
_STOP_AFTER_NAME = re.compile(r"(电话|手机|联系|邮箱|地址|身份证|订单|先生|女士|小姐)")


def find_emails(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for match in _EMAIL.finditer(text):
        seen.setdefault(match.group(0).lower().strip("."), None)
    return list(seen)


def find_phones(text: str, region: str = "CN") -> list[str]:
    """Phone numbers in E.164 (+8613800138000), in order of appearance, without order numbers or dates."""
    if not _DIGITS7.search(text):
        return []
    found: dict[str, None] = {}
    try:
        for match in PhoneNumberMatcher(_GLUED_DIGITS.sub(_blank, text), region, leniency=Leniency.VALID,
                                        max_tries=200):
            if _inside_longer_number(text, match.start, match.end):
                continue
            found.setdefault(phonenumbers.format_number(match.number, PhoneNumberFormat.E164), None)
    except Exception:  # libphonenumber on pathological input: better no phone than no case
        return list(found)
    return list(found)


_GLUED_DIGITS = re.compile(r"(?<=[A-Za-z])[0-9]+|[0-9]+(?=[A-Za-z])")


def _blank(match: re.Match[str]) -> str:
    """Digits glued to Latin letters (SF1234567890, JD12345678) are order and account numbers, which
    `_inside_longer_number` turns away anyway: blanked, libphonenumber does not parse and verify each first
    (a fifth of `find_phones` on complaints that cite orders). The same length, so positions match `text`."""
    return " " * len(match.group(0))


_DATE_START = re.compile(r"(19|20)\d\d\s*[-/.年]\s*\d{1,2}\s*[-/.月]")


def _inside_longer_number(text: str, start: int, end: int) -> bool:
    """Order numbers (HD-2026-10-0412, SF1234567890), dates and account numbers are not phones."""
    before = text[max(0, start - 2):start]
    after = text[end] if end < len(text) else ""
    if (before[-1:].isascii() and before[-1:].isalnum()) or (after.isascii() and after.isalnum()):
        return True
    if before[-1:] in "-_/#" and before[:1].isascii() and before[:1].isalnum():
        return True
    return bool(_DATE_START.match(text, start))


def find_name(text: str) -> str | None:
    """A name given in the text: a label (姓名：), "My name is", or the line under a closing/此致敬礼."""
    for match in _LABELLED_NAME.finditer(text):
        name = next(g for g in match.groups() if g)
        name = _trim_name(name)
        if name:
            return name
    return _closing_name(text)


def _trim_name(name: str) -> str | None:
    name = name.strip(" ：:,，。")
    cut = _STOP_AFTER_NAME.search(name)
    if cut:
        name = name[: cut.start()]
    if re.fullmatch(_CN_NAME, name):
        name = name[:4]
    if len(name) < 2 or name in _NOT_NAMES or any(bad in name for bad in ("投诉", "客服", "公司")):
        return None
    return name


def _closing_name(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        if _CLOSINGS.match(line) or _SALUTE_ZH.match(line):
            for candidate in lines[i + 1:i + 4]:
                if not candidate or _SALUTE_ZH.match(candidate):
                    continue
                candidate = re.split(r"\s{2,}|\s*\d{4}\s*年|\s+\d", candidate)[0].strip()
                if (re.fullmatch(_CN_NAME, candidate) and len(candidate) <= 4) or re.fullmatch(_EN_NAME, candidate):
                    name = _trim_name(candidate)
                    if name:
                        return name
                break
    return None


def find_address(text: str) -> str | None:
    for match in _ADDRESS_LABEL.finditer(text):
        value = match.group(1).strip()
        value = re.split(r"\s{2,}|[；;]|(?:电话|手机|邮箱|Tel|Phone|Email)\s*[:：]", value)[0].strip(" ,，。")
        if len(value) >= 6:
            return value[:200]
    match = _CN_ADDRESS.search(text)
    if not match:
        return None
    value = re.sub(r"^.*?(?:住在|家住|位于|地址是|地址为|寄到|送到)(?=[\u4e00-\u9fff]{2,8}(?:省|市|自治区))", "",
                   match.group(0))
    return value.strip()[:200]


def extract_contacts(text: str, *, name: str | None = None, email: str | None = None) -> Complainant:
    """Everything the text says about its writer; `name`/`email` (e.g. from headers) are used when the
    text gives none of its own."""
    text_name = find_name(text)
    emails = find_emails(text)
    return Complainant(
        name=text_name or clean_display_name(name),
        email=(email or (emails[0] if emails else None)),
        phones=find_phones(text),
        address=find_address(text),
    )


def clean_display_name(name: str | None) -> str | None:
    """A From display name that is a person's name, not an address, a role or a company desk."""
    if not name:
        return None
    name = name.strip().strip("\"'").strip()
    if not name or "@" in name or name in _NOT_NAMES:
        return None
    if re.search(r"(?i)\b(no-?reply|mailer|daemon|postmaster|service|support|team|notification)\b", name):
        return None
    return name[:200]
