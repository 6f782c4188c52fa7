"""Loop and backscatter protection (RFC 3834): may an automatic message go back to this sender?

Pure functions over the parsed message's headers: no I/O. The per-sender daily limit needs the
register, so the caller counts and passes the number in.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from parsers.model import ParsedEmail

OWN_HEADERS = ("x-ingestd-case", "x-ingestd-kind")  # set on everything any ingestd sends
SYSTEM_LOCALPARTS = frozenset({
    "mailer-daemon", "postmaster", "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
    "bounce", "bounces", "listserv", "majordomo", "mailer", "daemon", "nobody",
})
_SUPPRESS_TOKENS = frozenset({"all", "autoreply", "oof"})  # X-Auto-Response-Suppress values that mean "no replies"
_AUTH_FAIL = re.compile(r"\b(dmarc|spf)\s*=\s*fail\b", re.I)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str = ""
    auth_failed: bool = False  # the case should be flagged `auth_failed`

    def __bool__(self) -> bool:
        return self.ok


def is_system_sender(address: str | None) -> bool:
    if not address or "@" not in address:
        return False
    local = address.rsplit("@", 1)[0].lower()
    return local in SYSTEM_LOCALPARTS or local.startswith(("bounce+", "bounces+", "bounce-", "noreply+", "no-reply+"))


def is_own_mail(email: ParsedEmail, own_addresses: Collection[str]) -> str | None:
    """Why this message is mail sent by ingestd (this instance or another), or None."""
    headers = email.headers
    loop = headers.get("x-loop", "").lower()
    if loop and any(addr in loop for addr in own_addresses):
        return "our own mail (X-Loop)"
    for name in OWN_HEADERS:
        if name in headers:
            return f"ingestd mail ({name})"
    if email.from_addr and email.from_addr.lower() in own_addresses:
        return f"sent from our own address {email.from_addr}"
    return None


def machine_reason(email: ParsedEmail, own_addresses: Collection[str]) -> str | None:
    """Why this message was written by a machine rather than a person (RFC 3834 section 2), or None."""
    headers = email.headers
    if email.is_bounce:
        return "delivery status report (bounce)"
    own = is_own_mail(email, own_addresses)
    if own:
        return own
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto.split(';')[0].strip()}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    if "list-id" in headers:
        return "mailing list (List-Id)"
    if "return-path" in headers and headers["return-path"].strip().strip("<>").strip() == "":
        return "empty Return-Path (<>)"
    for who in (email.from_addr, _bare(headers.get("return-path", ""))):
        if is_system_sender(who):
            return f"system sender {who}"
    suppress = headers.get("x-auto-response-suppress")
    if suppress is not None:
        tokens = {t.strip().lower() for t in re.split(r"[,\s]+", suppress) if t.strip()}
        if not tokens or tokens & _SUPPRESS_TOKENS:
            return f"X-Auto-Response-Suppress: {suppress.strip()}"
    return None


def auth_failure(email: ParsedEmail) -> str | None:
    """The failed check named by the (topmost) Authentication-Results header, e.g. "dmarc=fail"."""
    results = email.headers.get("authentication-results", "")
    match = _AUTH_FAIL.search(results)
    return f"{match.group(1).lower()}=fail" if match else None


def ack_decision(email: ParsedEmail, to_addr: str | None, *, own_addresses: Collection[str],
                 sent_today: int = 0, daily_limit: int | None = None, now: datetime | None = None,
                 max_age_days: int | None = None) -> Verdict:
    """May ingestd acknowledge this message to `to_addr`? (ack, reason). `max_age_days`: a message dated
    longer ago than this (an archive being imported) is not acknowledged now."""
    if not to_addr:
        return Verdict(False, "no e-mail address to acknowledge to")
    machine = machine_reason(email, own_addresses)
    if machine:
        return Verdict(False, machine)
    if to_addr.lower() in own_addresses:
        return Verdict(False, f"the complainant address {to_addr} is our own")
    if is_system_sender(to_addr):
        return Verdict(False, f"system address {to_addr}")
    failed = auth_failure(email)
    if failed:
        return Verdict(False, f"sender authentication failed ({failed})", auth_failed=True)
    if now is not None and max_age_days is not None and email.date is not None \
            and email.date < now - timedelta(days=max_age_days):
        return Verdict(False, f"dated {email.date:%Y-%m-%d}, more than {max_age_days} days ago (an import)")
    if daily_limit is not None and sent_today >= daily_limit:
        return Verdict(False, f"daily limit: {sent_today} acknowledgement(s) to this address today")
    return Verdict(True)


def notify_decision(email: ParsedEmail, *, own_addresses: Collection[str]) -> Verdict:
    """May a new case opened by this message be sent to its department? Not when a machine wrote it: two
    systems that notify each other's intake addresses would otherwise ping-pong for ever."""
    machine = machine_reason(email, own_addresses)
    return Verdict(False, machine) if machine else Verdict(True)


def _bare(value: str) -> str | None:
    value = value.strip()
    match = re.search(r"<([^<>]*)>", value)
    addr = (match.group(1) if match else value).strip().lower()
    return addr or None
