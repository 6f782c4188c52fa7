"""Building routers and inputs for routing tests, without a database."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ingestd.pipeline.items import Parsed, RawInput
from ingestd.routing.engine import Router
from ingestd.routing.model import RoutingFile
from parsers.model import Complainant, ParsedAttachment, ParsedEmail


def router(toml: str) -> Router:
    return Router(RoutingFile.model_validate(tomllib.loads(toml)))


def parsed(subject: str = "", text: str = "", *, sender: str = "someone@example.com", mailbox: str | None = None,
           channel: str = "email", attachments: tuple[str, ...] = (), repeat: bool = False) -> Parsed:
    email = ParsedEmail(message_id=None, in_reply_to=None, references=[], subject=subject, from_name=None,
                        from_addr=sender, to=[], cc=[], date=None, body_text=text, description=text, language="zh",
                        complainant=Complainant(email=sender),
                        attachments=[ParsedAttachment(filename=n, content_type="application/pdf", data=b"")
                                     for n in attachments])
    raw = RawInput(data=b"x", source=f"imap:{mailbox}/INBOX" if mailbox else "test", mailbox=mailbox,
                   channel=channel)  # type: ignore[arg-type]
    return Parsed(raw=raw, email=email, repeat_complainant=repeat)


SHIPPED = Path(__file__).resolve().parents[2] / "config" / "routing.toml"
