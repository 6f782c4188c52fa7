"""Outbound mail in `ingestd.toml` (`[outbound]`): SMTP, senders, limits, letterhead, templates.

```toml
[outbound]
default_from = "complaints@example.com"
from_addresses = { desk = "complaints@example.com" }   # mailbox name -> From of the mail about its cases
ack_limit_per_sender_per_day = 3
answer_within_days = 2                                  # working days (Mon-Fri) promised in the acknowledgement

[outbound.smtp]                     # leave the table out: mail is written as .eml files under outbox_dir
host = "smtp.example.com"           # port: 465 for tls, 587 for starttls, 25 for plain
tls = "starttls"                    # tls (implicit), starttls, or plain (loopback only)
username = "complaints@example.com"
password = { env = "SMTP_PASSWORD" }

[outbound.departments]              # fallback department inboxes (routing.toml's departments come first)
logistics = "logistics@example.com"

[outbound.letterhead]
org_name = "..."
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Protocol

from pydantic import Field, field_validator, model_validator

from ingestd.config.mailbox import is_loopback
from ingestd.config.model_base import Secret, Strict

_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def check_address(value: str) -> str:
    """A bare address (no display name), safe for an SMTP envelope and a header: no spaces, no CR/LF.
    `fullmatch`, not `match`: the pattern's `$` would also match before a trailing newline."""
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"not a plain e-mail address: {value!r}")
    return value.lower()


class SmtpConfig(Strict):
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)  # default: 465 for tls, 587 for starttls, 25 for plain
    tls: Literal["tls", "starttls", "plain"] = "starttls"
    ca_file: Path | None = None  # trust this CA (a private relay's self-signed certificate)
    tls_verify: bool = True
    username: str | None = None
    password: Secret | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    local_hostname: str | None = None  # the name given in EHLO (default: this host's FQDN)

    @model_validator(mode="after")
    def _consistent(self) -> SmtpConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        if self.tls == "plain" and self.password is not None and not is_loopback(self.host):
            raise ValueError(f"tls = \"plain\" would send the password in clear: only for a loopback host, "
                             f"not {self.host}")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"tls": 465, "starttls": 587, "plain": 25}[self.tls]


class LetterheadConfig(Strict):
    """What heads a formal reply (email signature and printed letter), in both languages."""

    org_name: str = "华东消费者投诉受理中心"
    org_name_en: str = "East China Consumer Complaints Office"
    address: str = "上海市黄浦区示例路 100 号"
    address_en: str = "100 Example Road, Huangpu, Shanghai"
    phone: str = "021-12345678"
    email: str = "complaints@ingestd.example"
    website: str = ""
    signatory: str = "投诉受理中心"
    signatory_en: str = "Complaints Office"


class OutboundConfig(Strict):
    enabled: bool = True  # false: nothing is queued (no acknowledgements, no notifications)
    acknowledge: bool = True  # acknowledge each new case to the complainant
    notify_departments: bool = True  # send each routed case to its department's inbox
    smtp: SmtpConfig | None = None  # none: outgoing mail is written as .eml files under outbox_dir
    default_from: str = "complaints@ingestd.example"
    from_name: str = ""  # display name on outgoing mail (default: letterhead org name in the case's language)
    from_addresses: dict[str, str] = Field(default_factory=dict)  # mailbox name -> From for its cases
    own_addresses: list[str] = Field(default_factory=list)  # more addresses that are ours (never acknowledged)
    message_id_domain: str | None = None  # right-hand side of our Message-IDs (default: default_from's domain)
    outbox_dir: Path | None = None  # .eml files when no SMTP is configured; default: {store.data_dir}/outbox
    letters_dir: Path | None = None  # printable PDF letters; default: {store.data_dir}/letters
    templates_dir: Path = Path("config/templates")  # {zh,en}/*.txt|*.html, Jinja2 (sandboxed)
    ack_limit_per_sender_per_day: int = Field(default=3, ge=0)  # acknowledgements per address per local day
    ack_max_age_days: int | None = Field(default=30, ge=0)  # older messages (archive imports): no acknowledgement
    answer_within_days: int = Field(default=2, ge=0, le=365)  # working days until the promised answer
    notify_language: Literal["zh", "en"] = "zh"  # language of department notifications
    notify_attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=0)  # larger: a note instead
    departments: dict[str, str] = Field(default_factory=dict)  # department key -> inbox (fallback table)
    supervisors: dict[str, str] = Field(default_factory=dict)  # department key -> supervisor (fallback)
    send_interval_seconds: float = Field(default=10.0, gt=0)  # how often `run` drains the outbox
    batch_size: int = Field(default=50, ge=1, le=1000)  # rows claimed per drain round
    max_attempts: int = Field(default=10, ge=1)  # temporary failures before a message is given up (failed)
    retry_base_seconds: float = Field(default=60.0, gt=0)  # first retry after this; doubles each time
    retry_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    claim_timeout_seconds: float = Field(default=600.0, gt=0)  # a "sending" row older than this is retried
    letterhead: LetterheadConfig = LetterheadConfig()

    @field_validator("default_from")
    @classmethod
    def _from_ok(cls, value: str) -> str:
        return check_address(value)

    @field_validator("own_addresses")
    @classmethod
    def _own_ok(cls, value: list[str]) -> list[str]:
        return [check_address(v) for v in value]

    @field_validator("from_addresses", "departments", "supervisors")
    @classmethod
    def _addresses_ok(cls, value: dict[str, str]) -> dict[str, str]:
        return {k: check_address(v) for k, v in value.items()}

    @field_validator("from_name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        if any(c in value for c in "\r\n"):
            raise ValueError("from_name must be one line")
        return value

    @property
    def id_domain(self) -> str:
        return self.message_id_domain or self.default_from.rsplit("@", 1)[1]

    def from_for(self, mailbox: str | None) -> str:
        return self.from_addresses.get(mailbox or "", self.default_from)

    @property
    def ours(self) -> frozenset[str]:
        """Every address ingestd sends from: mail from these is our own."""
        return frozenset({self.default_from, *self.from_addresses.values(), *self.own_addresses})

    def department_addresses(self, key: str) -> tuple[str, str | None] | None:
        """The fallback table: (inbox, supervisor) of a department, or None when it has no inbox here."""
        inbox = self.departments.get(key)
        return (inbox, self.supervisors.get(key)) if inbox else None

    def resolved_outbox_dir(self, data_dir: Path) -> Path:
        return self.outbox_dir or data_dir / "outbox"

    def resolved_letters_dir(self, data_dir: Path) -> Path:
        return self.letters_dir or data_dir / "letters"


class DepartmentDirectory(Protocol):
    """Where a department is reached: `(inbox, supervisor)`, or None when it has no inbox.

    `OutboundConfig.department_addresses` is the fallback; the routing file's departments can be put
    in front of it (see `outbound.service.chain_directories`)."""

    def __call__(self, key: str) -> tuple[str, str | None] | None: ...
