"""IMAP mailboxes in `ingestd.toml` (`[[mailboxes]]`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ingestd.config.model_base import Secret, Strict


class Mailbox(Strict):
    name: str
    host: str
    port: int | None = None  # default: 993 for tls, 143 otherwise
    tls: Literal["tls", "starttls", "plain"] = "tls"
    username: str
    password: Secret | None = None
    oauth2_token: Secret | None = None  # XOAUTH2 bearer token (Microsoft 365, Gmail)
    folders: list[str] = Field(default_factory=lambda: ["INBOX"])
    after: Literal["seen", "move", "delete"] = "move"
    move_to: str = "Processed"
    poll_seconds: float = Field(default=60.0, gt=0)
    idle: bool = True
    batch_size: int = Field(default=200, ge=1, le=5000)
    timeout_seconds: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _one_credential(self) -> Mailbox:
        if (self.password is None) == (self.oauth2_token is None):
            raise ValueError("give exactly one of password or oauth2_token")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "tls" else 143)
