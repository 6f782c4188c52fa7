"""IMAP mailboxes in `ingestd.toml` (`[[mailboxes]]`).

```toml
[[mailboxes]]
name = "desk"
host = "imap.example.com"           # port: 993 for tls, 143 for starttls/plain
tls = "tls"                         # tls (implicit), starttls, or plain (loopback only)
username = "complaints@example.com"
password = { env = "DESK_IMAP_PASSWORD" }     # or { file = "..." }
# oauth2_token = { command = "oauth2-token-helper desk" }   # XOAUTH2 (Microsoft 365, Gmail) instead
folders = ["INBOX"]
after = "move"                      # seen | move | delete, once the case is committed
move_to = "Processed"
```
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ingestd.config.model_base import Secret, Strict


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Mailbox(Strict):
    name: str = Field(min_length=1, pattern=r"^[^\s/:]+$")  # in source ids (`imap:NAME/FOLDER`) and `imap://NAME`
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)  # default: 993 for tls, 143 otherwise
    tls: Literal["tls", "starttls", "plain"] = "tls"
    ca_file: Path | None = None  # trust this CA (a private server's self-signed certificate)
    tls_verify: bool = True  # false: encrypt but do not check the certificate (never for a public server)
    username: str
    password: Secret | None = None
    oauth2_token: Secret | None = None  # XOAUTH2 bearer token (Microsoft 365, Gmail), fetched at each login
    folders: list[str] = Field(default_factory=lambda: ["INBOX"], min_length=1)
    after: Literal["seen", "move", "delete"] = "move"
    move_to: str = "Processed"
    poll_seconds: float = Field(default=60.0, gt=0)
    idle: bool = True  # use IDLE where the server offers it (polling stays on as a safety net)
    batch_size: int = Field(default=200, ge=1, le=5000)  # messages per UID FETCH
    timeout_seconds: float = Field(default=60.0, gt=0)
    login_backoff_seconds: float = Field(default=300.0, gt=0)  # wait after a refused login before trying again

    @model_validator(mode="after")
    def _consistent(self) -> Mailbox:
        if (self.password is None) == (self.oauth2_token is None):
            raise ValueError("give exactly one of password or oauth2_token")
        if self.tls == "plain" and not is_loopback(self.host):
            raise ValueError(f"tls = \"plain\" sends the password in clear: only for a loopback host, not {self.host}")
        if len(set(self.folders)) != len(self.folders):
            raise ValueError("folders must not repeat")
        if self.after == "move" and self.move_to in self.folders:
            raise ValueError(f"move_to {self.move_to!r} is also a watched folder")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "tls" else 143)

    def source_id(self, folder: str) -> str:
        return f"imap:{self.name}/{folder}"
